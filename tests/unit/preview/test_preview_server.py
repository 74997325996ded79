"""What the preview adds to pages, and when it tells browsers to reload (``pressline.preview.server``)."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pressline.posts.check import expand
from pressline.preview.server import SCRIPT_PATH, Previewer, error_page, inject, overview_page
from pressline.site.pages import Site

SITE = Site(title="Preview", url="http://127.0.0.1:8000", api_url="http://127.0.0.1:8000/api")


def previewer(folder: Path, out: io.StringIO) -> Previewer:
    return Previewer([str(folder)], lambda: SITE, ZoneInfo("UTC"), out, lambda paths: expand(list(paths)))


def test_the_block_goes_before_the_last_closing_body_tag() -> None:
    page = b"<html><body><p>a</p><code>&lt;/body&gt;</code></body></html>"
    injected = inject(page, 7, "Draft: <em>only here</em>")
    assert injected.startswith(b"<html><body><p>a</p>")
    assert injected.endswith(b"</body></html>")
    assert injected.count(f'<script src="{SCRIPT_PATH}?build=7"></script>'.encode()) == 1
    assert b'class="pressline-preview-banner"' in injected
    assert inject(b"no body", 1).startswith(b"no body<!-- pressline preview -->")


def test_a_save_that_changes_no_page_reloads_no_browser(tmp_path: Path) -> None:
    post = tmp_path / "posts" / "a.md"
    post.parent.mkdir()
    post.write_text("---\ntitle: A post\ndate: 2026-05-01\nsummary: Fixed.\n---\nFirst words.\n", encoding="utf-8")
    out = io.StringIO()
    preview = previewer(tmp_path, out)
    preview.start()
    served = preview.serving("index.html")
    assert served is not None and served.build_id == 1
    os.utime(post, (post.stat().st_atime, post.stat().st_mtime + 5))  # saved again, the same text
    preview.rebuild([post])
    assert preview.served is not None and preview.served.build_id == 1
    assert "nothing on the site changed" in out.getvalue()
    post.write_text("---\ntitle: A post\ndate: 2026-05-01\nsummary: Fixed.\n---\nOther words.\n", encoding="utf-8")
    preview.rebuild([post])
    # Its page at once, then the whole site, which changes nothing more (the summary is kept): one reload.
    assert preview.served is not None and preview.served.build_id == 2
    assert preview.next_build(1, timeout=0.1) == 2
    page = preview.served.build.store.objects["posts/a/index.html"].body
    assert b"Other words." in page


def test_the_terminal_gets_checks_lines_then_only_the_changed_files(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "a.md").write_text("---\ntitle: A\ndate: 2026-05-01\ncolour: red\n---\nA.\n", encoding="utf-8")
    (posts / "b.md").write_text("---\ntitle: B\ndate: 2026-05-02\nshade: blue\n---\nB.\n", encoding="utf-8")
    out = io.StringIO()
    preview = previewer(tmp_path, out)
    preview.start()
    started = out.getvalue()
    assert "a.md:4: warning: colour:" in started and "b.md:4: warning: shade:" in started
    assert "2 post(s), 0 page(s): 0 error(s), 2 warning(s)" in started
    (posts / "b.md").write_text("---\ntitle: B\ndate: 2026-05-02\nshade: green\n---\nB.\n", encoding="utf-8")
    preview.rebuild([posts / "b.md"])
    after = out.getvalue()[len(started) :]
    assert "b.md:4: warning: shade:" in after and "a.md" not in after


def test_the_error_page_escapes_what_the_author_wrote(tmp_path: Path) -> None:
    post = tmp_path / "posts" / "x.md"
    post.parent.mkdir()
    post.write_text("---\ntitle: <script>x</script>\ndate: soon<b>\n---\n", encoding="utf-8")
    out = io.StringIO()
    preview = previewer(tmp_path, out)
    preview.start()
    assert preview.served is not None
    rejected = preview.served.build.errors["posts/x/index.html"]
    page = error_page(rejected)
    assert "<b>" not in page and "&lt;b&gt;" in page
    assert "would not be published" in page


def test_a_save_that_changes_another_files_lines_prints_them_too(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "a.md").write_text("---\ntitle: A\ndate: 2026-05-01\n---\nA.\n", encoding="utf-8")
    (posts / "b.md").write_text("---\ntitle: B\ndate: 2026-05-02\nslug: bee\n---\nB.\n", encoding="utf-8")
    out = io.StringIO()
    preview = previewer(tmp_path, out)
    preview.start()
    started = out.getvalue()
    (posts / "a.md").write_text("---\ntitle: A\ndate: 2026-05-01\nslug: bee\n---\nA.\n", encoding="utf-8")
    preview.rebuild([posts / "a.md"])
    after = out.getvalue()[len(started) :]
    # a.md comes first and takes the slug: b.md, not saved, is the one refused now.
    assert f"{posts / 'b.md'}:4: slug: 'bee' is also the slug of {posts / 'a.md'}" in after


def test_a_scheduled_post_goes_live_by_itself_when_its_date_comes(tmp_path: Path) -> None:
    post = tmp_path / "posts" / "soon.md"
    post.parent.mkdir()
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    post.write_text(f"---\ntitle: Soon\ndate: {moment.isoformat()}\n---\nNearly.\n", encoding="utf-8")
    out = io.StringIO()
    preview = previewer(tmp_path, out)
    preview.start()
    assert preview.served is not None and preview.served.build.posts == 0 and not preview.due()
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()) + 0.1)
    assert preview.due()
    preview.rebuild([])
    assert preview.served.build.posts == 1 and not preview.due()
    assert "A scheduled post is due: rebuilt" in out.getvalue()


def test_the_overview_lists_refused_files_drafts_and_checks_lines(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "ok.md").write_text("---\ntitle: Ok\ndate: 2026-05-01\ncolour: red\n---\nFine.\n", encoding="utf-8")
    (posts / "draft.md").write_text("---\ntitle: D\ndate: 2026-05-01\ndraft: true\n---\nD.\n", encoding="utf-8")
    (posts / "bad.md").write_text("---\ntitle: Bad\ndate: someday\n---\nB.\n", encoding="utf-8")
    preview = previewer(tmp_path, io.StringIO())
    preview.start()
    served = preview.serving(None, whole=True)
    assert served is not None
    page = overview_page(served.build)
    assert '<a href="/posts/bad/">/posts/bad/</a>' in page and f"({posts / 'bad.md'}: not published)" in page
    assert '<a href="/posts/draft/">/posts/draft/</a> (draft)' in page
    assert "ok.md:4: warning: colour:" in page and "bad.md:3: date:" in page
