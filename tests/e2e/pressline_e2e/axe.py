"""axe-core (from the npm registry, `npm ci` in tests/e2e) injected into a page."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE_JS = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

RUN_JS = """
async () => {
  const results = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
  }));
}
"""


@cache
def _source() -> str:
    return AXE_JS.read_text(encoding="utf-8") + "\n;void 0"


def violations(page: Any) -> list[dict[str, Any]]:
    """Every axe violation on the page as it is now (WCAG 2.2 A/AA and best practices)."""
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run `make e2e` (npm ci in tests/e2e)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, not as a <script>: a page's strict
        # Content-Security-Policy (the API's pages have default-src 'none') must not block
        # the checker, and bypassing CSP for the whole context would hide the page's own
        # CSP problems.
        page.evaluate(_source())
    result: list[dict[str, Any]] = page.evaluate(RUN_JS)
    return result


def serious(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [v for v in found if v.get("impact") in BLOCKING_IMPACTS]


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for v in found:
        lines.append(f"- [{v['impact']}] {v['id']}: {v['help']}")
        lines.extend(f"    {n['target']}: {n['summary']}".replace("\n", " ") for n in v["nodes"])
    return "\n".join(lines)
