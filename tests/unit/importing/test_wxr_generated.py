"""The benchmark's generated WordPress export (tests/bench/wxrgen.py) reads back whole."""

from __future__ import annotations

import sys
from pathlib import Path

from pressline.importing.html import convert_html
from pressline.importing.model import ImportedItem
from pressline.importing.wxr import WxrSource

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import wxrgen  # type: ignore[import-not-found]  # tests/bench, put on the path above


def test_a_generated_export_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    generated = wxrgen.write_wxr(path, 60, "http://old.example")
    again = wxrgen.write_wxr(tmp_path / "again.xml", 60, "http://old.example")
    assert path.read_bytes() == (tmp_path / "again.xml").read_bytes() and again.images == generated.images

    source = WxrSource(path)
    results = list(source.items())
    assert all(isinstance(result, ImportedItem) for result in results)
    items = [result for result in results if isinstance(result, ImportedItem)]
    posts = [item for item in items if item.kind == "post"]
    assert len(posts) == generated.posts + generated.drafts == 60
    assert sum(item.draft for item in posts) == generated.drafts == 1
    assert sum(item.kind == "page" for item in items) == generated.pages == 3
    assert source.skipped == {"attachment": len(range(0, 60, wxrgen.FEATURED_EVERY))}

    covers = {item.image for item in posts if item.image}
    assert covers == {f"http://old.example{path}" for path in generated.images if "/cover-" in path}
    by_url = {item.old_urls[0]: item for item in posts if item.old_urls}
    for old, target in generated.links.items():
        assert f'href="{target}"' in by_url[old].body
    for item in posts:
        assert item.tags[0] in wxrgen.CATEGORIES and 2 <= len(item.tags) <= 3  # a category, two tags (maybe one twice)
        markdown = convert_html(item.body).markdown
        assert "wp:" not in markdown and "```python" in markdown and "## What changes" in markdown
        assert "5 \\* 3 = 15" in markdown
