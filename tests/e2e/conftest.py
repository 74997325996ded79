"""Browser tests against ``pressline local``: run by ``make e2e`` (``pytest -m e2e tests/e2e``).

The plain ``make test`` run does not collect this folder: it needs Chromium, Playwright and
axe-core, which ``make e2e`` installs. Collected only when the marker expression names ``e2e``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"


def _selected(config: pytest.Config) -> bool:
    return "e2e" in (config.option.markexpr or "")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name in ("node_modules", "artifacts", "pressline_e2e"):
        return True
    return None if _selected(config) else True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    # Keep the page's state of a failed test: tests/e2e/artifacts/<test>.png (git-ignored).
    report = yield
    if report.when == "call" and report.failed:
        page = getattr(item, "funcargs", {}).get("page")
        if page is not None:
            ARTIFACTS.mkdir(exist_ok=True)
            name = "".join(c if c.isalnum() or c in "-_." else "_" for c in item.name)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as error:  # a closed page must not hide the real failure
                report.sections.append(("screenshot", f"could not save: {error!r}"))
    return report


@pytest.fixture(scope="session")
def site() -> Iterator[Any]:
    from pressline_e2e.stack import local_site

    with local_site() as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright
    from pressline_e2e.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh 1280 px wide page (tests resize it to 375 px where they check both widths)."""
    from pressline_e2e.browser import new_context

    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
