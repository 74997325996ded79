"""The Lambda layer's requirements (shared/requirements.txt) and pyproject's runtime
dependencies stay one list, pinned, and cover what the deployed package imports."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "pressline"
# The Lambda Python runtime provides these; bundling them would double the layer's size.
RUNTIME_PROVIDED = {"boto3", "botocore"}
# Sub-packages that never run in Lambda (the moto local stack; `pressline import`, on the author's
# machine, with the `import` extra): they may import dev tools.
DEV_ONLY = {PACKAGE / "local", PACKAGE / "importing", PACKAGE / "ops", PACKAGE / "preview"}
# Runs only in the image function: its own layer holds the `images` extra (Pillow) and this code,
# which shared/Makefile leaves out of the shared layer (no other function imports either).
OWN_LAYER = {PACKAGE / "images": "images"}


def _pins(requirements: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in requirements:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{name} is listed twice"
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{line!r} is not pinned with =="
        assert not requirement.marker, f"{line!r}: the layer is built for one platform, no markers"
        pins[name] = specifiers[0].version
    return pins


def layer_pins() -> dict[str, str]:
    lines = (ROOT / "shared" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return _pins([line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()])


def project_pins() -> dict[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies: list[str] = pyproject["project"]["dependencies"]
    return _pins(dependencies)


def test_layer_and_project_list_the_same_pins() -> None:
    layer, project = layer_pins(), project_pins()
    assert layer, "shared/requirements.txt lists nothing"
    only_layer = {name: layer[name] for name in layer.keys() - project.keys()}
    only_project = {name: project[name] for name in project.keys() - layer.keys()}
    assert not only_layer and not only_project, (
        f"only in shared/requirements.txt: {only_layer}; only in pyproject dependencies: {only_project}"
    )
    differing = {name: (layer[name], project[name]) for name in layer if layer[name] != project[name]}
    assert not differing, f"pins differ (layer, pyproject): {differing}"


def test_layer_does_not_bundle_what_the_runtime_provides() -> None:
    bundled = RUNTIME_PROVIDED & layer_pins().keys()
    assert not bundled, f"{sorted(bundled)} come with the Lambda runtime; keep them out of the layer"


def _distribution_closure(roots: set[str]) -> set[str]:
    """The roots and everything they require (per the installed metadata), canonical names."""
    seen: set[str] = set()
    pending = [canonicalize_name(name) for name in roots]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            dependencies = requires(name) or []
        except PackageNotFoundError:
            continue  # reported by the test below as a missing distribution
        for line in dependencies:
            requirement = Requirement(line)
            # Extras are not installed in the layer; other markers are evaluated for this Python.
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            pending.append(canonicalize_name(requirement.name))
    return seen


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> files importing it, over the runtime (non dev-only) package."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if any(path.is_relative_to(apart) for apart in (*DEV_ONLY, *OWN_LAYER)):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".", 1)[0]
                if top != "pressline" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_runtime_import_is_provided_by_the_layer_or_the_lambda_runtime() -> None:
    provided = _distribution_closure(set(layer_pins())) | RUNTIME_PROVIDED
    owners = packages_distributions()
    imports = _third_party_imports()
    assert imports, "found no third-party imports: is the package path right?"
    missing = {}
    for module, files in imports.items():
        distributions = {canonicalize_name(name) for name in owners.get(module, [module])}
        if not distributions & provided:
            missing[module] = sorted(files)
    assert not missing, f"imported at run time but not in shared/requirements.txt (nor a dependency): {missing}"


def _extras() -> dict[str, list[str]]:
    extras: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    return extras


# The requirements file each own layer is built from (shared/Makefile), per extra.
OWN_LAYER_REQUIREMENTS = {"images": ROOT / "shared" / "requirements-images.txt"}


def test_each_own_layer_pins_its_extra_and_nothing_the_shared_layer_has() -> None:
    extras = _extras()
    for extra, path in OWN_LAYER_REQUIREMENTS.items():
        lines = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
        pinned = _pins([line for line in lines if line])
        assert pinned == _pins(extras[extra]), f"{path.name} and pyproject's {extra} extra differ"
        shared = _distribution_closure(set(layer_pins())) | RUNTIME_PROVIDED
        assert not pinned.keys() & shared, f"{path.name} repeats what the shared layer has: {pinned.keys() & shared}"


def test_the_image_package_imports_only_its_own_extra_and_no_other_package_imports_it() -> None:
    """The image package imports its extra and what the shared layer (which the image function
    also has) or the runtime provides; no module outside it imports it."""
    extras = _extras()
    owners = packages_distributions()
    shared = _distribution_closure(set(layer_pins())) | RUNTIME_PROVIDED
    for folder, extra in OWN_LAYER.items():
        allowed = {canonicalize_name(Requirement(line).name) for line in extras[extra]} | shared
        for path in sorted(folder.rglob("*.py")):
            for top in _imported_modules(path):
                if top != "pressline" and top not in sys.stdlib_module_names:
                    distributions = {canonicalize_name(name) for name in owners.get(top, [top])}
                    assert distributions & allowed, (
                        f"{path.relative_to(ROOT)} imports {top}, neither in the {extra} extra nor the shared layer"
                    )
    modules = tuple(".".join(folder.relative_to(ROOT / "shared").parts) for folder in OWN_LAYER)
    # Modules in no layer (DEV_ONLY: `pressline preview` and the like, run where `make install`
    # put every extra) may use it; no module a function runs may.
    for path in sorted(PACKAGE.rglob("*.py")):
        if not any(path.is_relative_to(apart) for apart in (*OWN_LAYER, *DEV_ONLY)):
            imported = {name for name in _imported_names(path) if name.startswith(modules)}
            assert not imported, (
                f"{path.relative_to(ROOT)} imports {imported}: only the image function has Pillow "
                "(a module only it loads goes in OWN_LAYER)"
            )


def _imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def _imported_modules(path: Path) -> set[str]:
    return {name.split(".", 1)[0] for name in _imported_names(path)}
