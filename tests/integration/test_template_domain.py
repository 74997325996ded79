"""template.yaml with a custom domain passes the template checks of `make lint` (sam validate
--lint, cfn-lint, checkov) as it does without one (test_template.py, `make lint`).

checkov and `sam validate` judge the template with its parameters' defaults, so each case is the
template with that case's values as defaults, written to a temporary file. Offline: fake
credentials, no telemetry (as `make lint`).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from test_template import offline_env  # make lint's offline environment, one definition

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
TOOLS = Path(os.environ.get("PRESSLINE_TOOLS_BIN") or ROOT / ".venv-tools" / "bin")
CHECKOV = TOOLS.parent / "checkov" / "bin" / "checkov"
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
CASES = {
    "certificate": {"DomainName": "blog.example.com", "CertificateArn": CERTIFICATE_ARN},
    "hosted-zone": {"DomainName": "blog.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"},
    # Issue 15: the SES domain identity (DKIM, MAIL FROM) and its DNS records output.
    "email-domain": {"EmailDomain": "example.com", "DmarcReportEmail": "dmarc@example.com"},
}

pytestmark = pytest.mark.slow


def _with_defaults(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        declared = f'\n  {name}:\n    Type: String\n    Default: ""'
        assert text.count(declared) == 1, f"{name}: no empty default to replace in template.yaml"
        text = text.replace(declared, declared.removesuffix('""') + f'"{value}"')
    return text


@pytest.fixture(params=sorted(CASES))
def domain_template(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if not (TOOLS / "sam").exists() or not CHECKOV.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no sam or checkov under {TOOLS}: run `make tools`")
        pytest.skip(f"no sam or checkov under {TOOLS}: run `make tools`")
    path = tmp_path / "template.yaml"
    path.write_text(_with_defaults(TEMPLATE.read_text(encoding="utf-8"), CASES[request.param]), encoding="utf-8")
    return path


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, cwd=ROOT, env=offline_env(), check=False
    )


def test_a_domain_template_passes_sam_validate_cfn_lint_and_checkov(domain_template: Path) -> None:
    validate = _run(TOOLS / "sam", "validate", "--lint", "--template", domain_template)
    assert validate.returncode == 0 and "is a valid SAM Template" in validate.stdout + validate.stderr, (
        validate.stdout + validate.stderr
    )
    lint = _run(TOOLS / "cfn-lint", domain_template)
    assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout + lint.stderr
    checkov = _run(
        CHECKOV, "--quiet", "--compact", "--config-file", ROOT / ".ci" / "checkov.yaml", "--file", domain_template
    )
    assert checkov.returncode == 0 and "Failed checks: 0" in checkov.stdout, checkov.stdout + checkov.stderr
