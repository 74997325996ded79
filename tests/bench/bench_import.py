"""Moving a blog in (issue 13): ``pressline import export.xml --local`` of a WordPress export of
N posts (1,000 by default) into an empty local stack, until every post is live; beside it, in
the same run, bench_bulk's Pressline part on N generated posts (issue 18's bulk figure).

1. Import. The export is ``tests/bench/wxrgen.py``'s (deterministic; a WXR 1.2 file as
   WordPress writes it): N posts, one a day back from March 2026, ~600 words each of
   classic-editor or block-editor HTML, a category and two tags each, links between posts by
   their old URLs, images of the old site by URL, featured images (attachments), comments with
   replies, a draft in fifty and three pages. The old site is an HTTP server this bench starts on
   127.0.0.1 (the export's ``base_site_url``): every image is really downloaded, with the
   importer's own downloader under the allow-list of the old site's host and ``allow_local``
   (``--allow-local`` on the command line), no cache. The stack is bench_bulk's (an empty local
   stack: the template's resources on the patched moto server of ``pressline.local.motoserver``
   in its own process, every function polled by the local runner in this process), with one
   confirmed subscriber (imported with ``pressline subscribers import``) and the announce window
   widened as bench_publish's ``Stack`` does: the imported posts are within it, so the only
   reason none is announced is their ``notify: false``.

   The import runs in-process, as the command does it: ``run_import`` (read, convert, then
   write) into a ``BucketDestination`` on the stack's source bucket. The clock starts before
   the export is read and stops when every imported file has its report, every public post and
   page its page, and every queue is empty (bench_bulk's ``all_live``, checked once the import
   has returned). Printed: the wall time, split into the import's own conversion (reading the WXR, HTML to Markdown,
   downloads, the pipeline's rules: until its first look at the bucket), its upload (one
   listing, then one PutObject a file, in one thread) and the pipeline after its last upload;
   CPU time (this process: the import, the functions, the runner, this bench's polling;
   moto's process; other children); the HTTP requests moto got; AWS calls per post by function
   (and the import's own calls apart); the load average with every figure; emails sent (must
   be 0). Then, outside the clock: every public post's and page's report ``published`` and
   none announced (the posts' because of ``notify: false``), every old URL answering with a
   redirect object to its new address, the pages' images served from the new site, none from
   the old one, and the links between public posts rewritten (a link to a draft stays on the
   old site: the export gives a draft no permalink to know it by); and one new post
   uploaded afterwards must send exactly one email (without it, 0 emails would prove nothing).

2. Bulk (``--no-bulk`` skips it): ``bench_bulk.py``'s Pressline part on N generated posts in a
   process of its own, and the ratios import / bulk.

No wall-time target (the machine is shared): exit 1 only on a broken result (not every item
imported or live, an email about the past, the new post's email missing, a redirect, an image
or a link missing).

Run: ``.venv/bin/python tests/bench/bench_import.py`` (``--count N``, ``--no-bulk``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "shared"))

import bench_bulk  # noqa: E402
import sitegen  # noqa: E402
import wxrgen  # noqa: E402
from bench_bulk import HttpRequests, children_cpu, load, start_moto  # noqa: E402
from bench_publish import FAKE, REGION, Meter, Stack, quiet, wait_until  # noqa: E402

READER = "reader@example.org"


# --------------------------------------------------------------------------- the old site
class OldSite:
    """The old site's uploads, on 127.0.0.1 (a port of its own), counting what it served."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.served: Counter[str] = Counter()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                data = site.files.get(self.path)
                site.served[self.path] += 1
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Type", "image/png" if data is not None else "text/plain")
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- 1. the import
def subscribe(directory: Path) -> None:
    """One confirmed subscriber, through ``pressline subscribers import`` (Pressline's own CSV,
    with a consent record), against the stack this process's environment names."""
    from pressline.ops import subscribers

    csv = directory / "subscribers.csv"
    at = "2026-01-01T00:00:00+00:00"
    csv.write_text(
        "email,status,tags,created_at,confirmed_at,consent_at,consent_how,consent_source\r\n"
        f"{READER},confirmed,,{at},{at},{at},double opt-in confirmed on the old blog,bench\r\n",
        encoding="utf-8",
    )
    parser = argparse.ArgumentParser()
    subscribers.add_arguments(parser)
    with io.StringIO() as said:
        stdout, sys.stdout = sys.stdout, said
        try:
            status = subscribers.run(parser.parse_args(["import", str(csv)]))
        finally:
            sys.stdout = stdout
        if status != 0 or "1 confirmed" not in said.getvalue():
            raise RuntimeError(f"the subscriber was not imported ({status}): {said.getvalue()}")


class Timed:
    """A ``BucketDestination`` that notes when the import first looks at the bucket (its
    conversion is over: everything is read and converted before anything is compared)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.writers = inner.writers  # the bucket's parallel puts, as `pressline import` makes them
        self.first_look: tuple[float, float] | None = None  # (perf_counter, process_time)

    def existing(self, file: Any) -> Any:
        if self.first_look is None:
            self.first_look = (time.perf_counter(), time.process_time())
        return self.inner.existing(file)

    def write(self, file: Any, import_id: str) -> None:
        self.inner.write(file, import_id)

    def finish(self) -> None:
        self.inner.finish()


def child_import(count: int) -> dict[str, Any]:
    import boto3

    from pressline.adapters.aws import reset_clients
    from pressline.importing.command import BucketDestination, CommandFetcher, file_reader, run_import, summary
    from pressline.importing.links import new_path
    from pressline.importing.media import Downloader, DownloadPolicy
    from pressline.importing.wxr import WxrSource
    from pressline.indexing import layout
    from pressline.indexing.redirects import alias_key
    from pressline.posts.paths import report_key
    from pressline.subscribers import runtime

    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    old_site = OldSite()
    export = work / "export.xml"
    generated = wxrgen.write_wxr(export, count, old_site.url)
    old_site.files.update(generated.images)
    old_site.start()
    requests = HttpRequests()
    requests.install()
    server = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    stack = Stack(server.endpoint_url)
    subscribe(work)
    runtime.reset()  # the functions make their own clients from here on (counted: after the meter's patch)
    reset_clients()
    ses = stack.clients("ses")
    emails_before = float(ses.get_send_quota()["SentLast24Hours"])
    # The import's own client, as the command makes it (its calls counted apart from the functions').
    import_s3 = boto3.session.Session(region_name=REGION).client("s3", endpoint_url=server.endpoint_url)
    import_calls: Counter[str] = Counter()

    def count_call(model: Any, **_: Any) -> None:
        import_calls[model.name] += 1

    import_s3.meta.events.register("before-call", count_call)
    meter = Meter()

    def keys(bucket: str, prefix: str) -> set[str]:
        found: set[str] = set()
        for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.update(entry["Key"] for entry in page.get("Contents", []))
        return found

    try:
        meter.wrap(stack.runner)
        meter.instrument_new_clients()
        stack.runner.start(wait_s=1)
        destination = Timed(BucketDestination(import_s3, stack.source))
        site_url = old_site.url
        policy = DownloadPolicy.for_site(site_url, allow_local=True)
        options: dict[str, Any] = {
            "fetcher": CommandFetcher(Downloader(policy, cache=None)),
            "read_file": file_reader(export),
            "timezone": UTC,
            "checked_at": datetime.now(UTC),
        }
        said = io.StringIO()
        cpu_before, children_before = time.process_time(), children_cpu()
        moto_before, requests_before = server.cpu_seconds() or 0.0, requests.count
        started = time.perf_counter()
        outcome = run_import(
            WxrSource(export), str(export), destination, options, dry_run=False, out=said,
            progress_stream=io.StringIO(), bar=False,
        )  # fmt: skip
        imported = time.perf_counter()
        written = [item for item in outcome.items if item.ok]  # posts, drafts and pages
        public = [item for item in written if not item.item.draft]
        posts = [item for item in public if item.item.kind == "post"]
        # Every file has its report (a draft's says so); every public item its page.
        wanted_reports = {report_key(item.path) for item in written}
        wanted_pages = {alias_key(new_path(item.slug, item.item.kind)) for item in public}

        def all_live() -> bool:
            return (
                stack.queues_empty()
                and wanted_reports <= keys(stack.source, "reports/")
                and wanted_pages <= keys(stack.site, "")
            )

        if not wait_until(all_live, 3600, 1.0):
            raise RuntimeError(f"{len(written)} imported items were not all live within an hour")
        live = time.perf_counter() - started
        live_load = load()
        process = time.process_time() - cpu_before
        children = children_cpu() - children_before
        moto = {"cpu": (server.cpu_seconds() or 0.0) - moto_before, "count": requests.count - requests_before}
        snapshot = meter.snapshot()
        emails = emails_sent(snapshot)
        ses_count = float(ses.get_send_quota()["SentLast24Hours"]) - emails_before
        first_look = destination.first_look or (imported, time.process_time())

        # Complete, outside the clock.
        reports = {
            item.path: json.loads(stack.s3.get_object(Bucket=stack.source, Key=report_key(item.path))["Body"].read())
            for item in written
        }
        statuses = Counter(report.get("status") for report in reports.values())
        published = sum(reports[item.path].get("status") == "published" for item in public)
        reasons = Counter(str(reports[item.path].get("announcement")) for item in posts)
        announced = sum(reports[item.path].get("announced") is True for item in public)
        site_keys = keys(stack.site, "")
        redirects_missing = [
            item.slug
            for item in posts
            for url in item.item.old_urls
            if (key := alias_key(url.removeprefix(site_url))) is not None and key not in site_keys
        ]
        sample = [item for item in posts if item.item.old_urls][:: max(1, len(posts) // 10)]
        redirects_wrong = []
        for item in sample:
            key = alias_key(item.item.old_urls[0].removeprefix(site_url)) or ""
            location = stack.s3.head_object(Bucket=stack.site, Key=key).get("WebsiteRedirectLocation")
            if location != f"/posts/{item.slug}/":
                redirects_wrong.append(f"{key} -> {location}")
        pictured = [item for item in posts if item.images]
        images_missing, hotlinked, links_found = [], 0, 0
        checked = {item.slug: item for item in posts if item.images or item.links_rewritten}  # each page once
        for item in checked.values():
            page = stack.site_text(f"posts/{item.slug}/index.html")
            hotlinked += sum(site_url in src for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', page))
            links_found += len(re.findall(r'<a href="/posts/old-post-\d+/"[^>]*>the day before</a>', page))
            for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', page) if item.images else []:
                if not src.startswith("/") or src.lstrip("/").split("?")[0] not in site_keys:
                    images_missing.append(f"{item.slug}: {src}")
        # Links between public posts are rewritten; a link to a draft stays on the old site (the
        # export gives a draft no permalink: nothing to tell it by), and the import says so.
        public_urls = {url for item in posts for url in item.item.old_urls}
        links_expected = sum(old in public_urls and target in public_urls for old, target in generated.links.items())
        newest = f"/posts/{wxrgen.slug(0)}/"
        complete = {
            "published": published,
            "public": len(public),
            "statuses": dict(statuses),
            "announced": announced,
            "reasons": dict(reasons),
            "newest_on_home": newest in stack.site_text(layout.HOME),
            "redirects_missing": redirects_missing[:5],
            "redirects_missing_count": len(redirects_missing),
            "redirects_checked": len(sample),
            "redirects_wrong": redirects_wrong[:5],
            "pictured_posts": len(pictured),
            "images_missing": images_missing[:5],
            "hotlinks": hotlinked,
            "internal_links_on_pages": links_found,
            "internal_links_expected": links_expected,
        }

        # The control: a new post afterwards emails the subscriber, once.
        fresh = sitegen.post(0, date=datetime.now(UTC) - timedelta(minutes=1), prefix="after-import")
        stack.upload(fresh)
        wait_until(lambda: emails_sent(meter.snapshot()) > emails, 120, 0.5)
        wait_until(stack.queues_empty, 60, 0.5)
        time.sleep(2)  # a second email, or a late one about the past, would come within the pipeline's latency
        control = emails_sent(meter.snapshot()) - emails
        stack.runner.stop()
    finally:
        stack.runner.stop()
        server.stop()
        old_site.stop()
    findings = [line for line in said.getvalue().splitlines() if line.strip()]
    return {
        "count": count,
        "export_bytes": generated.bytes,
        "images_in_export": len(generated.images),
        "links_in_export": len(generated.links),
        "imported_posts": sum(item.item.kind == "post" for item in written),
        "imported_drafts": sum(item.item.draft for item in written),
        "imported_pages": sum(item.item.kind == "page" for item in written),
        "posts_in_export": generated.posts + generated.drafts,
        "drafts_in_export": generated.drafts,
        "pages_in_export": generated.pages,
        "failed": outcome.failed,
        "findings": findings[:10],
        "findings_count": len(findings),
        "summary": summary(outcome, dry_run=False, source=f"wordpress {export.name}", destination=destination.name),
        "images": sum(item.images for item in written),
        "links_rewritten": sum(item.links_rewritten for item in written),
        "downloaded": outcome.downloaded,
        "served": sum(old_site.served.values()),
        "actions": dict(outcome.actions),
        "import_calls": dict(import_calls),
        "conversion_s": first_look[0] - started,
        "conversion_cpu_s": first_look[1] - cpu_before,
        "upload_s": imported - first_look[0],
        "after_upload_s": started + live - imported,
        "live_s": live,
        "live_load": live_load,
        "process_cpu_s": process,
        "children_cpu_s": children,
        "moto": moto,
        "emails": emails,
        "ses_count": ses_count,
        "control_emails": control,
        "complete": complete,
        **snapshot,
    }


# --------------------------------------------------------------------------- the report
def calls_by_function(result: dict[str, Any], count: int) -> list[str]:
    lines = []
    for name in sorted(result["calls"]):
        ops = result["calls"][name]
        top = ", ".join(f"{op} {n / count:.2f}" for op, n in Counter(ops).most_common(5))
        lines.append(
            f"     {name.removesuffix('Function'):<14} {sum(ops.values()) / count:5.2f} calls/post,"
            f" {result['invocations'].get(name, 0):>5} invocations, {result['wall'].get(name, 0):6.1f} s busy"
            f" ({result['cpu'].get(name, 0):5.1f} s CPU)  per post: {top}"
        )
    return lines


def emails_sent(snapshot: dict[str, Any]) -> int:
    """The emails the functions sent: their SES SendEmail calls (one recipient each, Deliver's)."""
    return sum(
        n for ops in snapshot["calls"].values() for op, n in ops.items() if op.startswith(("ses.Send", "sesv2.Send"))
    )


def total_calls(result: dict[str, Any]) -> int:
    return sum(sum(ops.values()) for ops in result["calls"].values())


def total_cpu(result: dict[str, Any]) -> float:
    return float(result["process_cpu_s"] + result["moto"]["cpu"] + result["children_cpu_s"])


def report(result: dict[str, Any], bulk: dict[str, Any] | None) -> list[str]:
    failures: list[str] = []
    count, posts = result["count"], result["imported_posts"]
    live, complete, moto = result["live_s"], result["complete"], result["moto"]
    per = max(posts, 1)
    print(
        f"1. pressline import export.xml --local (run_import into the source bucket, in-process): {count:,} WXR"
        f" posts ({result['drafts_in_export']} drafts) and {result['pages_in_export']} pages (tests/bench/wxrgen.py),"
        f" {result['export_bytes'] / 1e6:.1f} MB; the old site on 127.0.0.1 served"
        f" {result['served']:,} images ({result['downloaded']:,} downloaded)"
    )
    print(
        f"   imported {posts:,} posts ({result['imported_drafts']} drafts) and {result['imported_pages']} pages"
        f" ({result['failed']} failed), {result['images']:,} images beside them,"
        f" {result['links_rewritten']:,} internal links rewritten; files {result['actions']};"
        f" {result['findings_count']} problem line(s)"
    )
    for line in result["findings"][:5]:
        print(f"     {line}")
    print(
        f"   all live (every report and page, queues empty) {live:.1f} s after the import started"
        f" = {live / per * 1000:.1f} ms per post ({result['live_load']})"
    )
    print(
        f"     conversion {result['conversion_s']:.1f} s ({result['conversion_cpu_s']:.1f} s CPU in this process:"
        f" reading, HTML to Markdown, downloads, the rules; {result['conversion_s'] / per * 1000:.1f} ms a post),"
        f" upload {result['upload_s']:.1f} s (one thread; the import's own calls: "
        + ", ".join(f"{op} {n:,}" for op, n in sorted(result["import_calls"].items()))
        + f"), then the pipeline {result['after_upload_s']:.1f} s more"
    )
    cpu = total_cpu(result)
    functions_cpu = sum(result["cpu"].values())
    print(
        f"   CPU {cpu:.1f} s: this process {result['process_cpu_s']:.1f} s (the import, the function threads"
        f" {functions_cpu:.1f} s, the runner and this bench), moto's process {moto['cpu']:.1f} s"
        f" ({moto['count']:,} HTTP requests = {moto['count'] / per:.1f} a post), other children"
        f" {result['children_cpu_s']:.1f} s"
    )
    print(f"   {total_calls(result) / per:.2f} AWS calls per post (functions only); by function:")
    for line in calls_by_function(result, per):
        print(line)
    print(
        f"   emails sent: {result['emails']:.0f} (SES calls by the functions; SES's own count went up by"
        f" {result['ses_count']:.0f}; one confirmed subscriber, every post inside the announce window;"
        f" {complete['announced']} announced, the posts' reports say: {complete['reasons']}); a new post afterwards"
        f" sent {result['control_emails']:.0f}"
    )
    print(
        f"   complete: {complete['published']:,} of {complete['public']:,} public posts and pages published (reports:"
        f" {complete['statuses']}); newest on the"
        f" home page: {complete['newest_on_home']}; old URLs without their redirect object:"
        f" {complete['redirects_missing_count']} (and {len(complete['redirects_wrong'])} of"
        f" {complete['redirects_checked']} checked pointing elsewhere); {complete['pictured_posts']} pages with"
        f" images, {len(complete['images_missing'])} image(s) not served from the new site, {complete['hotlinks']}"
        f" image(s) from the old site; {complete['internal_links_on_pages']} of {complete['internal_links_expected']}"
        f" links between public posts on their pages ({result['links_in_export']} in the export)"
    )
    expected = (result["posts_in_export"], result["drafts_in_export"], result["pages_in_export"])
    if (posts, result["imported_drafts"], result["imported_pages"]) != expected or result["failed"]:
        failures.append(
            f"{posts:,} posts ({result['imported_drafts']} drafts), {result['imported_pages']} pages imported of"
            f" {expected} ({result['failed']} failed)"
        )
    if complete["published"] != complete["public"]:
        failures.append(f"{complete['published']:,} of {complete['public']:,} published: {complete['statuses']}")
    if complete["announced"]:
        failures.append(f"{complete['announced']} imported items announced")
    if result["emails"] or result["ses_count"]:
        failures.append(f"{result['emails']:.0f} email(s) about imported posts")
    if result["control_emails"] != 1:
        failures.append(f"a new post after the import sent {result['control_emails']:.0f} emails, not 1")
    if complete["redirects_missing_count"] or complete["redirects_wrong"]:
        failures.append(f"old URLs not redirected: {complete['redirects_missing']} {complete['redirects_wrong']}")
    if complete["images_missing"] or complete["hotlinks"] or not complete["newest_on_home"]:
        failures.append(f"the site is not complete: {complete}")
    if complete["internal_links_on_pages"] != complete["internal_links_expected"]:
        failures.append(
            f"{complete['internal_links_on_pages']} of {complete['internal_links_expected']} internal links between"
            " public posts on their pages"
        )
    if result["images"] != result["images_in_export"]:
        failures.append(f"{result['images']} of {result['images_in_export']} images imported")
    if bulk is None:
        return failures
    bcount, blive = bulk["count"], bulk["live_s"]
    print(
        f"2. bench_bulk's Pressline part, same run: {bcount:,} generated posts uploaded from {bulk['threads']} threads"
    )
    print(
        f"   all live {blive:.1f} s = {blive / bcount * 1000:.1f} ms per post ({bulk['live_load']});"
        f" {bulk['complete']['published']:,} published, {bulk['complete'].get('announced', 0):,} announced;"
        f" CPU {total_cpu(bulk):.1f} s (moto {bulk['moto']['cpu']:.1f} s,"
        f" {bulk['moto']['count']:,} requests = {bulk['moto']['count'] / bcount:.1f} a post);"
        f" {total_calls(bulk) / bcount:.2f} AWS calls per post:"
    )
    for line in calls_by_function(bulk, bcount):
        print(line)
    since_first_upload = result["upload_s"] + result["after_upload_s"]
    print(
        f"   ratio import / bulk (per post): all live {live / per / (blive / bcount):.2f}x"
        f" ({since_first_upload / per / (blive / bcount):.2f}x from the import's first look at the bucket, its"
        f" conversion left out), CPU {cpu / per / (total_cpu(bulk) / bcount):.2f}x, calls"
        f" {total_calls(result) / per / (total_calls(bulk) / bcount):.2f}x, moto's requests"
        f" {moto['count'] / per / (bulk['moto']['count'] / bcount):.2f}x"
    )
    return failures


def run_child(*arguments: str) -> dict[str, Any]:
    import subprocess

    command = [sys.executable, str(Path(__file__).resolve()), "--child", *arguments]
    result = subprocess.run(command, env={**os.environ, **FAKE}, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{result.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1000, help="posts in the export (default: %(default)s)")
    parser.add_argument("--no-bulk", action="store_true", help="the import only, without bench_bulk's figure")
    args = parser.parse_args()
    os.environ.update(FAKE)  # every process of this bench talks to moto only
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    if args.child:
        quiet()
        print(json.dumps(child_import(args.count)))
        return 0
    print(f"bench_import: {args.count:,} WXR posts; {load()} at start (2 cores)", flush=True)
    result = run_child("--count", str(args.count))
    bulk = None if args.no_bulk else bench_bulk.run_child("pressline", "--count", str(args.count))
    failures = report(result, bulk)
    print(f"{load()} at end")
    for failure in failures:
        print("BROKEN:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
