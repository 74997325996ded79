"""Cold start: importing each handler module against a bare ``import boto3``, and the layer's size.

1. Import cost. Each sample is a fresh interpreter that times one import with
   ``perf_counter`` (interpreter start-up excluded): ``import boto3`` (the baseline, measured
   in the same run, same interpreter and site-packages), then each ``functions/<name>/app.py``
   imported as Lambda does (its directory first on ``sys.path``, the function's environment
   variables set). Targets are interleaved (boto3, validate, render, ..., boto3, ...) so that
   the machine's load slows them alike; the figure is the median of ``--runs``. Target
   (issue 7): handler / boto3 <= 1.3. Also printed: whether the import pulled in boto3 (a
   handler should create its clients on first use, not at import) and, from one
   ``python -X importtime`` run, the costliest imports under the handler.
2. The layer, built into a temporary directory by the recipe ``sam build`` runs
   (``make -f shared/Makefile build-SharedLayer``, with a Python 3.12 from pyenv or PATH; else
   ``.aws-sam/build/SharedLayer`` if ``sam build`` has run). Prints its unzipped size (and the
   bytecode's share) against Lambda's 250 MB limit (function code and layers together) and the
   largest packages.

Run: ``make bench`` or ``.venv/bin/python tests/bench/bench_coldstart.py [--runs 7]``.
Exit 1 if a handler misses the 1.3x target.
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
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
TARGET_RATIO = 1.3
LAMBDA_LIMIT_MB = 250  # unzipped: function code plus every layer
# botocore.session, not botocore: Powertools imports the bare package (~0.4 ms) for its types.
HEAVY = ("boto3", "botocore.session", "pydantic", "jinja2", "yaml", "cmarkgfm", "nh3", "email_validator", "asyncio")

# What the functions' module-level code may read: the template's globals and per-function values
# (placeholders: nothing is called at import). Fake credentials: never a real account.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Pressline",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "SITE_TITLE": "Pressline",
    "SITE_URL": "https://example.com",
    "SITE_TIMEZONE": "UTC",
    "API_URL": "https://api.example.com",
    "SENDER_EMAIL": "news@example.com",
    "SOURCE_BUCKET": "source",
    "SITE_BUCKET": "site",
    "POSTS_TABLE": "posts",
    "SUBSCRIBERS_TABLE": "subscribers",
    "LEDGER_TABLE": "ledger",
    "RENDER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/render",
    "INDEX_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/index.fifo",
    "NOTIFY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/notify",
    "DELIVERY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/delivery",
    "POSTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:posts",
    "TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:token",
    "SES_CONFIGURATION_SET": "pressline",
}

# Times the import, notes which heavy modules it loaded, then times ``import boto3`` after it:
# a handler that creates its clients lazily pays for boto3 on its first invocation instead.
PROBE = """
import sys, time
sys.path.insert(0, {directory!r})
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
loaded = ",".join(m for m in {heavy!r} if m in sys.modules)
start = time.perf_counter()
import boto3
then = time.perf_counter() - start
print(elapsed * 1000, then * 1000, loaded)
"""


def handlers() -> list[str]:
    return sorted(path.parent.name for path in FUNCTIONS.glob("*/app.py"))


def environment(name: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    env.pop("PYTHONPATH", None)
    return {**env, **ENVIRONMENT, "POWERTOOLS_SERVICE_NAME": name}


def probe(name: str | None) -> tuple[float, float, list[str]]:
    """One fresh interpreter: milliseconds to import boto3 (name None) or the handler module,
    then milliseconds to import boto3 after it, and the heavy modules the first import loaded."""
    directory, module = (str(ROOT), "boto3") if name is None else (str(FUNCTIONS / name), "app")
    code = PROBE.format(directory=directory, module=module, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tempfile.gettempdir(),
        env=environment(name or "boto3"),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {name or 'boto3'} failed:\n{result.stderr[-3000:]}")
    milliseconds, boto3_after, *loaded = result.stdout.split()
    return float(milliseconds), float(boto3_after), [m for m in ",".join(loaded).split(",") if m]


def costliest_imports(name: str, count: int = 5) -> list[tuple[str, float]]:
    """Top-level packages under the handler by cumulative import time (one -X importtime run)."""
    code = f"import sys; sys.path.insert(0, {str(FUNCTIONS / name)!r}); import app"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=tempfile.gettempdir(),
        env=environment(name),
        capture_output=True,
        text=True,
        check=False,
    )
    by_package: dict[str, float] = defaultdict(float)
    pattern = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
    for line in result.stderr.splitlines():
        match = pattern.match(line)
        if not match or match.group(4) == "app":
            continue
        # Self time of every module, attributed to its top-level package: nested imports are
        # counted once, under the package that owns them.
        by_package[match.group(4).split(".")[0]] += int(match.group(1)) / 1000
    return sorted(by_package.items(), key=lambda item: -item[1])[:count]


# --------------------------------------------------------------------------- layer
def python312() -> str | None:
    """A CPython 3.12 (the runtime's): pyenv's newest, else python3.12 on PATH."""
    if shutil.which("pyenv"):
        listed = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False)
        versions = [v for v in listed.stdout.split() if re.fullmatch(r"3\.12\.\d+", v)]
        for version in sorted(versions, key=lambda v: int(v.split(".")[2]), reverse=True):
            prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, check=False)
            candidate = Path(prefix.stdout.strip()) / "bin" / "python3.12"
            if prefix.returncode == 0 and candidate.exists():
                return str(candidate)
    found = shutil.which("python3.12")
    if found and subprocess.run([found, "-c", "pass"], capture_output=True, check=False).returncode == 0:
        return found
    return None


def layer_directory(workdir: Path) -> tuple[Path, str]:
    """The layer as `sam build` makes it: shared/Makefile's recipe, run into ``workdir``."""
    python = python312()
    built = ROOT / ".aws-sam" / "build" / "SharedLayer"
    if python is None:
        if built.is_dir():
            return built, "no Python 3.12 to build it: .aws-sam/build/SharedLayer, as sam build last left it"
        raise RuntimeError("no Python 3.12 (pyenv or PATH) to build the layer with shared/Makefile")
    command = ["make", "--no-print-directory", "-s", "-f", str(ROOT / "shared" / "Makefile"), "build-SharedLayer",
               f"ARTIFACTS_DIR={workdir}", f"LAYER_PYTHON={python}"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"shared/Makefile could not build the layer:\n{result.stderr[-2000:]}")
    return workdir, "shared/Makefile's build-SharedLayer, the recipe sam build runs"


def sizes(directory: Path) -> tuple[int, int, dict[str, int]]:
    total, files = 0, 0
    by_package: dict[str, int] = defaultdict(int)
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            total += size
            files += 1
            relative = path.relative_to(directory).parts
            parts = relative[1:] if relative[0] == "python" else relative
            name = parts[0] if len(parts) > 1 else "(top-level files)"
            by_package[re.sub(r"-[\d.]+\.dist-info$", " (dist-info)", name)] += size
    return total, files, by_package


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7, help="samples per target (median)")
    args = parser.parse_args()
    names = handlers()
    samples: dict[str | None, list[float]] = {None: [], **{name: [] for name in names}}
    with_boto3: dict[str | None, list[float]] = {name: [] for name in samples}
    loaded: dict[str | None, list[str]] = {}
    for name in samples:  # warm the file system cache; not counted
        loaded[name] = probe(name)[2]
    for _ in range(args.runs):
        for name in samples:
            alone, boto3_after, _ = probe(name)
            samples[name].append(alone)
            with_boto3[name].append(alone + boto3_after)
    load = os.getloadavg()
    base = statistics.median(samples[None])
    print(f"Import cost, fresh interpreter each (median of {args.runs}, interleaved; load average {load[0]:.2f})")
    print(f"python {sys.version.split()[0]}; baseline `import boto3`: {base:.0f} ms (min {min(samples[None]):.0f})")
    print(
        f"{'handler':<14} {'median ms':>9} {'min ms':>7} {'/ boto3':>8}  {'target':>6}"
        f"  {'+ boto3 ms':>10} {'/ boto3':>8}  heavy modules at import"
    )
    missed = []
    for name in names:
        median = statistics.median(samples[name])
        ratio = median / base
        verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
        if ratio > TARGET_RATIO:
            missed.append(name)
        heavy = ", ".join(loaded[name]) or "-"
        total = statistics.median(with_boto3[name])
        print(
            f"{name:<14} {median:>9.0f} {min(samples[name]):>7.0f} {ratio:>7.2f}x  {verdict:>6}"
            f"  {total:>10.0f} {total / base:>7.2f}x  {heavy}"
        )
    print(
        "  '+ boto3': the import, then `import boto3` in the same interpreter. The handlers create their"
        " clients on first use, so the first invocation pays that part; the target is on the import."
    )
    print("Costliest imports per handler (self time summed per top-level package, one -X importtime run):")
    for name in names:
        top = ", ".join(f"{package} {ms:.0f}" for package, ms in costliest_imports(name))
        print(f"  {name:<14} {top} (ms)")

    with tempfile.TemporaryDirectory(prefix="pressline-layer-") as workdir:
        try:
            directory, how = layer_directory(Path(workdir))
        except (RuntimeError, OSError) as error:
            print(f"Layer: NOT MEASURED ({error})")
        else:
            total, files, by_package = sizes(directory)
            bytecode = sum(path.stat().st_size for path in directory.rglob("*.pyc"))
            print(f"Layer, unzipped: {total / 1e6:.1f} MB in {files:,} files, {bytecode / 1e6:.1f} MB of it bytecode")
            print(f"  ({how})")
            print(
                f"  Lambda's limit for code + layers unzipped is {LAMBDA_LIMIT_MB} MB; boto3 is the runtime's, not ours"
            )
            top = sorted(by_package.items(), key=lambda item: -item[1])[:10]
            print("  largest: " + ", ".join(f"{name} {size / 1e6:.1f}" for name, size in top) + " (MB)")
    if missed:
        print(f"MISSED: {', '.join(missed)} above {TARGET_RATIO}x boto3")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
