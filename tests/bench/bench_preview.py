"""``pressline preview`` on a folder of 1,000 posts: from the command to the first page served.

The folder is ``sitegen``'s posts (~600 words each, two tags out of eight, one a day), written
as an author's files (``posts/<slug>.md``). Each run is a fresh ``python -m pressline.cli
preview FOLDER --port P``; the clock starts just before the process does and stops when the
home page has answered (a GET every 5 ms, refused until the port is bound). Printed: the median
of ``--runs`` (3) with the process's CPU time at that moment (user + system, from /proc) beside
the wall time, the whole build's time (the line the command prints), then the time from a save
to the event that reloads the browser, and the load average before and after.

Bytecode as an installed package has it: each process reads and writes a bytecode cache of its
own (``PYTHONPYCACHEPREFIX``), filled by a first run that is printed apart (it compiles every
module: a ``pip install`` compiles them once). The target (issue 16): the home page in under a
second, median wall time. Exit 1 if it is missed.

Run: ``make bench`` or ``.venv/bin/python tests/bench/bench_preview.py [--posts 1000] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import sitegen  # noqa: E402

TARGET_SECONDS = 1.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    home_s: float  # wall time from the command to the home page's answer
    cpu_s: float  # the process's CPU time then
    built_s: float | None  # the whole build, as the command reports it


def write_folder(folder: Path, count: int) -> None:
    posts = folder / "posts"
    posts.mkdir(parents=True)
    for post in sitegen.site(count):
        (posts / f"{post.slug}.md").write_bytes(post.pressline_source())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def environment(cache: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    env["PYTHONPATH"] = str(ROOT / "shared")
    return env


def start(folder: Path, port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pressline.cli", "preview", str(folder), "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def answered(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


def one_run(folder: Path, env: dict[str, str], *, save: bool = False) -> tuple[Run, float | None]:
    port = free_port()
    home = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    process = start(folder, port, env)
    try:
        while not answered(home):
            if process.poll() is not None:
                raise RuntimeError(f"pressline preview stopped: {process.stdout.read() if process.stdout else ''}")
            time.sleep(0.005)
        home_s = time.perf_counter() - started
        cpu = cpu_seconds(process.pid)
        built = None
        assert process.stdout is not None
        for line in process.stdout:  # "Built in 4.12 s: 1000 post(s), …" once the whole build is served
            found = re.match(r"Built in ([\d.]+) s", line)
            if found:
                built = float(found.group(1))
                break
        reload_s = saved_to_reload(folder, port) if save else None
        return Run(home_s, cpu, built), reload_s
    finally:
        process.terminate()
        process.wait(timeout=10)


def saved_to_reload(folder: Path, port: int) -> float:
    """From a save of one post to the event that reloads the browser."""
    post = next((folder / "posts").glob("*.md"))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__preview/events", timeout=60) as events:
        while events.readline().strip():  # the current build's event
            pass
        saved = time.perf_counter()
        post.write_text(post.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
        while not events.readline().startswith(b"event: build"):
            pass
        return time.perf_counter() - saved


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-preview-") as workdir:
        folder = Path(workdir) / "blog"
        write_folder(folder, args.posts)
        env = environment(Path(workdir) / "pycache")
        compiling, _ = one_run(folder, env)  # fills the bytecode cache (and the file cache)
        runs: list[Run] = []
        reload_s = None
        for index in range(args.runs):
            run, saved = one_run(folder, env, save=index == args.runs - 1)
            runs.append(run)
            reload_s = saved if saved is not None else reload_s
    after = os.getloadavg()
    home = statistics.median(run.home_s for run in runs)
    cpu = statistics.median(run.cpu_s for run in runs)
    built = [run.built_s for run in runs if run.built_s is not None]
    print(f"pressline preview, {args.posts:,} posts; load average {before[0]:.2f} before, {after[0]:.2f} after")
    print(
        f"  home page served {home:.2f} s after the command (median of {len(runs)}:"
        f" {', '.join(f'{run.home_s:.2f}' for run in runs)}), {cpu:.2f} s CPU; target < {TARGET_SECONDS:.1f} s"
    )
    if built:
        print(f"  whole site built (every page, listing, feed, search shard) {statistics.median(built):.2f} s")
    print(f"  first run, compiling the bytecode: home page {compiling.home_s:.2f} s, {compiling.cpu_s:.2f} s CPU")
    if reload_s is not None:
        print(f"  a save to the browser's reload: {reload_s:.2f} s (the saved post's page first, the whole site after)")
    if home >= TARGET_SECONDS:
        print(f"  missed: {home:.2f} s >= {TARGET_SECONDS:.1f} s")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
