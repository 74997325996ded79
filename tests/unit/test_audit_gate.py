"""The dependency-audit gate of `make lint` (.ci/audit_dependencies.py): vulnerabilities fail,
an audit that could not run is said out loud and fails only when an audit is required."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "audit_dependencies.py"


@pytest.fixture(scope="module")
def gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLEAN = {"name": "nh3", "version": "0.3.7", "vulns": []}
VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": [], "description": ""}],
}
SKIPPED = {"name": "pydantic", "skip_reason": "Dependency not found on PyPI and could not be audited: pydantic"}


def run(gate: ModuleType, dependencies: list[dict[str, Any]], require: bool = False) -> tuple[int, str]:
    code, lines = gate.verdict({"dependencies": dependencies, "fixes": []}, require_audit=require)
    return code, "\n".join(lines)


def test_clean_audit_passes(gate: ModuleType) -> None:
    code, text = run(gate, [CLEAN])
    assert code == 0 and "1 dependencies audited, no known vulnerabilities" in text


def test_a_vulnerability_fails_and_names_the_advisory_and_fix(gate: ModuleType) -> None:
    code, text = run(gate, [CLEAN, VULNERABLE])
    assert code == 1
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in text


def test_an_incomplete_audit_is_reported_and_passes_unless_required(gate: ModuleType) -> None:
    code, text = run(gate, [CLEAN, SKIPPED])
    assert code == 0 and "1 of 2 dependencies NOT AUDITED" in text
    code, text = run(gate, [CLEAN, SKIPPED], require=True)
    assert code == 1 and "incomplete audit fails" in text


def test_a_vulnerability_fails_even_when_other_dependencies_were_skipped(gate: ModuleType) -> None:
    assert run(gate, [VULNERABLE, SKIPPED])[0] == 1


def test_nothing_audited_fails(gate: ModuleType) -> None:
    assert run(gate, [])[0] == 1
