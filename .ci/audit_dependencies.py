"""Audit the Lambda layer's pinned requirements with pip-audit (run by `make lint`).

Usage: .venv-tools/bin/python .ci/audit_dependencies.py shared/requirements.txt

Fails on any known vulnerability. pip-audit gets advisories from PyPI's JSON API
(https://pypi.org/pypi/<name>/<version>/json), which needs the network; where that API cannot
be reached (offline, or a mirror that serves only the simple index) every dependency comes
back "skipped" and pip-audit itself would still say "No known vulnerabilities found". This
script says NOT AUDITED instead, loudly, and fails then only if PRESSLINE_REQUIRE_AUDIT=1
(set it wherever the API is reachable, so that a silent gap cannot pass there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def verdict(report: dict[str, Any], require_audit: bool) -> tuple[int, list[str]]:
    """The exit code and the lines to print for a pip-audit JSON report."""
    dependencies = report.get("dependencies", [])
    lines = []
    vulnerable = [dep for dep in dependencies if dep.get("vulns")]
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
            lines.append(f"VULNERABLE {dep['name']} {dep.get('version', '?')}: {vuln['id']} (fixed in {fixed})")
    skipped = [dep for dep in dependencies if "skip_reason" in dep]
    if skipped:
        lines.append(
            f"pip-audit: {len(skipped)} of {len(dependencies)} dependencies NOT AUDITED (advisory database "
            f"unreachable?): {skipped[0]['skip_reason']}"
        )
    if vulnerable:
        return 1, lines
    if skipped:
        if require_audit:
            lines.append("PRESSLINE_REQUIRE_AUDIT=1: an incomplete audit fails")
            return 1, lines
        lines.append("pip-audit: continuing without the audit (set PRESSLINE_REQUIRE_AUDIT=1 to fail instead)")
        return 0, lines
    if not dependencies:
        return 1, ["pip-audit: no dependencies were audited"]
    lines.append(f"pip-audit: {len(dependencies)} dependencies audited, no known vulnerabilities")
    return 0, lines


def main() -> int:
    requirements = sys.argv[1]
    pip_audit = Path(sys.executable).parent / "pip-audit"
    # The tools venv's own pip-audit, on a path from the Makefile: no untrusted input.
    result = subprocess.run(  # noqa: S603
        [str(pip_audit), "--progress-spinner", "off", "--format", "json", "--requirement", requirements],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        sys.stderr.write(result.stderr)
        print(f"pip-audit could not audit {requirements} (exit {result.returncode}); see above")
        return 1
    code, lines = verdict(report, require_audit=os.environ.get("PRESSLINE_REQUIRE_AUDIT") == "1")
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
