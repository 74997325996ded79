"""template.yaml is deployable: it passes `sam validate --lint` and cfn-lint, `sam build` makes
the layer and every function, and every built handler imports with only what Lambda would have.

Offline: fake credentials, no telemetry, no container (`sam build` uses the pyenv Python 3.12
for the python3.12 runtime). The SAM CLI and cfn-lint come from the tools venv (`make tools`;
PRESSLINE_TOOLS_BIN points there under `make test`).

The import check runs each handler in a fresh Python 3.12 whose sys.path is only the standard
library, the built function directory, the built layer's python/ directory and boto3 (which the
Lambda runtime provides and the layer leaves out), in that order, as in Lambda. The layer is
built by shared/Makefile, which leaves out what no function imports, strips the C extensions and
compiles bytecode: the example posts, addresses and Powertools' batch and HTTP paths run in the
built layer and give the same results as in the development venv.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, NoReturn

import pytest
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
RUNTIME = "python3.12"
# Built artefacts and caches stay under the (git-ignored) .aws-sam/, never in the source tree.
WORK_DIR = ROOT / ".aws-sam"
# Sub-packages of pressline that never run in Lambda (the moto local stack).
# Run on the author's or operator's machine, never in a function: not in the layer (shared/Makefile).
DEV_ONLY_PACKAGES = ("pressline.local", "pressline.importing", "pressline.ops")

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- environment
def _missing(reason: str) -> NoReturn:
    """A missing tool fails in CI (where `make test` installs everything) and skips elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def tools_bin() -> Path:
    configured = os.environ.get("PRESSLINE_TOOLS_BIN")
    path = Path(configured) if configured else ROOT / ".venv-tools" / "bin"
    if not (path / "sam").exists() or not (path / "cfn-lint").exists():
        _missing(f"no sam/cfn-lint in {path}: run `make tools`")
    return path


@cache
def python312_bin() -> Path | None:
    """The bin directory of a CPython 3.12 (pyenv's, else one on PATH)."""
    if shutil.which("pyenv"):
        versions = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False)
        for name in sorted(versions.stdout.split(), reverse=True):
            if name.startswith("3.12."):
                prefix = subprocess.run(["pyenv", "prefix", name], capture_output=True, text=True, check=False)
                candidate = Path(prefix.stdout.strip()) / "bin"
                if prefix.returncode == 0 and (candidate / "python3.12").exists():
                    return candidate
    found = shutil.which("python3.12")
    if found:
        probe = subprocess.run([found, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True)
        if probe.returncode == 0:
            return Path(found).parent
    return None


def python312() -> Path:
    bin_dir = python312_bin()
    if bin_dir is None:
        _missing("no Python 3.12 (pyenv or PATH): `sam build` needs it for the python3.12 runtime")
    return bin_dir / "python3.12"


def offline_env(**extra: str) -> dict[str, str]:
    """The environment for SAM and cfn-lint: fake credentials, a region, no telemetry."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "PYTHON"))}
    env.update(
        SAM_CLI_TELEMETRY="0",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
    )
    env.update(extra)
    return env


def run(command: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, cwd=ROOT, check=False, **kwargs
    )


# --------------------------------------------------------------------------- the template
@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler_module: str
    handler_attribute: str
    environment: dict[str, str]


def _placeholder(name: str, value: Any) -> str:
    """A literal environment value, or a stand-in for an intrinsic (Ref, GetAtt, Sub)."""
    return value if isinstance(value, str) else f"placeholder-{name.lower().replace('_', '-')}"


def template_functions() -> list[FunctionSpec]:
    """Every AWS::Serverless::Function in template.yaml, Globals applied to Handler/Environment."""
    sam = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    function_globals = (sam.get("Globals") or {}).get("Function") or {}
    global_env = (function_globals.get("Environment") or {}).get("Variables") or {}
    specs = []
    for logical_id, resource in sam["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        handler = props.get("Handler", function_globals.get("Handler"))
        assert isinstance(handler, str) and "." in handler, f"{logical_id}: Handler must be 'module.attribute'"
        module, _, attribute = handler.rpartition(".")
        variables = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
        environment = {name: _placeholder(name, value) for name, value in variables.items()}
        specs.append(FunctionSpec(logical_id, module, attribute, environment))
    return specs


FUNCTIONS = template_functions()


# --------------------------------------------------------------------------- lint
def test_sam_validate_lint_passes() -> None:
    result = run([tools_bin() / "sam", "validate", "--lint", "--template", TEMPLATE], env=offline_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_cfn_lint_passes() -> None:
    result = run([tools_bin() / "cfn-lint", TEMPLATE], env=offline_env())
    # cfn-lint prints nothing and exits 0 only when it has no error, warning or informational finding.
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


# --------------------------------------------------------------------------- build
@dataclass(frozen=True)
class Build:
    root: Path  # the build directory: one folder per function and per layer
    layer_python: Path
    boto3_dir: Path
    images_layer_python: Path  # ImagesLayer's python/: Pillow and pressline/images

    def opt_python(self, function: str) -> Path:
        """``/opt/python`` as Lambda makes it for ``function``: its layers unpacked in order into
        one directory (the image function's pressline/images joins the shared pressline)."""
        layers = [self.layer_python, *([self.images_layer_python] if function in OWN_LAYERS else [])]
        if len(layers) == 1:
            return self.layer_python
        merged = self.root.parent / f"opt-{function}" / "python"
        if not merged.exists():
            for layer in layers:
                shutil.copytree(layer, merged, dirs_exist_ok=True)
        return merged


# Functions with a layer of their own beside the shared one (template.yaml).
OWN_LAYERS = {"ImageFunction": "ImagesLayer"}


@pytest.fixture(scope="module")
def boto3_dir() -> Path:
    """boto3 and its dependencies alone, for Python 3.12: what the Lambda runtime adds to sys.path.

    Cached under .aws-sam/ by version (the same boto3 as the dev venv); installed into a temporary
    folder first, so a half-finished install is never taken for a cache hit.
    """
    pinned = version("boto3")
    target = WORK_DIR / "test-cache" / f"boto3-{pinned}-py312"
    if (target / "boto3" / "__init__.py").exists():
        return target
    staging = target.with_name(f"{target.name}.{uuid.uuid4().hex}")
    result = run(
        [python312(), "-m", "pip", "install", "--quiet", "--no-compile", "--target", staging, f"boto3=={pinned}"],
        env=offline_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    try:
        staging.rename(target)
    except OSError:  # another run finished first: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return target


@pytest.fixture(scope="module")
def build(boto3_dir: Path) -> Iterator[Build]:
    work = WORK_DIR / f"pytest-build-{uuid.uuid4().hex[:12]}"
    build_dir = work / "build"
    # python3.12 must be on PATH for lambda-builders' pip (no container).
    env = offline_env(PATH=f"{python312().parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = run(
        [tools_bin() / "sam", "build", "--template", TEMPLATE, "--build-dir", build_dir, "--base-dir", ROOT],
        env=env,
        timeout=900,
    )
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Build Succeeded" in result.stdout + result.stderr
        layers = sorted(path.name for path in build_dir.iterdir() if path.is_dir() and (path / "python").is_dir())
        assert layers == ["ImagesLayer", "SharedLayer"], layers
        yield Build(
            root=build_dir,
            layer_python=build_dir / "SharedLayer" / "python",
            boto3_dir=boto3_dir,
            images_layer_python=build_dir / "ImagesLayer" / "python",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_build_writes_every_function_and_the_layer(build: Build) -> None:
    built = {path.name for path in build.root.iterdir() if path.is_dir()}
    expected = {spec.logical_id for spec in FUNCTIONS}
    assert expected <= built, f"not built: {sorted(expected - built)}"
    built_template = yaml_parse((build.root / "template.yaml").read_text(encoding="utf-8"))
    for spec in FUNCTIONS:
        code_uri = built_template["Resources"][spec.logical_id]["Properties"]["CodeUri"]
        assert (build.root / code_uri).resolve() == (build.root / spec.logical_id).resolve()


def _layer_requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "shared" / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[name.strip().lower().replace("-", "_")] = pinned.strip()
    return pins


def test_layer_holds_the_package_and_its_pinned_dependencies(build: Build) -> None:
    installed = {}
    for dist_info in build.layer_python.glob("*.dist-info"):
        name, _, rest = dist_info.name.removesuffix(".dist-info").partition("-")
        installed[name.lower().replace("-", "_")] = rest
    for name, pinned in _layer_requirements().items():
        assert installed.get(name) == pinned, f"layer has {name} {installed.get(name)}, requirements pin {pinned}"
    assert not {"boto3", "botocore"} & installed.keys(), "the Lambda runtime provides boto3; the layer must not"
    package = build.layer_python / "pressline"
    assert (package / "__init__.py").exists(), "the pressline package is not in the layer"
    source_templates = {p.relative_to(ROOT / "shared") for p in (ROOT / "shared/pressline/site/templates").rglob("*")}
    built_templates = {p.relative_to(build.layer_python) for p in (package / "site/templates").rglob("*")}
    assert source_templates <= built_templates, f"templates missing: {sorted(source_templates - built_templates)}"


def test_the_layer_makefile_builds_for_the_template_runtime_and_architecture() -> None:
    """SAM gives a makefile build no runtime or architecture: shared/Makefile names its own, and
    they must be the functions' (Globals) and the layer's."""
    makefile = (ROOT / "shared" / "Makefile").read_text(encoding="utf-8")
    assigned = dict(re.findall(r"^(LAMBDA_[A-Z]+) :?= *(\S+)$", makefile, re.MULTILINE))
    sam = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    function_globals = sam["Globals"]["Function"]
    layer = sam["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert function_globals["Runtime"] == f"python{assigned['LAMBDA_PYTHON']}"
    assert layer["Properties"]["CompatibleRuntimes"] == [function_globals["Runtime"]]
    assert assigned["LAMBDA_ABI"] == "cp" + assigned["LAMBDA_PYTHON"].replace(".", "")
    assert function_globals["Architectures"] == [assigned["LAMBDA_ARCH"]]
    assert layer["Metadata"]["BuildArchitecture"] == assigned["LAMBDA_ARCH"]


# What shared/Makefile leaves out: never imported by a function (see the Makefile for why).
UNUSED_TOP_LEVEL = ("dns", "pycparser")  # dnspython's and pycparser's packages
UNUSED_DISTRIBUTIONS = ("dnspython", "pycparser")
UNUSED_FILES = (
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css",
)


def _layer_files(build: Build) -> list[Path]:
    return [path for path in build.layer_python.rglob("*") if path.is_file()]


def test_layer_leaves_out_what_no_function_runs(build: Build) -> None:
    layer = build.layer_python
    for package in DEV_ONLY_PACKAGES:  # the local stack, the import and the operator's commands
        assert not (layer / package.replace(".", "/")).exists(), f"{package} is in the layer"
    top_level_files = sorted(path.name for path in layer.iterdir() if path.is_file())
    strays = [name for name in top_level_files if not name.endswith((".py", ".so"))]
    assert not strays, f"not modules, yet at the layer's top level: {strays}"
    assert not (layer / "bin").exists(), "console scripts (bin/) are in the layer"
    present = [name for name in UNUSED_TOP_LEVEL if (layer / name).exists()]
    assert not present, f"packages no function imports are in the layer: {present}"
    dist_infos = [path.name for path in layer.glob("*.dist-info")]
    dropped = [name for name in dist_infos if name.split("-")[0].lower() in UNUSED_DISTRIBUTIONS]
    assert not dropped, f"metadata of dropped distributions left behind: {dropped}"
    assert not [name for name in UNUSED_FILES if (layer / name).exists()]
    files = _layer_files(build)
    assert not [path for path in files if path.suffix == ".pyi"], "type stubs are in the layer"
    unstripped = {
        path.name: sorted(names)
        for path in files
        if path.suffix == ".so" and (names := {n for n in _elf_sections(path) if n.startswith((".debug", ".symtab"))})
    }
    assert not unstripped, f"C extensions that keep their debug symbols (not stripped): {unstripped}"


def _elf_sections(path: Path) -> set[str]:
    """Section names of a 64-bit little-endian ELF file (the Lambda platform's)."""
    data = path.read_bytes()
    assert data[:6] == b"\x7fELF\x02\x01", f"{path.name} is not a 64-bit little-endian ELF file"
    table = int.from_bytes(data[0x28:0x30], "little")
    entry, count, names_index = (int.from_bytes(data[at : at + 2], "little") for at in (0x3A, 0x3C, 0x3E))

    def header(index: int) -> tuple[int, int, int]:
        start = table + index * entry
        name = int.from_bytes(data[start : start + 4], "little")
        offset = int.from_bytes(data[start + 0x18 : start + 0x20], "little")
        size = int.from_bytes(data[start + 0x20 : start + 0x28], "little")
        return name, offset, size

    _, strings_offset, strings_size = header(names_index)
    strings = data[strings_offset : strings_offset + strings_size]
    return {strings[header(i)[0] :].split(b"\0", 1)[0].decode() for i in range(count)}


def test_layer_carries_bytecode_for_the_runtime(build: Build) -> None:
    """Lambda's /opt is read-only: without .pyc files every cold start compiles what it imports.
    They must be the runtime's (cpython-312, its magic number) and never checked against the
    source (unchecked-hash: zip timestamps would make timestamp-checked files look stale)."""
    magic = run([python312(), "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"])
    assert magic.returncode == 0, magic.stderr
    sources = [path for path in _layer_files(build) if path.suffix == ".py"]
    assert len(sources) > 100
    missing, wrong = [], []
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        if not compiled.exists():
            missing.append(str(source.relative_to(build.layer_python)))
            continue
        header = compiled.read_bytes()[:8]
        # Flags (PEP 552): bit 0 hash-based, bit 1 check the source. Unchecked hash: 0b01.
        if header[:4].hex() != magic.stdout.strip() or int.from_bytes(header[4:8], "little") != 0b01:
            wrong.append(str(compiled.relative_to(build.layer_python)))
    assert not missing, f"no bytecode for {len(missing)} modules, e.g. {missing[:5]}"
    assert not wrong, f"bytecode that is not unchecked-hash for Python 3.12: {wrong[:5]}"


# Runs the pure cores and Powertools' batch and HTTP paths, and prints what they made: the same
# script in the built layer (Python 3.12) and in the development venv must print the same thing.
_EXERCISE = """
import json, sys, types
paths, examples, events = json.loads(sys.argv[1])
sys.path[:0] = paths
from datetime import UTC, datetime
from pathlib import Path
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from pressline.models import SourceRef
from pressline.site.pages import Site, render_post_page
from pressline.stages.render import render
from pressline.subscribers.addresses import InvalidAddress, normalize_address

now = datetime(2026, 3, 1, 12, tzinfo=UTC)
site = Site(title="Blog", url="https://blog.example", api_url="https://api.example", timezone="Europe/Paris")
out = {"posts": {}, "addresses": {}}
for path in examples:
    source = SourceRef(bucket="source", key="posts/" + Path(path).name, version_id="v1")
    result = render(Path(path).read_bytes(), source, uploaded_at=now, site=site, now=now)
    out["posts"][source.key] = {
        "errors": [problem.model_dump(mode="json") for problem in result.errors],
        "post": result.post.model_dump(mode="json") if result.post else None,
        "page": render_post_page(result.post, site) if result.post else None,
    }
for raw in ["Ada@Example.COM", "reader@b\u00fccher.example", "two@@example.com"]:
    try:
        out["addresses"][raw] = normalize_address(raw)
    except InvalidAddress as error:
        out["addresses"][raw] = f"invalid: {error}"

context = types.SimpleNamespace(
    function_name="probe", function_version="1", memory_limit_in_mb=512, aws_request_id="request-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:probe",
    get_remaining_time_in_millis=lambda: 30000,
)
sqs = json.loads(Path(events["sqs"]).read_text())
record = sqs["Records"][0]
sqs["Records"] = [record, {**record, "messageId": "poison", "body": "poison"}]
def handle_record(record):
    if record.body == "poison":
        raise ValueError("poison")
    return record.body
processor = BatchProcessor(event_type=EventType.SQS)
out["batch"] = process_partial_response(sqs, handle_record, processor, context)

logger = Logger(service="probe", level="ERROR")
app = APIGatewayHttpResolver()
@app.post("/subscriptions")
def subscribe():
    return {"correlation_id": logger.get_correlation_id(), "body": app.current_event.json_body}
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event, context):
    return app.resolve(event, context)
out["http"] = handler(json.loads(Path(events["http"]).read_text()), context)
print(json.dumps(out, sort_keys=True))
"""


def test_the_layer_renders_and_validates_like_the_dev_venv(build: Build) -> None:
    """Pruned distributions, stripped C extensions and bytecode change nothing the functions do:
    YAML (libyaml), cmarkgfm (cffi), nh3, Jinja2, pydantic, email-validator (idna) and Powertools
    (batch, HTTP resolver, jmespath correlation ids) give the dev venv's results."""
    examples = sorted(str(path) for path in (ROOT / "examples" / "posts").glob("*.md"))
    events = {
        "sqs": str(ROOT / "events/render-request.json"),
        "http": str(ROOT / "events/subscriptions-subscribe-json.json"),
    }
    outputs = {}
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    for name, command, paths in (
        ("layer", [python312(), "-I", "-S"], [str(build.layer_python), str(build.boto3_dir)]),
        ("venv", [sys.executable, "-I"], []),
    ):
        result = subprocess.run(
            [*map(str, command), "-c", _EXERCISE, json.dumps([paths, examples, events])],
            capture_output=True, text=True, cwd=build.root, env=env, check=False, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, f"{name}:\n{result.stderr[-3000:]}"
        outputs[name] = json.loads(result.stdout.strip().splitlines()[-1])
    layer, venv = outputs["layer"], outputs["venv"]
    assert len(layer["posts"]) == len(examples) >= 3
    assert any(post["post"] for post in layer["posts"].values()), "no example post rendered"
    assert layer["addresses"]["Ada@Example.COM"] == "Ada@example.com"
    assert layer["batch"] == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert layer["http"]["statusCode"] == 200 and re.search(r'"correlation_id": ?"', layer["http"]["body"])
    for part in ("posts", "addresses", "batch", "http"):
        assert _canonical(layer[part]) == _canonical(venv[part]), f"{part}: the built layer and the dev venv differ"


_ATTRIBUTE = re.compile(r'[^\s=>/]+(?:="[^"]*")?')
_START_TAG = re.compile(r"<([a-zA-Z][\w-]*)((?:\s+[^\s=>/]+(?:=\"[^\"]*\")?)+)\s*(/?)>")


def _canonical(value: Any) -> Any:
    """Attributes of every start tag in sorted order: nh3 adds the attributes it sets (loading,
    decoding) in an order that varies from one process to the next."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, str) and "<" in value:
        return _START_TAG.sub(lambda m: f"<{m[1]} {' '.join(sorted(_ATTRIBUTE.findall(m[2])))}{m[3]}>", value)
    return value


# --------------------------------------------------------------------------- imports
# Run in the fresh interpreter: sys.path is set explicitly, the module imported, and the origin
# of every top-level module reported back so the test can prove nothing came from elsewhere.
_PROBE = """
import importlib, json, sys
paths, module, attribute, extra = json.loads(sys.argv[1])
sys.path[:0] = paths
handler = getattr(importlib.import_module(module), attribute) if module else None
assert handler is None or callable(handler), f"{module}.{attribute} is not callable"
for name in extra:
    importlib.import_module(name)
import sysconfig
origins = {name: getattr(mod, "__file__", None) for name, mod in list(sys.modules.items()) if "." not in name}
dirs = sysconfig.get_paths()
stdlib = [dirs["stdlib"], dirs["platstdlib"]]
site = [dirs["purelib"], dirs["platlib"]]
print(json.dumps({"origins": origins, "stdlib": stdlib, "site": site}))
"""


def _under(path: str, roots: list[str]) -> bool:
    return any(Path(path).resolve().is_relative_to(Path(root).resolve()) for root in roots)


def probe(
    build: Build,
    function_dir: Path | None,
    module: str,
    attribute: str,
    extra: list[str],
    env: dict[str, str],
    opt_python: Path | None = None,
) -> dict[str, str | None]:
    """Import in a fresh Python 3.12 that sees only the given deployment; return module origins.
    ``opt_python``: the function's layers merged (default: the shared layer alone)."""
    layer = opt_python or build.layer_python
    paths = [str(path) for path in (function_dir, layer, build.boto3_dir) if path is not None]
    result = subprocess.run(
        # -I: ignore PYTHON* variables and user site; -S: no site-packages at all.
        [str(python312()), "-I", "-S", "-c", _PROBE, json.dumps([paths, module, attribute, extra])],
        capture_output=True,
        text=True,
        cwd=build.root,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"import failed with sys.path {paths}:\n{result.stderr}\n(runtime code may import only the layer's "
        f"requirements and boto3; developer-only modules belong under {', '.join(DEV_ONLY_PACKAGES)})"
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    origins: dict[str, str | None] = report["origins"]
    strays = {
        name: origin
        for name, origin in origins.items()
        if origin
        and not _under(origin, paths)
        and (not _under(origin, report["stdlib"]) or _under(origin, report["site"]))
    }
    assert not strays, f"modules loaded from outside the deployment: {strays}"
    return origins


def lambda_env(spec: FunctionSpec, function_dir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "LAMBDA_TASK_ROOT": str(function_dir),
        **spec.environment,
    }


@pytest.mark.parametrize("spec", FUNCTIONS, ids=[spec.logical_id for spec in FUNCTIONS])
def test_built_handler_imports_with_only_the_function_layer_and_boto3(build: Build, spec: FunctionSpec) -> None:
    function_dir = build.root / spec.logical_id
    handler_file = function_dir / (spec.handler_module.replace(".", "/") + ".py")
    assert handler_file.exists(), f"{spec.logical_id}: {handler_file.relative_to(build.root)} was not built"
    opt_python = build.opt_python(spec.logical_id)
    origins = probe(
        build, function_dir, spec.handler_module, spec.handler_attribute, [], lambda_env(spec, function_dir), opt_python
    )
    assert Path(str(origins["pressline"])).is_relative_to(opt_python), "pressline did not come from the layer"
    # Pillow only where its layer is: the other functions' cold start and size are untouched.
    assert ("PIL" in origins) == (spec.logical_id in OWN_LAYERS), f"{spec.logical_id}: PIL loaded: {'PIL' in origins}"


def test_the_images_layer_holds_pillow_and_the_image_package_only(build: Build) -> None:
    layer = build.images_layer_python
    installed = {path.name.removesuffix(".dist-info") for path in layer.glob("*.dist-info")}
    requirements = (ROOT / "shared/requirements-images.txt").read_text(encoding="utf-8").splitlines()
    pinned = {line.split("#", 1)[0].strip().replace("==", "-") for line in requirements} - {""}
    assert installed == pinned
    # Only pressline/images: a pressline/__init__.py here would be unpacked over the shared layer's.
    assert sorted(path.name for path in (layer / "pressline").iterdir()) == ["images"]
    sources = {p.relative_to(ROOT / "shared") for p in (ROOT / "shared/pressline/images").glob("*.py")}
    assert sources == {p.relative_to(layer) for p in (layer / "pressline/images").glob("*.py")}
    assert all((path.parent / "__pycache__" / f"{path.stem}.cpython-312.pyc").exists() for path in layer.rglob("*.py"))
    assert not (build.layer_python / "PIL").exists() and not (build.layer_python / "pressline/images").exists()


# The phone photo with GPS of tests/corpus/images, made into variants by the built layers and by
# the dev venv: the same formats and sizes (the Lambda wheel of Pillow writes AVIF too), and no
# EXIF in any.
_PROCESS = """
import io, json, sys
paths, photo = json.loads(sys.argv[1])
sys.path[:0] = paths
from pathlib import Path
from PIL import Image
from pressline.images import process
result = process(Path(photo).read_bytes(), "posts/photo.jpg")
found = []
for variant in result.variants:
    image = Image.open(io.BytesIO(variant.data))
    found.append([variant.format, image.format, image.size, len(image.getexif()), b"GPS" in variant.data])
print(json.dumps({"rejected": result.rejected, "variants": found}))
"""


def test_the_image_function_layers_make_the_variants_the_dev_venv_makes(build: Build, tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests/corpus/images"))
    import make_images

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make_images.photo_with_gps((1000, 750)))
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    outputs = {}
    for name, command, paths in (
        ("layers", [python312(), "-I", "-S"], [str(build.opt_python("ImageFunction")), str(build.boto3_dir)]),
        ("venv", [sys.executable, "-I"], []),
    ):
        result = subprocess.run(
            [*map(str, command), "-c", _PROCESS, json.dumps([paths, str(photo)])],
            capture_output=True, text=True, cwd=build.root, env=env, check=False, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, f"{name}:\n{result.stderr[-3000:]}"
        outputs[name] = json.loads(result.stdout.strip().splitlines()[-1])
    layers = outputs["layers"]
    assert layers["rejected"] is None and {v[1] for v in layers["variants"]} == {"AVIF", "WEBP", "JPEG"}
    assert all(exif == 0 and not gps for *_, exif, gps in layers["variants"])
    assert layers == outputs["venv"]


def _runtime_modules(package_root: Path) -> tuple[list[str], list[str]]:
    """Every pressline module that can run in Lambda, and every third-party module they import."""
    modules: list[str] = []
    third_party: set[str] = set()
    for path in sorted((package_root / "pressline").rglob("*.py")):
        relative = path.relative_to(package_root).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        if name.startswith(DEV_ONLY_PACKAGES):
            continue
        modules.append(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                third_party.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                third_party.add(node.module)
    third_party = {name for name in third_party if name.split(".")[0] not in {"pressline", *sys.stdlib_module_names}}
    return modules, sorted(third_party)


def test_every_runtime_module_of_the_layer_imports(build: Build) -> None:
    """Imports inside functions (lazy, for cold starts) are imported here too."""
    modules, third_party = _runtime_modules(build.layer_python)
    assert "pressline.models" in modules
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    origins = probe(build, None, "", "", [*third_party, *modules], env)
    assert Path(str(origins["pressline"])).is_relative_to(build.layer_python)


def test_yaml_in_the_layer_has_the_libyaml_loader(build: Build) -> None:
    """Front matter is parsed with CSafeLoader (about 8x faster): the layer's PyYAML must carry libyaml."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    probe(build, None, "yaml", "CSafeLoader", [], env)
