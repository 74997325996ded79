"""Debian's Chromium, driven by Playwright. Playwright never downloads a browser here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("PRESSLINE_CHROMIUM", "/usr/bin/chromium"))
# The machine's network is closed: without the background-networking flags Chromium's own
# connections (updates, sync, QUIC probes) are refused, many at a time. --no-sandbox because CI
# runs as root. Playwright's launch() gives every browser a new, empty --user-data-dir.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = (375, 1280)
HEIGHT = 900


def launch(playwright: Any) -> Any:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make e2e` installs Debian's chromium package")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def new_context(
    browser: Any,
    width: int = 1280,
    color_scheme: str = "light",
    device_scale_factor: float = 1,
    *,
    javascript: bool = True,
) -> Any:
    return browser.new_context(
        viewport={"width": width, "height": HEIGHT},
        device_scale_factor=device_scale_factor,
        color_scheme=color_scheme,
        reduced_motion="reduce",
        locale="en-GB",
        timezone_id="UTC",
        java_script_enabled=javascript,
    )


# Horizontal scrolling: the document is wider than the viewport. Also names the elements that
# stick out, so a failure says what to fix.
OVERFLOW_JS = """
() => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const offenders = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    let clipped = false;  // inside a scrolling or clipping box: no page scroll
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (style.overflowX !== 'visible') { clipped = true; break; }
    }
    if (clipped) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.classList.length ? '.' + [...el.classList].join('.') : '');
    offenders.push(name + ' right=' + Math.round(box.right));
    if (offenders.length >= 8) break;
  }
  return {scrollWidth: root.scrollWidth, clientWidth: width, offenders};
}
"""


def horizontal_overflow(page: Any) -> dict[str, Any] | None:
    """None when the page fits its viewport's width; else the widths and the offenders."""
    result: dict[str, Any] = page.evaluate(OVERFLOW_JS)
    return result if result["scrollWidth"] > result["clientWidth"] else None
