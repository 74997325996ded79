"""Hostile Ghost exports as classes: any JSON in any field of a post, any text in an editor
document, any link target. The reader never raises, text is always escaped, and no link it
writes has a scheme other than http, https or mailto."""

from __future__ import annotations

import html
import json
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pressline.importing.ghost import GhostSource, render_lexical, render_mobiledoc
from pressline.importing.model import ImportedItem, ItemProblem
from pressline.models import Problem

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_FIELDS = [
    "id",
    "title",
    "slug",
    "html",
    "lexical",
    "mobiledoc",
    "status",
    "type",
    "page",
    "published_at",
    "created_at",
    "updated_at",
    "feature_image",
    "custom_excerpt",
    "canonical_url",
    "visibility",
    "author_id",
    "markdown",
    "image",
    "meta_description",
]
_HREF = re.compile(r'href="([^"]*)"')
_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read(document: Any) -> list[ImportedItem | ItemProblem]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "export.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        return list(GhostSource(path).items())


@_SETTINGS
@given(st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=8), _JSON)
def test_any_json_in_a_post_is_an_item_or_a_problem(post: dict[str, Any], tags: Any) -> None:
    document = {"db": [{"meta": {}, "data": {"posts": [post, {"id": "ok", "slug": "ok", "html": "<p>ok</p>"}],
                                             "tags": tags, "posts_tags": tags, "users": tags}}]}  # fmt: skip
    results = _read(document)
    assert all(isinstance(result, ImportedItem | ItemProblem) for result in results)
    assert any(isinstance(result, ImportedItem) and result.slug == "ok" for result in results)


@_SETTINGS
@given(_JSON)
def test_any_json_document_is_read_or_refused_as_a_whole(document: Any) -> None:
    results = _read(document)
    assert all(isinstance(result, ImportedItem | ItemProblem) for result in results)


@_SETTINGS
@given(st.text())
def test_lexical_text_is_always_escaped(text: str) -> None:
    document = {"root": {"children": [{"type": "paragraph", "children": [{"type": "text", "text": text}]}]}}
    assert render_lexical(document, []) == f"<p>{html.escape(text)}</p>"


@_SETTINGS
@given(st.text(), st.text(max_size=20))
def test_mobiledoc_text_is_always_escaped(text: str, tag: str) -> None:
    document = {"sections": [[1, tag, [[0, [], 0, text]]]]}
    rendered = render_mobiledoc(document, [])
    assert html.escape(text) in rendered
    assert re.fullmatch(r"<(p|h[1-6]|blockquote)>.*</\1>", rendered, re.DOTALL)


_URLS = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda scheme, rest: f"{scheme}:{rest}",
        st.sampled_from(
            [
                "javascript",
                "JavaScript",
                " javascript",
                "data",
                "vbscript",
                "file",
                "http",
                "https",
                "mailto",
                "\x01javascript",
                "java\tscript",
                "\x00 javascript",
            ]
        ),
        st.text(max_size=20),
    ),
)


@_SETTINGS
@given(_URLS)
def test_links_only_ever_have_web_or_mail_schemes(url: str) -> None:
    warnings: list[Problem] = []
    lexical = {"root": {"children": [{"type": "link", "url": url, "children": [{"type": "text", "text": "t"}]}]}}
    mobiledoc = {"markups": [["a", ["href", url]]], "sections": [[1, "p", [[0, [0], 1, "t"]]], [2, url]]}
    for rendered in (render_lexical(lexical, warnings), render_mobiledoc(mobiledoc, warnings)):
        for target in [*_HREF.findall(rendered), *re.findall(r'src="([^"]*)"', rendered)]:
            # What a browser follows: C0 controls and spaces around it and tabs or newlines in it dropped.
            followed = re.sub(r"[\t\n\r]", "", html.unescape(target)).strip("".join(map(chr, range(33))))
            assert urlsplit(followed).scheme.lower() in ("", "http", "https", "mailto")
            assert ":" not in followed.split("/", 1)[0] or urlsplit(followed).scheme.lower() in (
                "http",
                "https",
                "mailto",
            )


# Bodies at Ghost's content limit made of what the upload finder looks for: a pattern scanning
# forwards from each "http" took time quadratic in them (200 KB of "http://": 70 s), and
# realpath one quadratic in a path's parts (8 MB of "/content/images/x": minutes).
_UPLOAD_SHAPES = [
    "http://",
    "https://old.example/",
    "http://a/content/images/",
    "/content/images/x",
    "/content/images/a/",
]


def test_bodies_of_upload_lookalikes_at_the_limit_name_no_file() -> None:
    from pressline.importing.ghost import MAX_CONTENT_CHARS

    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory) / "content" / "images"
        folder.mkdir(parents=True)
        (folder / "x").write_bytes(b"x")  # a file the shapes come close to naming
        for unit in _UPLOAD_SHAPES:
            body = (unit * (MAX_CONTENT_CHARS // len(unit) + 1))[:MAX_CONTENT_CHARS]
            post = {"id": "1", "slug": "a", "title": "A", "html": body}
            document = {
                "db": [{"meta": {}, "data": {"posts": [post], "settings": [{"key": "url", "value": "http://a"}]}}]
            }
            path = Path(directory) / "export.json"
            path.write_text(json.dumps(document), encoding="utf-8")
            (item,) = list(GhostSource(path).items())
            assert isinstance(item, ImportedItem) and item.assets == (), unit
