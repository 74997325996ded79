"""Cold start: importing each handler module against a bare ``import boto3``, and the layer's size.

1. Import cost. Each sample is a fresh interpreter that times one import (interpreter
   start-up excluded): ``import boto3`` (the baseline, measured in the same run, same
   interpreter and site-packages), then each ``functions/<name>/app.py`` imported as Lambda
   does (its directory first on ``sys.path``, the function's environment variables set).
   Targets are interleaved (boto3, validate, render, ..., boto3, ...); the figure is the
   median of ``--runs``. Target (issue 7): handler / boto3 <= 1.3, judged on the CPU time of
   the import (``process_time``): the import is CPU-bound once the files are cached, and CPU
   time is what the other jobs on a shared machine disturb least; the wall-clock ratio is
   printed beside it (on an idle machine they agree).
   - The environment is the one Lambda gives the function: the template's literal values
     (Globals and the function's own, e.g. ``PYDANTIC_DISABLE_PLUGINS``), placeholders for
     the values the template computes.
   - Bytecode as deployed: Lambda's file system is read-only, so a module without a ``.pyc``
     is compiled at every cold start. Every probe runs with its own bytecode cache
     (``PYTHONPYCACHEPREFIX``, filled by a warm-up run): the dependencies (and boto3) always
     from bytecode; pressline from bytecode when the layer's build compiles it
     (``BuildMethod: makefile`` and ``compileall`` in ``shared/Makefile``), else from source;
     ``app.py`` from source (SAM's function build compiles nothing). The other case is
     printed too.
   Also printed: the heavy modules the import loaded and, from one ``python -X importtime``
   run, the costliest imports under the handler.
2. What the import leaves to the first invocation, so that a lazy import is not mistaken for
   a saved one. In the same interpreter, after the handler's import: ``import boto3`` (the
   clients are made on first use), then every import statement the handler's code runs
   inside a function (found in its source: ``app.py`` and the pressline modules it reaches,
   following imports; ``if TYPE_CHECKING:`` blocks excluded). That is an upper bound: one
   invocation runs only its own path's imports (a JSON subscribe renders no page). Printed as
   milliseconds and as import + first invocation / boto3.
3. The layer, built into a temporary directory by the recipe ``sam build`` runs
   (``make -f shared/Makefile build-SharedLayer``, with a Python 3.12 from pyenv or PATH; else
   ``.aws-sam/build/SharedLayer`` if ``sam build`` has run). Prints its unzipped size (and the
   bytecode's share) against Lambda's 250 MB limit (function code and layers together) and the
   largest packages. Then each function's own layer (``ImagesLayer``: Pillow and
   pressline.images, the image function's only) the same way, and that function's total.

Run: ``make bench`` or ``.venv/bin/python tests/bench/bench_coldstart.py [--runs 7]``.
Exit 1 if a handler misses the 1.3x target.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
PACKAGE = ROOT / "shared" / "pressline"
TEMPLATE = ROOT / "template.yaml"
TARGET_RATIO = 1.3
LAMBDA_LIMIT_MB = 250  # unzipped: function code plus every layer
# botocore.session, not botocore: Powertools imports the bare package (~0.4 ms) for its types.
HEAVY = (
    "boto3", "botocore.session", "pydantic", "pressline.models", "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.event_handler", "asyncio", "jinja2", "yaml", "cmarkgfm", "nh3", "email_validator",
    "PIL.Image",
)  # fmt: skip
# Layers beside the shared one, per function directory (template.yaml): what only that function
# imports. Its handler is measured with them (the dev venv has the `images` extra), the layer's
# size printed beside the shared one's.
OWN_LAYERS = {"image": "ImagesLayer"}

# Stand-ins for what the template computes (!Ref, !GetAtt, !Sub): nothing is called at import.
# The template's literal values are read from it (see environment()). Fake credentials only.
PLACEHOLDERS = {
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
    "IMAGE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/image",
    "NOTIFY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/notify",
    "DELIVERY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/delivery",
    "POSTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:posts",
    "TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:token",
    "SES_CONFIGURATION_SET": "pressline",
}

# Times the import (CPU and wall) and notes which heavy modules it loaded; then the CPU time
# of what the first invocation imports: boto3 (clients are made on first use), then the
# handler's lazy imports.
PROBE = """
import sys, time
sys.path.insert(0, {directory!r})
wall, cpu = time.perf_counter(), time.process_time()
import {module}
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
loaded = ",".join(m for m in {heavy!r} if m in sys.modules)
start = time.process_time()
import boto3
then = time.process_time() - start
each = []
for statement in {deferred!r}:
    start = time.process_time()
    exec(statement, {{}})
    each.append(time.process_time() - start)
print(cpu * 1000, wall * 1000, then * 1000, ",".join(str(t * 1000) for t in each) or "-", loaded or "-")
"""


@dataclass
class Sample:
    cpu: float  # ms, the import
    wall: float  # ms, the import
    boto3_after: float  # ms CPU, `import boto3` after it
    each: list[float]  # ms CPU, each of the handler's lazy import statements after that, in order
    heavy: list[str]

    @property
    def lazy(self) -> float:
        return sum(self.each)


def handlers() -> list[str]:
    return sorted(path.parent.name for path in FUNCTIONS.glob("*/app.py"))


def _literal_variables(properties: dict[str, Any]) -> dict[str, str]:
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    return {key: str(value) for key, value in variables.items() if isinstance(value, str | int | float)}


def template_environment() -> dict[str, dict[str, str]]:
    """Per function directory name: the literal environment values the template gives it
    (Globals, then the function's own). Values computed by intrinsics are left out."""
    from pressline.local.template import load_sam

    sam = load_sam(TEMPLATE)
    function_globals = (sam.get("Globals") or {}).get("Function") or {}
    shared = _literal_variables(function_globals)
    by_directory: dict[str, dict[str, str]] = {}
    for resource in sam.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties") or {}
        code_uri = str(properties.get("CodeUri", function_globals.get("CodeUri", "")))
        by_directory[Path(code_uri).name] = {**shared, **_literal_variables(properties)}
    return by_directory


def environment(name: str, from_template: dict[str, dict[str, str]]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "POWERTOOLS_"))}
    for key in ("PYTHONPATH", "PYDANTIC_DISABLE_PLUGINS"):
        env.pop(key, None)
    literal = from_template.get(name, {})
    return {**env, **PLACEHOLDERS, "POWERTOOLS_SERVICE_NAME": name, **literal}


# --------------------------------------------------------------------------- lazy imports
def _module_file(module: str) -> Path | None:
    """The source file of a pressline module, None for any other package."""
    parts = module.split(".")
    if parts[0] != "pressline":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> tuple[list[ast.Import | ast.ImportFrom], list[ast.Import | ast.ImportFrom]]:
    """(module-level, inside-a-function) import statements; TYPE_CHECKING blocks skipped."""
    eager: list[ast.Import | ast.ImportFrom] = []
    lazy: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                (lazy if in_function else eager).append(child)
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(tree, False)
    return eager, lazy


def _modules_of(statement: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    base = statement.module or ""
    return [base] + [f"{base}.{alias.name}" for alias in statement.names if _module_file(f"{base}.{alias.name}")]


def deferred_imports(name: str) -> list[str]:
    """Every import statement run inside a function by the handler's code: ``app.py`` and the
    pressline modules reachable from it (a module reached only lazily is deferred whole)."""
    deferred: dict[str, None] = {}
    seen: dict[Path, bool] = {}  # file -> reached eagerly
    pending: list[tuple[Path, bool]] = [(FUNCTIONS / name / "app.py", True)]
    while pending:
        path, eagerly = pending.pop()
        if path in seen and (seen[path] or not eagerly):
            continue
        seen[path] = eagerly
        eager, lazy = _imports(ast.parse(path.read_text(encoding="utf-8")))
        if not eagerly:
            lazy = eager + lazy
            eager = []
        for statement in lazy:
            if not (isinstance(statement, ast.ImportFrom) and statement.module == "__future__"):
                deferred.setdefault(ast.unparse(statement), None)
        for statement, reached_eagerly in [(s, True) for s in eager] + [(s, False) for s in lazy]:
            for module in _modules_of(statement):
                source = _module_file(module)
                if source is not None:
                    pending.append((source, reached_eagerly))
    return list(deferred)


def probe(name: str | None, deferred: list[str], env: dict[str, str]) -> Sample:
    """One fresh interpreter: the import of boto3 (name None) or of the handler module, then
    ``import boto3`` after it, then the handler's lazy imports."""
    directory, module = (str(ROOT), "boto3") if name is None else (str(FUNCTIONS / name), "app")
    code = PROBE.format(directory=directory, module=module, heavy=HEAVY, deferred=deferred)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tempfile.gettempdir(),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {name or 'boto3'} failed:\n{result.stderr[-3000:]}")
    cpu, wall, boto3_after, each, loaded = result.stdout.split()
    lazy = [float(ms) for ms in each.split(",")] if each != "-" else []
    heavy = [m for m in loaded.split(",") if m and m != "-"]
    return Sample(float(cpu), float(wall), float(boto3_after), lazy, heavy)


def _short(statement: str) -> str:
    """``from a.b import c, d`` -> ``a.b``; ``import a.b`` -> ``a.b``."""
    words = statement.split()
    return words[1].rstrip(",")


# --------------------------------------------------------------------------- bytecode
def layer_compiles_pressline() -> bool:
    """Whether the deployed layer ships pressline's bytecode: built by shared/Makefile, which
    runs compileall (SAM's python builder ships sources only)."""
    from pressline.local.template import load_sam

    layer = (load_sam(TEMPLATE).get("Resources") or {}).get("SharedLayer") or {}
    makefile = ROOT / "shared" / "Makefile"
    return (
        str((layer.get("Metadata") or {}).get("BuildMethod", "")).lower() == "makefile"
        and makefile.is_file()
        and "compileall" in makefile.read_text(encoding="utf-8")
    )


def bytecode_caches(everything: Path) -> dict[str, Path]:
    """From a cache of every module's bytecode: one without ``functions/`` (as deployed with
    compiled pressline) and one without ``functions/`` and ``shared/`` (nothing of ours compiled)."""
    mirror = everything / ROOT.relative_to(ROOT.anchor)
    caches = {}
    for mode, ours in (("pyc", ["functions"]), ("source", ["functions", "shared"])):
        target = everything.with_name(f"pycache-{mode}")
        shutil.copytree(everything, target)
        for directory in ours:
            shutil.rmtree(target / mirror.relative_to(everything) / directory, ignore_errors=True)
        caches[mode] = target
    return caches


def with_cache(env: dict[str, str], cache: Path, *, write: bool) -> dict[str, str]:
    env = {**env, "PYTHONPYCACHEPREFIX": str(cache)}
    if write:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def costliest_imports(name: str, env: dict[str, str], count: int = 5) -> list[tuple[str, float]]:
    """Top-level packages under the handler by cumulative import time (one -X importtime run)."""
    code = f"import sys; sys.path.insert(0, {str(FUNCTIONS / name)!r}); import app"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=tempfile.gettempdir(),
        env=env,
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


def layer_directory(workdir: Path, layer: str = "SharedLayer") -> tuple[Path, str]:
    """The layer as `sam build` makes it: shared/Makefile's recipe, run into ``workdir``."""
    python = python312()
    built = ROOT / ".aws-sam" / "build" / layer
    if python is None:
        if built.is_dir():
            return built, f"no Python 3.12 to build it: .aws-sam/build/{layer}, as sam build last left it"
        raise RuntimeError("no Python 3.12 (pyenv or PATH) to build the layer with shared/Makefile")
    command = ["make", "--no-print-directory", "-s", "-f", str(ROOT / "shared" / "Makefile"), f"build-{layer}",
               f"ARTIFACTS_DIR={workdir}", f"LAYER_PYTHON={python}"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"shared/Makefile could not build {layer}:\n{result.stderr[-2000:]}")
    return workdir, f"shared/Makefile's build-{layer}, the recipe sam build runs"


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
    from_template = template_environment()
    deployed = "pyc" if layer_compiles_pressline() else "source"
    other = "source" if deployed == "pyc" else "pyc"
    envs: dict[str | None, dict[str, str]] = {None: environment("boto3", {})}
    envs.update({name: environment(name, from_template) for name in names})
    deferred: dict[str | None, list[str]] = {None: [], **{name: deferred_imports(name) for name in names}}
    samples: dict[tuple[str | None, str], list[Sample]] = {}
    with tempfile.TemporaryDirectory(prefix="pressline-pycache-") as workdir:
        everything = Path(workdir) / "pycache-all"
        for name in envs:  # compiles every module into the cache and warms the file system cache
            probe(name, deferred[name], with_cache(envs[name], everything, write=True))
        caches = bytecode_caches(everything)
        targets = [(None, deployed)] + [(name, mode) for name in names for mode in (deployed, other)]
        for _ in range(args.runs):
            for name, mode in targets:
                sample = probe(name, deferred[name], with_cache(envs[name], caches[mode], write=False))
                samples.setdefault((name, mode), []).append(sample)
        top_imports = {
            name: costliest_imports(name, with_cache(envs[name], caches[deployed], write=False)) for name in names
        }

    def median(name: str | None, field: str, mode: str = deployed) -> float:
        return float(statistics.median(getattr(sample, field) for sample in samples[(name, mode)]))

    load = os.getloadavg()
    base, base_wall = median(None, "cpu"), median(None, "wall")
    print(f"Import cost, fresh interpreter each (median of {args.runs}, interleaved; load average {load[0]:.2f})")
    print(f"python {sys.version.split()[0]}; baseline `import boto3`: {base:.0f} ms CPU, {base_wall:.0f} ms wall")
    template_only = sorted({key for env in from_template.values() for key in env} - set(PLACEHOLDERS))
    print(f"environment: the template's literal values ({', '.join(template_only)}), placeholders for the rest")
    print(
        "bytecode: "
        + (
            "pressline's, as the layer ships it (shared/Makefile compiles it); app.py compiled at import"
            if deployed == "pyc"
            else "none of ours: the layer ships no pressline bytecode, so it is compiled at import"
        )
    )
    other_label = "no .pyc" if other == "source" else "with .pyc"
    print(
        f"{'handler':<14} {'CPU ms':>6} {'/ boto3':>8}  {'target':>6}  {'wall':>6}  {other_label:>9}"
        f"  {'lazy ms':>7}  {'+boto3+lazy':>11}  heavy modules at import"
    )
    missed = []
    for name in names:
        cpu = median(name, "cpu")
        ratio = cpu / base
        verdict = "ok" if ratio <= TARGET_RATIO else "MISSED"
        if ratio > TARGET_RATIO:
            missed.append(name)
        first_call = statistics.median(
            sample.cpu + sample.boto3_after + sample.lazy for sample in samples[(name, deployed)]
        )
        heavy = ", ".join(samples[(name, deployed)][0].heavy) or "-"
        print(
            f"{name:<14} {cpu:>6.0f} {ratio:>7.2f}x  {verdict:>6}  {median(name, 'wall') / base_wall:>5.2f}x"
            f"  {median(name, 'cpu', other) / base:>8.2f}x  {median(name, 'lazy'):>7.0f}  {first_call / base:>10.2f}x"
            f"  {heavy}"
        )
    print(
        "  '/ boto3' is the target (CPU time); 'wall' the same ratio in wall-clock time; "
        f"'{other_label}': the CPU ratio {'without' if other == 'source' else 'with'} pressline's bytecode."
    )
    print(
        "  What the import leaves to the first invocation: 'lazy ms' runs every import statement the"
        " handler's code has inside a function (an upper bound: an invocation runs only its path's);"
        " '+boto3+lazy' is the import, then `import boto3` (clients are made on first use), then those,"
        " in the same interpreter, / the baseline."
    )
    print("Costliest lazy imports per handler (ms CPU, median; each after boto3 and the ones before it):")
    for name in names:
        runs = samples[(name, deployed)]
        costs = [
            (statistics.median(run.each[i] for run in runs), deferred[name][i]) for i in range(len(deferred[name]))
        ]
        costliest = sorted(costs, key=lambda item: -item[0])[:4]
        print(f"  {name:<14} " + "; ".join(f"{_short(statement)} {ms:.0f}" for ms, statement in costliest))
    print("Costliest imports per handler (self time summed per top-level package, one -X importtime run):")
    for name in names:
        top = ", ".join(f"{package} {ms:.0f}" for package, ms in top_imports[name])
        print(f"  {name:<14} {top} (ms)")

    shared_total = None
    for layer in ("SharedLayer", *OWN_LAYERS.values()):
        label = "Layer" if layer == "SharedLayer" else f"{layer} (beside the shared layer)"
        with tempfile.TemporaryDirectory(prefix="pressline-layer-") as workdir:
            try:
                directory, how = layer_directory(Path(workdir), layer)
            except (RuntimeError, OSError) as error:
                print(f"{label}: NOT MEASURED ({error})")
                continue
            total, files, by_package = sizes(directory)
            bytecode = sum(path.stat().st_size for path in directory.rglob("*.pyc"))
            print(f"{label}, unzipped: {total / 1e6:.1f} MB in {files:,} files, {bytecode / 1e6:.1f} MB of it bytecode")
            print(f"  ({how})")
            if layer == "SharedLayer":
                shared_total = total
                print(
                    f"  Lambda's limit for code + layers unzipped is {LAMBDA_LIMIT_MB} MB; boto3 is the runtime's,"
                    " not ours"
                )
            elif shared_total is not None:
                users = ", ".join(name for name, own in OWN_LAYERS.items() if own == layer)
                both = (shared_total + total) / 1e6
                print(f"  {users}: {both:.1f} MB with the shared layer (limit {LAMBDA_LIMIT_MB})")
            largest = sorted(by_package.items(), key=lambda item: -item[1])[:10]
            print("  largest: " + ", ".join(f"{name} {size / 1e6:.1f}" for name, size in largest) + " (MB)")
    if missed:
        print(f"MISSED: {', '.join(missed)} above {TARGET_RATIO}x boto3")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
