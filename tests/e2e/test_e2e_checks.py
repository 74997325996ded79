"""The checkers themselves can fail: axe-core and the overflow check, on pages made bad on
purpose (served by Playwright's router, no stack needed), under a strict Content-Security-Policy
like the API's."""

from __future__ import annotations

from typing import Any

import pytest
from pressline_e2e import axe
from pressline_e2e.browser import horizontal_overflow

pytestmark = pytest.mark.e2e

ORIGIN = "http://checks.e2e.invalid"
STRICT_CSP = "default-src 'none'; style-src 'unsafe-inline'"
GOOD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Fine</title></head>
<body><main><h1>Fine</h1><p>Readable text.</p></main></body></html>"""
BAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Bad</title></head>
<body><main><h1>Bad</h1><p style="color:#bbb;background:#fff">Faint text.</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<div style="width:900px">A box wider than a phone.</div></main></body></html>"""


def serve(page: Any, html: str) -> None:
    page.route(
        f"{ORIGIN}/**",
        lambda route: route.fulfill(
            status=200, body=html, headers={"Content-Type": "text/html", "Content-Security-Policy": STRICT_CSP}
        ),
    )
    page.goto(f"{ORIGIN}/")


def test_axe_runs_under_a_strict_csp_and_finds_serious_violations(page: Any) -> None:
    serve(page, BAD)
    found = {v["id"] for v in axe.serious(axe.violations(page))}
    assert {"color-contrast", "image-alt"} <= found, found


def test_axe_passes_a_good_page(page: Any) -> None:
    serve(page, GOOD)
    assert axe.serious(axe.violations(page)) == []


def test_overflow_check_finds_a_too_wide_box_at_375_only(page: Any) -> None:
    serve(page, BAD)
    assert horizontal_overflow(page) is None  # 1280 px: the 900 px box fits
    page.set_viewport_size({"width": 375, "height": 900})
    found = horizontal_overflow(page)
    assert found is not None and found["scrollWidth"] > 375, found
    assert any(name.startswith("div") for name in found["offenders"]), found
