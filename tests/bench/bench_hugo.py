"""Hugo's full build of a generated site against Pressline publishing one post into it.

The same generated posts (``sitegen``: ~600 words each, two tags out of eight, one a day)
become a Hugo site (content/posts/*.md, a minimal theme: post page, home and list pages,
tag pages, RSS, sitemap) built with ``hugo --renderToMemory`` (median of 3 builds after
one warm-up), and a Pressline site seeded with them, into which one new post is published
through the whole pipeline on in-process moto (``bench_publish``'s calls part, median of 5).
Sizes: 1,000 and 10,000 posts. Also printed: Hugo's time per page, against Pressline's
in-process path from uploaded bytes to finished page (as bench_render measures it).

Hugo is Debian's ``hugo`` package; ``make bench`` installs it when missing and run as root.
Without it this benchmark says so and exits 0.

Run: ``.venv/bin/python tests/bench/bench_hugo.py [--sizes 1000,10000]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "shared"))

import sitegen  # noqa: E402

CONFIG = """baseURL = "https://blog.example/"
title = "Bench"
languageCode = "en"
disableKinds = []
[taxonomies]
  tag = "tags"
[permalinks]
  posts = "/posts/:slug/"
"""
BASEOF = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ .Title }} | {{ .Site.Title }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><header><a href="/">{{ .Site.Title }}</a></header><main>{{ block "main" . }}{{ end }}</main></body></html>
"""
SINGLE = """{{ define "main" }}<article><h1>{{ .Title }}</h1><time>{{ .Date.Format "2 January 2006" }}</time>
<ul>{{ range .Params.tags }}<li><a href="/tags/{{ . | urlize }}/">{{ . }}</a></li>{{ end }}</ul>
{{ .Content }}</article>
<nav>{{ with .PrevInSection }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}
{{ with .NextInSection }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</nav>{{ end }}
"""
LIST = """{{ define "main" }}<h1>{{ .Title }}</h1><ul>{{ range .Paginator.Pages }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> <time>{{ .Date.Format "2006-01-02" }}</time> {{ .Summary }}</li>
{{ end }}</ul>{{ template "_internal/pagination.html" . }}{{ end }}
"""


def hugo_version(hugo: str) -> str:
    return subprocess.run([hugo, "version"], capture_output=True, text=True, check=False).stdout.strip()


def make_site(directory: Path, size: int) -> None:
    write_site(directory, sitegen.site(size))


def write_site(directory: Path, posts: list[sitegen.GeneratedPost]) -> None:
    """A Hugo site of ``posts`` (bench_bulk gives it the very posts it uploads to Pressline)."""
    (directory / "config.toml").write_text(CONFIG, encoding="utf-8")
    layouts = directory / "layouts" / "_default"
    layouts.mkdir(parents=True)
    (layouts / "baseof.html").write_text(BASEOF, encoding="utf-8")
    (layouts / "single.html").write_text(SINGLE, encoding="utf-8")
    (layouts / "list.html").write_text(LIST, encoding="utf-8")
    (directory / "layouts" / "index.html").write_text(LIST, encoding="utf-8")
    content = directory / "content" / "posts"
    content.mkdir(parents=True)
    for item in posts:
        (content / f"{item.slug}.md").write_text(item.hugo_source(), encoding="utf-8")


def build(hugo: str, directory: Path) -> tuple[float, int]:
    """Seconds for one full build (in memory), and the number of pages Hugo reports."""
    started = time.perf_counter()
    result = subprocess.run(
        [hugo, "--renderToMemory", "--source", str(directory)], capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"hugo failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    match = re.search(r"Pages\s*\|\s*(\d+)", result.stdout)
    return seconds, int(match.group(1)) if match else 0


def pressline_publish(size: int, runs: int) -> tuple[float, float, int]:
    """(median seconds of one publish through the pipeline, median CPU in the functions, calls)."""
    from bench_publish import run_child, total_calls

    result = run_child("calls", "--size", str(size), "--runs", str(runs))
    publishes = result["publishes"]
    seconds = statistics.median(p["seconds"] for p in publishes)
    cpu = statistics.median(sum(p["cpu"].values()) for p in publishes)
    return seconds, cpu, int(statistics.median(total_calls(p) for p in publishes))


def pressline_page_ms() -> float:
    """In-process: a post's bytes to its finished page (bench_render's whole path)."""
    from bench_render import SITE, SOURCE, UPLOADED, ZONE, median_ms

    from pressline.models import RenderedPost
    from pressline.posts.markdown import render_body
    from pressline.posts.rules import check_post
    from pressline.site.pages import render_post_page

    raw = sitegen.post(1).pressline_source()

    def whole() -> str:
        checked = check_post(raw, SOURCE.key, uploaded_at=UPLOADED, timezone=ZONE)
        assert checked.post is not None, checked.errors
        made = render_body(checked.post.body, SOURCE.key, checked.post.meta.summary)
        page = RenderedPost(
            source=SOURCE, meta=checked.post.meta.model_copy(update={"summary": made.summary}),
            body_html=made.html, status="published", rendered_at=UPLOADED,
        )  # fmt: skip
        return render_post_page(page, SITE)

    return median_ms(whole, rounds=1000)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5, help="Pressline publishes per size")
    args = parser.parse_args()
    hugo = shutil.which("hugo")
    if not hugo:
        print("hugo is not installed (Debian: apt-get install hugo; `make bench` does it as root): skipped")
        return 0
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"{hugo_version(hugo)}; load average {os.getloadavg()[0]:.2f}")
    page_ms = pressline_page_ms()
    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix=f"hugo-{size}-") as workdir:
            directory = Path(workdir)
            make_site(directory, size)
            build(hugo, directory)  # warm-up: file cache
            builds = [build(hugo, directory) for _ in range(args.builds)]
        hugo_s = statistics.median(seconds for seconds, _ in builds)
        pages = builds[0][1]
        publish_s, publish_cpu, calls = pressline_publish(size, args.runs)
        rows.append((size, hugo_s, pages, publish_s, publish_cpu, calls))
        print(
            f"{size:>7,} posts: Hugo full build {hugo_s:6.2f} s ({pages:,} pages,"
            f" {hugo_s / max(pages, 1) * 1000:.2f} ms/page, {hugo_s / size * 1000:.2f} ms/post);"
            f" Pressline one publish {publish_s * 1000:5.0f} ms on moto"
            f" ({publish_cpu * 1000:.0f} ms CPU in the function calls, in-process moto included, {calls} AWS calls):"
            f" {hugo_s / publish_s:5.1f}x faster than Hugo's rebuild"
        )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(
            f"growth {last[0]:,} / {first[0]:,} posts: Hugo's build x{last[1] / first[1]:.1f},"
            f" Pressline's publish x{last[3] / first[3]:.2f}"
        )
    print(
        f"Per page: Pressline's bytes -> finished post page in-process {page_ms:.3f} ms (one core) against Hugo's"
        f" {rows[-1][1] / max(rows[-1][2], 1) * 1000:.2f} ms per page of a full build (all cores; every list,"
        " tag, feed and sitemap page included)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
