"""``pressline preview`` in Chromium: a save reloads the open page by itself, under the site's
Content-Security-Policy (the reload script is a file of the site's origin, its event stream
same-origin), and a draft's page carries its banner. No CSP violation on any of them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pressline_e2e.stack import EXAMPLES

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LISTEN_JS = """
document.addEventListener('securitypolicyviolation', (event) => {
  window.__violations = (window.__violations || []).concat([event.effectiveDirective + ' ' + event.blockedURI]);
});
"""


@contextmanager
def preview(folder: Path) -> Iterator[str]:
    command = [sys.executable, "-m", "pressline.cli", "preview", str(folder), "--port", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        assert found
        yield found.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_save_reloads_the_open_page_under_the_csp(page: Any, tmp_path: Path) -> None:
    folder = tmp_path / "blog"
    shutil.copytree(EXAMPLES.parent, folder)
    post = folder / "posts" / "welcome-to-pressline.md"
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(LISTEN_JS)
    with preview(folder) as origin:
        page.goto(f"{origin}/posts/welcome-to-pressline/")
        page.wait_for_selector("html[data-preview='live']")  # its event stream has the first build
        violations = page.evaluate("() => window.__violations || []")
        post.write_text(post.read_text(encoding="utf-8") + "\nWritten while the page was open.\n", encoding="utf-8")
        page.wait_for_function("() => document.body.innerText.includes('Written while the page was open.')")
        page.wait_for_selector("html[data-preview='live']")  # the reloaded page listens again
        violations += page.evaluate("() => window.__violations || []")

        page.goto(f"{origin}/posts/roadmap-next-quarter/")
        banner = page.locator(".pressline-preview-banner")
        assert banner.is_visible() and "Draft" in banner.inner_text()
        violations += page.evaluate("() => window.__violations || []")
    assert violations == []
    assert not [text for text in console if "Content Security Policy" in text]
