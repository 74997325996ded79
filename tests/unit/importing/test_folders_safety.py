"""Hostile and broken site folders: nothing outside the folder is ever read (links out, ``..``
in references), hidden and huge files are reported, broken front matter is one problem, and
any bytes in a content file are an item or a problem, never an exception."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressline.importing import folders
from pressline.importing.folders import HugoSource, JekyllSource
from pressline.importing.model import ImportedItem, ItemProblem
from pressline.importing.templates import convert_liquid, convert_shortcodes

SECRET = "TOP-SECRET-OUTSIDE-THE-FOLDER"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _post(body: str = "Hello.", **fields: str) -> str:
    lines = "".join(f"{key}: {value}\n" for key, value in {"title": "A post", **fields}.items())
    return f"---\n{lines}---\n{body}\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the site, with a secret text and a secret image in it."""
    place = tmp_path / "outside"
    _write(place, {"secret.md": _post(SECRET), "secret.png": PNG + SECRET.encode()})
    return place


def _hugo(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    site = tmp_path / "site"
    _write(site, {"hugo.toml": 'baseURL = "http://old.example/"\n', **files})
    return site


def _jekyll(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    site = tmp_path / "site"
    _write(site, {"_config.yml": "url: http://old.example\n", **files})
    return site


def _results(source: HugoSource | JekyllSource) -> tuple[list[ImportedItem], list[ItemProblem]]:
    results = list(source.items())
    assert all(isinstance(result, ImportedItem | ItemProblem) for result in results)
    return (
        [result for result in results if isinstance(result, ImportedItem)],
        [result for result in results if isinstance(result, ItemProblem)],
    )


def _assert_nothing_from_outside(items: list[ImportedItem], outside: Path) -> None:
    for item in items:
        assert SECRET not in item.model_dump_json()
        for asset in item.assets:
            assert not Path(asset.path or "").resolve().is_relative_to(outside.resolve())


# --------------------------------------------------------------------------- links and ..
def test_a_content_file_linked_outside_is_a_problem_and_never_read(tmp_path: Path, outside: Path) -> None:
    site = _hugo(tmp_path, {"content/posts/ok.md": _post()})
    os.symlink(outside / "secret.md", site / "content/posts/leak.md")
    items, problems = _results(HugoSource(site))
    assert [item.source_id for item in items] == ["content/posts/ok.md"]
    assert [problem.file for problem in problems] == ["content/posts/leak.md"]
    assert "outside the site folder" in problems[0].problem.message
    _assert_nothing_from_outside(items, outside)


def test_a_folder_linked_outside_is_a_problem_and_never_walked(tmp_path: Path, outside: Path) -> None:
    site = _jekyll(tmp_path, {"_posts/2020-01-01-ok.md": _post()})
    os.symlink(outside, site / "_posts" / "more")
    items, problems = _results(JekyllSource(site))
    assert [item.slug for item in items] == ["ok"]
    assert [problem.file for problem in problems] == ["_posts/more"]
    _assert_nothing_from_outside(items, outside)


def test_a_content_folder_that_is_a_link_outside_is_refused(tmp_path: Path, outside: Path) -> None:
    site = tmp_path / "site"
    _write(site, {"hugo.toml": ""})
    os.symlink(outside, site / "content")
    items, problems = _results(HugoSource(site))
    assert items == [] and len(problems) == 1


@pytest.mark.parametrize(
    "reference",
    [
        "../../../outside/secret.png",
        "/../../outside/secret.png",
        "/images/../../../outside/secret.png",
        "/%2e%2e/outside/secret.png",
        "/images/leak.png",  # a link inside static/ that points out
        "http://old.example/../outside/secret.png",
    ],
)
def test_no_reference_reaches_a_file_outside(tmp_path: Path, outside: Path, reference: str) -> None:
    site = _hugo(tmp_path, {"content/posts/post.md": _post(f"![x]({reference})"), "static/images/fine.png": PNG})
    os.symlink(outside / "secret.png", site / "static/images/leak.png")
    items, _ = _results(HugoSource(site))
    (item,) = items
    assert item.assets == ()
    _assert_nothing_from_outside(items, outside)


def test_a_bundle_file_linked_outside_is_not_an_asset(tmp_path: Path, outside: Path) -> None:
    site = _hugo(tmp_path, {"content/posts/b/index.md": _post("![a](a.png) ![s](s.png)"), "content/posts/b/a.png": PNG})
    os.symlink(outside / "secret.png", site / "content/posts/b/s.png")
    items, _ = _results(HugoSource(site))
    assert [asset.name for asset in items[0].assets] == ["a.png"]


# --------------------------------------------------------------------------- hidden, huge, broken
def test_hidden_content_files_are_reported_and_skipped(tmp_path: Path) -> None:
    site = _jekyll(tmp_path, {"_posts/.2020-01-01-hidden.md": _post(), "_posts/2020-01-01-seen.md": _post(),
                              ".git/config": "x", "_posts/.DS_Store": b"\x00\x01"})  # fmt: skip
    items, problems = _results(JekyllSource(site))
    assert [item.slug for item in items] == ["seen"]
    assert [(problem.file, "hidden" in problem.problem.message) for problem in problems] == [
        ("_posts/.2020-01-01-hidden.md", True)
    ]


def test_a_file_over_the_size_cap_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folders, "MAX_TEXT_BYTES", 1000)
    site = _hugo(tmp_path, {"content/posts/big.md": _post("x" * 2000), "content/posts/small.md": _post()})
    items, problems = _results(HugoSource(site))
    assert [item.source_id for item in items] == ["content/posts/small.md"]
    assert [problem.file for problem in problems] == ["content/posts/big.md"]
    assert "the limit is" in problems[0].problem.message


def test_an_image_over_the_size_cap_is_a_warning_not_an_asset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folders, "MAX_ASSET_BYTES", 100)
    site = _hugo(tmp_path, {"content/posts/p.md": _post("![a](/big.png)"), "static/big.png": PNG + b"\x00" * 200})
    items, _ = _results(HugoSource(site))
    assert items[0].assets == ()
    assert [warning.field for warning in items[0].warnings] == ["assets"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe not utf-8", "is not UTF-8"),
        (b"---\ntitle: x\x00\n---\n", "NUL"),
        (b"---\ntitle: unclosed\n", "never closed"),
        (b"+++\ntitle = \n+++\n", "is not valid TOML"),
        (b"+++\ntitle = 'x'\n", "never closed"),
        (b'{"title": ', "is not valid JSON"),
        (b"[1, 2]\n", ""),  # not front matter at all: a body
        (b"---\n- a list\n---\n", "mapping"),
        (b"---\n" + b"[" * 200 + b"\n---\n", "nested"),
    ],
)
def test_broken_front_matter_is_one_problem_and_the_rest_is_read(tmp_path: Path, content: bytes, expected: str) -> None:
    site = _hugo(tmp_path, {"content/posts/bad.md": content, "content/posts/good.md": _post()})
    items, problems = _results(HugoSource(site))
    assert "content/posts/good.md" in [item.source_id for item in items]
    if expected:
        assert [problem.file for problem in problems] == ["content/posts/bad.md"]
        assert expected in problems[0].problem.message
    else:
        assert problems == []


def test_a_broken_configuration_is_a_problem_and_defaults_are_used(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _write(site, {"config.toml": "baseURL = [", "content/posts/p.md": _post()})
    items, problems = _results(HugoSource(site))
    assert [problem.file for problem in problems] == ["config.toml"]
    assert items[0].old_urls == ("/posts/p/",)  # no address known: site-relative


def test_a_folder_without_content_is_one_problem(tmp_path: Path) -> None:
    items, problems = _results(HugoSource(tmp_path))
    assert items == [] and len(problems) == 1


# --------------------------------------------------------------------------- any bytes, any text
_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_FRONT = st.sampled_from(["", "---\n", "+++\n", "{", "---\ntitle: t\n---\n", '+++\ntitle = "t"\n+++\n'])


@_SETTINGS
@given(_FRONT, st.binary(max_size=300) | st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_any_content_file_is_an_item_or_a_problem(front: str, tail: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        hugo = _hugo(root / "h", {"content/posts/any.md": front.encode() + tail})
        jekyll = _jekyll(
            root / "j", {"_posts/2020-01-01-any.md": front.encode() + tail, "page.md": front.encode() + tail}
        )
        for source in (HugoSource(hugo), JekyllSource(jekyll)):
            _results(source)


_TEMPLATE = st.text(alphabet=st.sampled_from(list("{}<>%/*\"'` =|-abc\n#")), max_size=120)


@_SETTINGS
@given(_TEMPLATE | st.text(max_size=120))
def test_template_conversion_never_raises_and_leaves_plain_text_alone(text: str) -> None:
    shortcodes = convert_shortcodes(text, lambda _: None)
    liquid = convert_liquid(text, {"site.baseurl": "/b"}, lambda _tag, _argument: None)
    if "{{" not in text:
        assert shortcodes.text == text and shortcodes.warnings == []
    if "{" not in text:
        assert liquid.text == text and liquid.warnings == []
