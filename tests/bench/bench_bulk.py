"""Bulk publishing: N posts uploaded at once until all are live, against Hugo's build and Hugo's
build followed by ``aws s3 sync`` of its output (what a Hugo user does to publish on S3).

1. Pressline: an empty local stack as ``pressline local`` runs it (the template's resources on
   the patched moto server of ``pressline.local.motoserver`` in a process of its own, every
   function polled by the local runner in this one, as Lambda would); N generated
   posts (``sitegen``, ~600 words, two tags) uploaded at once from 16 client threads, as authors
   and importers do; the clock stops when every upload has its report, every post its page and
   every queue is empty. The posts are new posts, announced (Notify's share is in the calls):
   they are dated March 2026 (``sitegen.END``), older than the default announce window of
   "no emails for the past" (issue 13), so the stack is made with ``AnnounceWindowHours`` of
   ten years (bench_publish's ``Stack``), and every report must say ``announced``. Then,
   outside the clock, the site is checked complete: every report ``published`` and
   announced, the newest post on the home page and in the three feeds, every post in the
   sitemaps and the search shards. Printed: wall time, CPU time (this process: the functions,
   the runner, the bench's checks; moto's process; other children), the HTTP requests moto got,
   AWS calls per post made by the functions (by function and operation; Lambda's own polling is
   not counted), Index's busy share of the wall time. moto's whole-table copy per transaction
   is left as it is (bench_publish skips it in-process): this is the local stack users run.
2. Hugo (Debian's ``hugo``): the same posts, as content files, built to disk (median of 3
   after a warm-up), its CPU time beside the wall time.
3. Hugo + sync: that output synced with ``aws s3 sync`` into an empty bucket of the same kind
   of moto server (``pressline.local.motoserver``, its own process; the AWS CLI from
   ``.venv-aws``, installed through the Makefile when missing, never a global ``aws``). This is
   the figure to beat.

Targets (issue 18), exit 1 when missed: all live in <= 60 s for 1,000 posts (60 s for fewer,
60 s per 1,000 for more), <= 8 AWS calls per post. What it would take to beat Hugo + sync is
printed from the measured figures. The load average is printed with every figure: the machine
is shared.

Run: ``.venv/bin/python tests/bench/bench_bulk.py`` (1,000 posts; ``--full``: 10,000;
``--count N``; ``--no-hugo`` for Pressline alone).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "shared"))

import sitegen  # noqa: E402
from bench_publish import FAKE, REGION, Meter, Stack, quiet, wait_until  # noqa: E402

MAX_SECONDS_PER_1000 = 60.0
MAX_CALLS_PER_POST = 8.0
THREADS = 16
AWS_CLI = ROOT / ".venv-aws" / "bin" / "aws"
# Makefile targets that may install .venv-aws (the local stack's AWS CLI), tried in this order.
AWS_CLI_TARGETS = (".venv-aws/.installed", "awscli", ".venv-aws/bin/aws")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def posts(count: int) -> list[sitegen.GeneratedPost]:
    """The bulk's posts, newest first: the same for Pressline and for Hugo."""
    return [sitegen.post(n, prefix="bulk") for n in range(count)]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class HttpRequests:
    """Every HTTP request botocore sends from this process (each attempt of every client: the
    functions', the runner's polling, the bench's checks): what moto's process has to answer."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def install(self) -> None:
        from botocore.endpoint import Endpoint

        real_send = getattr(Endpoint, "_send")  # noqa: B009 (private: each attempt's one HTTP request)
        counter = self

        def send(endpoint: Any, request: Any) -> Any:
            with counter.lock:
                counter.count += 1
            return real_send(endpoint, request)

        setattr(Endpoint, "_send", send)  # noqa: B010


def start_moto() -> Any:
    """The local stack's moto server (patched, in its own process), as ``pressline local`` starts it."""
    from pressline.local import motoserver

    server = motoserver.start()
    assert server.separate_process, "pressline.local.motoserver did not start moto in its own process"
    return server


# --------------------------------------------------------------------------- 1. Pressline
def child_pressline(count: int) -> dict[str, Any]:
    """An empty local stack, ``count`` posts uploaded at once from THREADS threads, until all are live."""
    from pressline.indexing import layout, search

    requests = HttpRequests()
    requests.install()
    server = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    stack = Stack(server.endpoint_url)
    meter = Meter()
    items = posts(count)
    wanted_pages = {f"posts/{item.slug}/index.html" for item in items}
    wanted_reports = {f"reports/posts/{item.slug}.md.json" for item in items}

    def keys(bucket: str, prefix: str) -> set[str]:
        found: set[str] = set()
        for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.update(entry["Key"] for entry in page.get("Contents", []))
        return found

    def all_live() -> bool:
        # The queues first: listing a bucket is the costly question for moto, and the bench's
        # own polling must not slow the stack it measures.
        return (
            stack.queues_empty()
            and wanted_reports <= keys(stack.source, "reports/posts/")
            and wanted_pages <= keys(stack.site, "posts/")
        )

    try:
        meter.wrap(stack.runner)
        meter.instrument_new_clients()
        stack.runner.start(wait_s=1)
        cpu_before, children_before = time.process_time(), children_cpu()
        moto_before, requests_before = server.cpu_seconds(), requests.count
        started = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(stack.upload, items))
        uploaded = time.perf_counter() - started
        if not wait_until(all_live, 3600, 1.0):
            raise RuntimeError(f"{count} posts were not all live within an hour")
        live = time.perf_counter() - started
        live_load = load()
        process = time.process_time() - cpu_before
        children = children_cpu() - children_before
        moto = {"cpu": server.cpu_seconds() - moto_before, "count": requests.count - requests_before}
        snapshot = meter.snapshot()
        stack.runner.stop()

        # Complete, outside the clock: every report, the listings, the feeds, the sitemaps, search.
        reports = [
            json.loads(stack.s3.get_object(Bucket=stack.source, Key=key)["Body"].read())
            for key in sorted(wanted_reports)
        ]
        statuses = Counter(report.get("status") for report in reports)
        newest = f"/posts/{items[0].slug}/"
        listings = (layout.HOME, layout.ATOM, layout.RSS, layout.JSON_FEED)
        feeds = {key: newest in stack.site_text(key) for key in listings}
        sitemaps = "".join(stack.site_text(key) for key in keys(stack.site, "sitemaps/"))
        searched = {
            entry.get("u")
            for key in keys(stack.site, "search/shards/")
            for entry in search.load_shard(stack.site_text(key).encode())
        }
        complete = {
            "published": statuses.get("published", 0),
            "statuses": dict(statuses),
            # A bulk of new posts is announced (the stack's announce window takes them in).
            "announced": sum(report.get("announced") is True for report in reports),
            "newest_in": feeds,
            "in_sitemaps": sum(f"/posts/{item.slug}/<" in sitemaps for item in items),
            "in_search": sum(f"/posts/{item.slug}/" in searched for item in items),
        }
    finally:
        stack.runner.stop()
        server.stop()
    return {
        "count": count,
        "threads": THREADS,
        "uploaded_s": uploaded,
        "live_s": live,
        "live_load": live_load,
        "process_cpu_s": process,
        "children_cpu_s": children,
        "moto": moto,
        "complete": complete,
        **snapshot,
    }


# --------------------------------------------------------------------------- 2, 3. Hugo (+ sync)
def aws_cli(path: Path) -> Path | None:
    """The AWS CLI of .venv-aws, installed through the Makefile if missing (None: no way)."""
    if path.is_file():
        return path
    if path != AWS_CLI:
        return None
    for target in AWS_CLI_TARGETS:
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=False)
        if dry.returncode == 0:
            print(f"installing the AWS CLI: make {target}", flush=True)
            subprocess.run(["make", target], cwd=ROOT, check=False)
            break
    return path if path.is_file() else None


def hugo_build(hugo: str, site: Path, output: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, files written) of one full build of ``site`` into an empty ``output``."""
    shutil.rmtree(output, ignore_errors=True)
    cpu, started = children_cpu(), time.perf_counter()
    result = subprocess.run(
        [hugo, "--source", str(site), "--destination", str(output), "--quiet"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds, cpu = time.perf_counter() - started, children_cpu() - cpu
    if result.returncode != 0:
        raise RuntimeError(f"hugo failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return seconds, cpu, sum(1 for path in output.rglob("*") if path.is_file())


def sync(cli: Path, output: Path) -> dict[str, Any]:
    """``aws s3 sync`` of ``output`` into an empty bucket of a fresh moto server (the local
    stack's kind, in its own process)."""
    import boto3

    env = {**os.environ, **FAKE, "AWS_EC2_METADATA_DISABLED": "true"}
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_ENDPOINT_URL", None)
    server = start_moto()
    try:
        s3 = boto3.session.Session(region_name=REGION).client("s3", endpoint_url=server.endpoint_url)
        s3.create_bucket(Bucket="hugo-site")
        moto_cpu = server.cpu_seconds()
        cpu, started = children_cpu(), time.perf_counter()
        result = subprocess.run(
            [str(cli), "--endpoint-url", server.endpoint_url, "s3", "sync", str(output), "s3://hugo-site/",
             "--only-show-errors"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds, cli_cpu = time.perf_counter() - started, children_cpu() - cpu
        moto_cpu = server.cpu_seconds() - moto_cpu
        if result.returncode != 0:
            raise RuntimeError(f"aws s3 sync failed:\n{result.stderr[-2000:]}")
        paginator = s3.get_paginator("list_objects_v2")
        objects = sum(page.get("KeyCount", 0) for page in paginator.paginate(Bucket="hugo-site"))
    finally:
        server.stop()
    # Into an empty bucket the sync lists it once and puts each file (none is large enough for
    # a multipart upload): its requests are the objects, plus one.
    return {"seconds": seconds, "cli_cpu_s": cli_cpu, "moto_cpu_s": moto_cpu, "requests": objects + 1,
            "objects": objects, "load": load()}  # fmt: skip


def hugo_baseline(items: list[sitegen.GeneratedPost], builds: int, cli_path: Path) -> dict[str, Any]:
    from bench_hugo import hugo_version, write_site

    hugo = shutil.which("hugo")
    if not hugo:
        return {"missing": "hugo is not installed (Debian: apt-get install hugo; `make bench` does it as root)"}
    with tempfile.TemporaryDirectory(prefix="bulk-hugo-") as workdir:
        site, output = Path(workdir) / "site", Path(workdir) / "public"
        site.mkdir()
        write_site(site, items)
        hugo_build(hugo, site, output)  # warm-up: the file cache, as for Pressline's first invocation
        runs = [hugo_build(hugo, site, output) for _ in range(builds)]
        result: dict[str, Any] = {
            "version": hugo_version(hugo),
            "build_s": statistics.median(seconds for seconds, _, _ in runs),
            "build_cpu_s": statistics.median(cpu for _, cpu, _ in runs),
            "files": runs[-1][2],
            "build_load": load(),
        }
        cli = aws_cli(cli_path)
        if cli is None:
            result["sync_missing"] = (
                f"no AWS CLI at {cli_path} and no Makefile target of {', '.join(AWS_CLI_TARGETS)} installs it;"
                " pass --aws-cli PATH"
            )
        else:
            result["sync"] = sync(cli, output)
    return result


# --------------------------------------------------------------------------- report
def report(pressline: dict[str, Any], hugo: dict[str, Any] | None) -> list[str]:
    failures: list[str] = []
    count = pressline["count"]
    live = pressline["live_s"]
    calls = sum(sum(ops.values()) for ops in pressline["calls"].values())
    moto = pressline["moto"]
    cpu = pressline["process_cpu_s"] + moto["cpu"] + pressline["children_cpu_s"]
    functions_cpu = sum(pressline["cpu"].values())
    complete = pressline["complete"]
    print(f"1. Pressline: {count:,} posts uploaded at once from {pressline['threads']} threads, empty local stack")
    print(
        f"   uploaded in {pressline['uploaded_s']:.1f} s; all live (reports, pages, queues empty) after {live:.1f} s"
        f" = {live / count * 1000:.1f} ms per post ({pressline['live_load']})"
    )
    print(
        f"   complete: {complete['published']:,} of {count:,} reports published {complete['statuses']},"
        f" {complete.get('announced', 0):,} announced; newest post in"
        f" {', '.join(key for key, found in complete['newest_in'].items() if found) or 'nothing'};"
        f" {complete['in_sitemaps']:,} in the sitemaps, {complete['in_search']:,} in the search shards"
    )
    print(
        f"   CPU {cpu:.1f} s: moto's process {moto['cpu']:.1f} s ({100 * moto['cpu'] / max(cpu, 1e-9):.0f}%,"
        f" {moto['count']:,.0f} HTTP requests), this process {pressline['process_cpu_s']:.1f} s (the function threads"
        f" {functions_cpu:.1f} s = {100 * functions_cpu / max(cpu, 1e-9):.0f}%: our code + boto3's client side; the"
        f" rest the runner and this bench), other children {pressline['children_cpu_s']:.1f} s"
    )
    print(f"   {calls / count:.2f} AWS calls per post (functions only); by function:")
    for name in sorted(pressline["calls"]):
        ops = pressline["calls"][name]
        top = ", ".join(f"{op} {n / count:.2f}" for op, n in Counter(ops).most_common(6))
        print(
            f"     {name.removesuffix('Function'):<16} {sum(ops.values()) / count:5.2f} calls/post,"
            f" {pressline['invocations'].get(name, 0):>5} invocations, {pressline['records'].get(name, 0):>6} records,"
            f" {pressline['wall'].get(name, 0):6.1f} s busy ({pressline['cpu'].get(name, 0):5.1f} s CPU,"
            f" {pressline['aws_wall'].get(name, 0):5.1f} s waiting on AWS)  per post: {top}"
        )
    index_wall = pressline["wall"].get("IndexFunction", 0.0)
    print(
        f"   Index was busy {index_wall:.1f} s = {100 * index_wall / live:.0f}% of the wall time"
        f" ({100 * pressline['aws_wall'].get('IndexFunction', 0.0) / max(index_wall, 1e-9):.0f}% of it waiting on moto)"
    )
    # 60 s for 1,000 posts (issue 18); fewer posts get the same 60 s, more get 60 s per 1,000.
    target_s = MAX_SECONDS_PER_1000 * max(count, 1000) / 1000
    if live > target_s:
        failures.append(f"{count:,} posts live in {live:.1f} s (target {target_s:.0f} s)")
    if calls / count > MAX_CALLS_PER_POST:
        failures.append(f"{calls / count:.2f} AWS calls per post (target {MAX_CALLS_PER_POST:.0f})")
    missing_pieces = count - min(
        complete["published"], complete["announced"], complete["in_sitemaps"], complete["in_search"]
    )
    if missing_pieces or not all(complete["newest_in"].values()):
        failures.append(f"the site is not complete after the run: {complete}")
    print(
        f"   targets: live <= {target_s:.0f} s ({'met' if live <= target_s else 'MISSED'}),"
        f" <= {MAX_CALLS_PER_POST:.0f} calls per post ({'met' if calls / count <= MAX_CALLS_PER_POST else 'MISSED'})"
    )
    if hugo is None:
        return failures
    if "missing" in hugo:
        print(f"2. Hugo: NOT MEASURED ({hugo['missing']})")
        return failures
    build, build_cpu = hugo["build_s"], hugo["build_cpu_s"]
    print(f"2. {hugo['version']}: the same {count:,} posts, full build to disk ({hugo['files']:,} files), median of 3")
    print(
        f"   {build:.2f} s wall, {build_cpu:.2f} s CPU ({hugo['build_load']}); Pressline's live time is"
        f" {live / build:.0f}x its wall time, its CPU {cpu / max(build_cpu, 1e-9):.0f}x Hugo's"
    )
    if "sync_missing" in hugo:
        print(f"3. Hugo + aws s3 sync: NOT MEASURED ({hugo['sync_missing']})")
        return failures
    synced = hugo["sync"]
    total, total_cpu = build + synced["seconds"], build_cpu + synced["cli_cpu_s"] + synced["moto_cpu_s"]
    print(
        f"3. Hugo + aws s3 sync into an empty bucket of a moto server: build {build:.2f} s + sync"
        f" {synced['seconds']:.2f} s = {total:.2f} s wall ({synced['load']}); {synced['objects']:,} objects,"
        f" {synced['requests']:,.0f} requests = {synced['requests'] / count:.2f} per post"
    )
    print(
        f"   CPU {total_cpu:.1f} s (Hugo {build_cpu:.1f}, the AWS CLI {synced['cli_cpu_s']:.1f}, moto"
        f" {synced['moto_cpu_s']:.1f} = {100 * synced['moto_cpu_s'] / max(total_cpu, 1e-9):.0f}%)"
    )
    print(
        f"   ratio Pressline / (Hugo + sync): wall {live / total:.1f}x, CPU {cpu / max(total_cpu, 1e-9):.1f}x;"
        f" Pressline / Hugo alone: wall {live / build:.0f}x"
    )
    print(f"   to beat Hugo + sync, {count:,} posts must be live in under {total:.1f} s ({live / total:.1f}x faster):")
    for line in what_it_would_take(pressline, synced, total):
        print(f"     - {line}")
    return failures


def what_it_would_take(pressline: dict[str, Any], synced: dict[str, Any], total: float) -> list[str]:
    """The gaps between the measured figures and the baseline's, biggest first."""
    count = pressline["count"]
    moto = pressline["moto"]
    calls = sum(sum(ops.values()) for ops in pressline["calls"].values())
    functions_cpu = sum(pressline["cpu"].values())
    index_wall = pressline["wall"].get("IndexFunction", 0.0)
    per_request = moto["cpu"] / max(moto["count"], 1)
    lines = [
        f"requests: the pipeline sent moto {moto['count'] / count:.1f} requests per post ({calls / count:.1f} by the"
        f" functions, the rest the runner's polling and this bench's checks); the sync sends"
        f" {synced['requests'] / count:.1f}. At moto's {per_request * 1000:.1f} ms CPU per request, the pipeline's"
        f" requests alone keep 2 cores busy {moto['cpu'] / 2:.1f} s = {100 * moto['cpu'] / 2 / total:.0f}% of the"
        " baseline's whole time",
        f"the functions' own CPU (our code and boto3's client side): {functions_cpu:.1f} s"
        f" ({functions_cpu / count * 1000:.1f} ms per post) = {100 * functions_cpu / 2 / total:.0f}% of what 2 cores"
        " give in the baseline's time",
    ]
    if index_wall > total:
        index_calls = sum(pressline["calls"].get("IndexFunction", {}).values()) / count
        per_batch = pressline["records"].get("IndexFunction", 0) / max(
            pressline["invocations"].get("IndexFunction", 1), 1
        )
        lines.append(
            f"Index, the single writer, was busy {index_wall:.1f} s, more than the whole baseline: it has to do less"
            f" per post ({index_calls:.2f} calls) or more per batch ({per_batch:.1f} records per invocation now)"
        )
    lines.append(
        "on AWS the comparison changes: each call is a ~10-20 ms round trip instead of a local moto's answer, and"
        " Lambda runs the stages in parallel on their own cores; the sync's PutObjects pay the same round trips"
    )
    return lines


def run_child(mode: str, *arguments: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, *arguments]
    result = subprocess.run(command, env={**os.environ, **FAKE}, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{mode} {' '.join(arguments)} failed:\n{result.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1000, help="posts uploaded at once (default: %(default)s)")
    parser.add_argument("--full", action="store_true", help="10,000 posts")
    parser.add_argument("--builds", type=int, default=3, help="Hugo builds measured (median)")
    parser.add_argument("--no-hugo", action="store_true", help="Pressline only")
    parser.add_argument("--aws-cli", type=Path, default=AWS_CLI, help="the AWS CLI for the sync (default: %(default)s)")
    args = parser.parse_args()
    os.environ.update(FAKE)  # every process of this bench talks to moto only
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    if args.child:
        quiet()
        print(json.dumps(child_pressline(args.count)))
        return 0
    count = 10_000 if args.full else args.count
    print(f"bench_bulk: {count:,} posts; {load()} at start (2 cores)", flush=True)
    # The baselines first: they take seconds, and a missing tool shows before the long part.
    hugo = None if args.no_hugo else hugo_baseline(posts(count), args.builds, args.aws_cli)
    pressline = run_child("pressline", "--count", str(count))
    failures = report(pressline, hugo)
    print(f"{load()} at end")
    for failure in failures:
        print("MISSED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
