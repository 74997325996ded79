"""The Hugo and Jekyll fixtures through ``pressline import --out``: every image is written beside
its post, no post still points at the old site, and every old address is an alias."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pressline.cli import main
from pressline.posts import frontmatter

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import"
_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "hugo",
            {
                "posts/yaml-post.md": ["/old/yaml-post.html", "/2019/03/legacy-yaml"],
                "posts/json-post.md": ["/custom/Json-Address/"],
            },
        ),
        ("jekyll", {"posts/welcome-to-jekyll.md": ["/2018/07/welcome.html", "/old-welcome/"]}),
    ],
)
def test_a_fixture_site_imports_self_contained(tmp_path: Path, source: str, expected: dict[str, list[str]]) -> None:
    out = tmp_path / "out"
    main(["import", str(FIXTURES / source), "--out", str(out), "--no-download", "--cache", str(tmp_path / "cache")])
    written = sorted(out.rglob("*.md"))
    assert len(written) == 7
    for path in written:
        document = frontmatter.split(path.read_text(encoding="utf-8"))
        assert "//old.example" not in document.body, path  # a mailto: address there is fine
        assert "//old.example" not in str({key: value for key, value in document.fields.items() if key != "aliases"})
        for target in _IMAGE.findall(document.body):
            assert (path.parent / target).is_file(), (path, target)
        image = document.fields.get("image")
        if image:
            assert (path.parent / image).is_file(), (path, image)
    for name, aliases in expected.items():
        fields = frontmatter.split((out / name).read_text(encoding="utf-8")).fields
        assert set(aliases) <= set(fields.get("aliases", [])), (name, fields.get("aliases"))
