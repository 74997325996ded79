"""Malformed and hostile WordPress exports, as classes: entities, truncation at any point, junk
bytes anywhere, huge fields, unsafe names. Each gives a clear problem per item (or one for the
file) and the rest of the file; none raises."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pressline.importing.model import ImportedItem, ItemProblem
from pressline.importing.wxr import MAX_BODY_CHARS, WxrSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "import" / "wordpress"
HOSTILE = FIXTURES / "hostile"
EXPORT = (FIXTURES / "export.xml").read_bytes()


def read(path: Path) -> tuple[list[ImportedItem], list[ItemProblem]]:
    results = list(WxrSource(path).items())
    assert all(isinstance(result, (ImportedItem, ItemProblem)) for result in results)
    return (
        [result for result in results if isinstance(result, ImportedItem)],
        [result for result in results if isinstance(result, ItemProblem)],
    )


def test_entities_are_refused_whole() -> None:
    for name in ("billion-laughs.xml", "external-entity.xml"):
        items, [problem] = read(HOSTILE / name)
        assert items == []
        assert problem.item == "(the file)" and problem.problem.field == "file"
        assert "entities" in problem.problem.message
        assert "root:" not in problem.model_dump_json()  # /etc/passwd was never read


def test_a_truncated_file_gives_the_items_before_the_break() -> None:
    items, [problem] = read(HOSTILE / "truncated.xml")
    assert [item.title for item in items] == ["Before the break", "Also before"]
    assert "ends in the middle" in problem.problem.message and problem.problem.line is not None


def test_binary_junk_is_text_replaced_and_reported() -> None:
    items, problems = read(HOSTILE / "binary-junk.xml")
    assert problems == []
    assert [item.title for item in items] == ["Before the break", "Junk \ufffd in the title", "After the junk"]
    junk = items[1]
    assert "\x00" not in junk.body and "\x1b" not in junk.body and "\ufffd" in junk.body
    assert {warning.field for warning in junk.warnings} == {"title", "content"}
    assert items[2].warnings == ()


def test_not_xml_and_not_wordpress(tmp_path: Path) -> None:
    items, [problem] = read(HOSTILE / "not-xml.xml")
    assert items == [] and "not well-formed XML at line 1" in problem.problem.message
    rss = tmp_path / "feed.xml"
    rss.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>A feed</title></channel></rss>')
    items, [problem] = read(rss)
    assert items == [] and "is not a WordPress export" in problem.problem.message
    items, [problem] = read(tmp_path / "missing.xml")
    assert items == [] and "cannot be read" in problem.problem.message


def test_scripts_stay_in_the_html_for_the_converter_and_unsafe_files_are_not_assets() -> None:
    items, problems = read(HOSTILE / "scripts.xml")
    assert problems == []
    scripts, climbing, secret = items
    # The body is HTML as exported: html_to_markdown (and the pipeline's sanitizer) take it from here.
    assert scripts.body_format == "html" and "<script>" in scripts.body
    assert [asset.name for asset in scripts.assets] == ["cat.png"]
    reasons = " ".join(warning.message for warning in scripts.warnings)
    assert "SVG" in reasons and reasons.count("'..' in its path") == 3 and "not an http(s) address" in reasons
    assert "/" not in climbing.slug and ".." not in climbing.slug and climbing.warnings[0].field == "post_name"
    assert secret.draft and secret.warnings[0].field == "status"  # password-protected: never made public


def _post(post_id: int, content: str) -> str:
    return f"""<item><title>Post {post_id}</title><link>http://old.example/{post_id}/</link>
<guid isPermaLink="false">http://old.example/?p={post_id}</guid>
<content:encoded><![CDATA[{content}]]></content:encoded><wp:post_id>{post_id}</wp:post_id>
<wp:post_date_gmt>2021-01-01 10:00:00</wp:post_date_gmt><wp:post_name>post-{post_id}</wp:post_name>
<wp:status>publish</wp:status><wp:post_type>post</wp:post_type></item>"""


def _export(*items: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:wp="http://wordpress.org/export/1.2/"><channel><link>http://old.example</link>'
        "<wp:base_site_url>http://old.example</wp:base_site_url>" + "".join(items) + "</channel></rss>"
    )


def test_a_huge_body_is_a_problem_and_the_next_post_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    path.write_text(_export(_post(1, "x" * (MAX_BODY_CHARS + 1)), _post(2, "<p>small</p>")))
    [item], [problem] = read(path)
    assert item.slug == "post-2"
    assert (
        problem.item == "'Post 1' (id 1)" and problem.problem.field == "content" and "limit" in problem.problem.message
    )


def test_a_huge_title_is_cut_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "title.xml"
    path.write_text(_export(_post(1, "<p>x</p>").replace("<title>Post 1</title>", f"<title>{'T' * 5000}</title>")))
    [item], [] = read(path)
    assert len(item.title) == 200 and item.warnings[0].field == "title"


def _own(item: ImportedItem) -> tuple[str, str, str, bool]:
    return item.source_id, item.slug, item.title, item.draft


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(EXPORT.rstrip()) - 1))
def test_cut_anywhere_the_items_read_are_the_whole_files_first_ones(tmp_path_factory: object, cut: int) -> None:
    path = Path(str(tmp_path_factory.mktemp("cut"))) / "cut.xml"  # type: ignore[attr-defined]
    path.write_bytes(EXPORT[:cut])
    # What refers to items after the cut (menus, attachments) is lost with them: items are compared
    # by what each holds of its own.
    whole = [_own(item) for item in WxrSource(FIXTURES / "export.xml").items() if isinstance(item, ImportedItem)]
    items, problems = read(path)
    assert [_own(item) for item in items] == whole[: len(items)]
    assert any(problem.problem.field == "file" for problem in problems)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=len(EXPORT) - 1), st.binary(min_size=1, max_size=4)),
        min_size=1,
        max_size=5,
    )
)
def test_junk_bytes_anywhere_never_raise(tmp_path_factory: object, junk: list[tuple[int, bytes]]) -> None:
    data = bytearray(EXPORT)
    for position, replacement in junk:
        data[position : position + len(replacement)] = replacement
    path = Path(str(tmp_path_factory.mktemp("junk"))) / "junk.xml"  # type: ignore[attr-defined]
    path.write_bytes(bytes(data))
    items, problems = read(path)
    assert items or problems
