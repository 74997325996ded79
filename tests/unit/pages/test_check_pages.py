"""``pressline check`` on a folder with ``pages/``: pages get the page rules (their names,
the navigation fields), and a page's name is no post's slug."""

from __future__ import annotations

from pathlib import Path

import pytest

from pressline.cli import main
from pressline.posts.check import source_key


def test_a_file_in_a_pages_folder_is_a_page(tmp_path: Path) -> None:
    assert source_key(tmp_path / "site" / "pages" / "about.md") == "pages/about.md"
    assert source_key(tmp_path / "site" / "posts" / "pages" / "about.md") == "posts/pages/about.md"
    assert source_key(tmp_path / "about.md") == "posts/about.md"


def test_pages_are_checked_with_the_page_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "posts").mkdir()
    (tmp_path / "pages" / "about.md").write_text("---\ntitle: About\nweight: 10\n---\n\nUs.\n", encoding="utf-8")
    (tmp_path / "posts" / "about.md").write_text("---\ntitle: About the post\n---\n\nA post.\n", encoding="utf-8")
    assert main(["check", "--strict", str(tmp_path)]) == 0  # no unknown-field warning, no slug clash

    (tmp_path / "pages" / "search.md").write_text("---\ntitle: Search\nnav: maybe\n---\n\nX\n", encoding="utf-8")
    assert main(["check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "search.md: file: the page name 'search' is one of the site's own addresses" in out
