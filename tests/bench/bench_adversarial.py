"""Benchmark: how Validate's and Render's time grows with adversarial input (issue 12).

For each shape of ``tests/unit/posts/adversarial.py`` (nested and unclosed constructs,
repetitions, long lines, many short lines, deep YAML), at sizes up to the size limit (bodies:
16 KiB, 64 KiB, 256 KiB, 1 MiB; front matter: 4 KiB, 16 KiB, 64 KiB), it times Validate's
check (``check_post``) and Render's pure ``render`` (the same check, then sanitizing, heading
ids and the summary): the lowest of 3 runs, CPU time (this process's own, so that the other
processes on a shared machine move it little) with the wall-clock time beside it. It prints
the ratio of the time for 4x the input (~4 when linear, ~16 when quadratic: the geometric mean
of the steps from the first time over 20 ms, below which times are noise; each step beside it)
and the time at the limit.

Target: every path linear (largest ratio <= 5) or under 1 s at the limit. The outcome the
rules give each shape at the limit is printed too (accepted, or the field refused).

Run: .venv/bin/python tests/bench/bench_adversarial.py [--quick] [--only TEXT]   (exit 1 if a target is missed)
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "shared"))
sys.path.insert(0, str(ROOT / "tests" / "unit" / "posts"))

from adversarial import SHAPES, Shape  # noqa: E402

from pressline.models import SourceRef  # noqa: E402
from pressline.posts.rules import check_post  # noqa: E402
from pressline.site.pages import Site  # noqa: E402
from pressline.stages.render import render  # noqa: E402

MAX_RATIO = 5.0
MAX_SECONDS_AT_LIMIT = 1.0
NOISE_SECONDS = 0.02  # below this a ratio says more about the machine than about the code
BODY_SIZES = (16 * 1024, 64 * 1024, 256 * 1024)
FRONT_SIZES = (4 * 1024, 16 * 1024)
SITE = Site(title="Bench", url="https://blog.example", api_url="https://api.example", timezone="UTC")
SOURCE = SourceRef(bucket="bench", key="posts/adversarial.md", version_id="v1")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def timed(function: Callable[[], object], runs: int = 3) -> tuple[float, float]:
    """The lowest CPU and wall-clock seconds of ``runs`` calls: on a shared machine other
    processes only ever add time (caches, memory bandwidth), so the lowest is the code's own."""
    cpu, wall = [], []
    for _ in range(runs):
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        function()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return min(cpu), min(wall)


def growth(times: list[float]) -> float | None:
    """How many times longer 4x the input takes: the geometric mean of the steps from the first
    time above the noise to the time at the largest size (one noisy step then moves it little;
    a path quadratic only from some size on still shows well above 5), or None when all are noise."""
    first = next((index for index, seconds in enumerate(times[:-1]) if seconds >= NOISE_SECONDS), None)
    if first is None:
        return None
    return float((times[-1] / times[first]) ** (1 / (len(times) - 1 - first)))


def steps(times: list[float]) -> str:
    return " ".join(f"{later / earlier:.1f}" if earlier > 0 else "-" for earlier, later in itertools.pairwise(times))


def outcome(raw: bytes) -> str:
    result = check_post(raw, SOURCE.key, uploaded_at=NOW, timezone=UTC)
    return "accepted" if result.ok else "refused: " + ", ".join(sorted({error.field for error in result.errors}))


def measure(shape: Shape, sizes: tuple[int, ...]) -> tuple[bool, list[str]]:
    """One shape's rows; whether both paths met the target."""
    posts = [shape.post(size) for size in sizes]
    paths: dict[str, Callable[[bytes], object]] = {
        "Validate check_post": lambda raw: check_post(raw, SOURCE.key, uploaded_at=NOW, timezone=UTC),
        "Render render": lambda raw: render(raw, SOURCE, uploaded_at=NOW, site=SITE, now=NOW),
    }
    rows, met = [], True
    for label, path in paths.items():
        figures = [timed(lambda raw=raw, path=path: path(raw)) for raw in posts]  # type: ignore[misc]
        cpu = [seconds for seconds, _ in figures]
        ratio = growth(cpu)
        at_limit, wall_at_limit = figures[-1]
        ok = (ratio is None or ratio <= MAX_RATIO) or at_limit <= MAX_SECONDS_AT_LIMIT
        met = met and ok
        times = "  ".join(f"{seconds * 1000:8.1f}" for seconds in cpu)
        shown = f"{ratio:5.1f}" if ratio is not None else "    -"
        verdict = "" if ok else "   MISSED"
        rows.append(
            f"  {label:<20} {times}   x4: {shown} (steps {steps(cpu)})   at {len(posts[-1]) // 1024:,} KiB: "
            f"{at_limit:6.3f} s (wall {wall_at_limit:6.3f} s){verdict}"
        )
    return met, rows


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--quick", action="store_true", help="stop below the size limit (bodies 256 KiB)")
    options.add_argument("--only", default="", help="only the shapes whose name contains this text")
    args = options.parse_args()
    shapes = [shape for shape in SHAPES if args.only in shape.name]
    print(f"{len(shapes)} adversarial shapes; lowest of 3 runs, CPU milliseconds; {load_average()}")
    missed = []
    for shape in shapes:
        if shape.front is not None:
            sizes = FRONT_SIZES + (() if args.quick else (shape.limit,))
        else:
            sizes = BODY_SIZES + (() if args.quick else (shape.limit,))
        labels = "  ".join(f"{size // 1024:>6} K" for size in sizes)
        print(f"{shape.name}  [{outcome(shape.post(sizes[-1]))} at {sizes[-1] // 1024:,} KiB]")
        print(f"  {'':<20} {labels}")
        met, rows = measure(shape, sizes)
        for row in rows:
            print(row, flush=True)
        if not met:
            missed.append(shape.name)
    print(load_average())
    target = f"every path linear (x4 <= {MAX_RATIO:g}) or under {MAX_SECONDS_AT_LIMIT:g} s at the limit"
    if missed:
        print(f"MISSED ({target}): " + "; ".join(missed))
        return 1
    print(f"met: {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
