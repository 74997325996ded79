"""The preview's site, built in memory from a folder (``pressline.preview.build``)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pressline.posts.check import expand
from pressline.preview.build import QUICK_FROM, Build, build_site, first_build, quick_files, saved_build
from pressline.site.pages import Site

ROOT = Path(__file__).resolve().parents[3]
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
SITE = Site(title="Preview", url="http://127.0.0.1:8000", api_url="http://127.0.0.1:8000/api")


def write_post(folder: Path, name: str, front: str, body: str = "Some words.") -> Path:
    path = folder / "posts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front}\n---\n{body}\n", encoding="utf-8")
    return path


def build(folder: Path) -> Build:
    return build_site(expand([str(folder)]), SITE, timezone=UTC_ZONE, now=NOW)


def text(found: Build, key: str) -> str | None:
    stored = found.store.objects.get(key)
    return stored.body.decode("utf-8") if stored is not None else None


def test_importing_and_building_never_loads_boto3_or_moto() -> None:
    script = f"""
import sys
from pathlib import Path
from zoneinfo import ZoneInfo
import pressline.preview.command, pressline.preview.server
from pressline.posts.check import expand
from pressline.preview.build import build_site
from pressline.site.pages import Site
site = Site(title="t", url="http://127.0.0.1:1", api_url="http://127.0.0.1:1/api")
built = build_site(expand([{str(ROOT / "examples")!r}]), site, timezone=ZoneInfo("UTC"))
assert built.posts >= 4, built.posts
print(sorted(name for name in sys.modules if name.split(".")[0] in ("boto3", "moto", "s3transfer")))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_drafts_and_scheduled_posts_get_their_page_and_no_listing(tmp_path: Path) -> None:
    write_post(tmp_path, "live.md", "title: Live post\ndate: 2026-05-01")
    write_post(tmp_path, "draft.md", "title: A draft\ndate: 2026-05-02\ndraft: true")
    write_post(tmp_path, "later.md", "title: Later post\ndate: 2026-07-01")
    found = build(tmp_path)
    home = text(found, "index.html") or ""
    assert "Live post" in home and "A draft" not in home and "Later post" not in home
    assert found.unlisted == {
        "posts/draft/index.html": ("draft", datetime(2026, 5, 2, tzinfo=UTC_ZONE)),
        "posts/later/index.html": ("scheduled", datetime(2026, 7, 1, tzinfo=UTC_ZONE)),
    }
    assert "A draft" in (text(found, "posts/draft/index.html") or "")
    assert [item["title"] for item in json.loads(text(found, "feed.json") or "{}")["items"]] == ["Live post"]


def test_a_refused_post_is_off_the_site_and_its_address_keeps_checks_problems(tmp_path: Path) -> None:
    write_post(tmp_path, "fine.md", "title: Fine\ndate: 2026-05-01")
    broken = write_post(tmp_path, "broken.md", "title: Broken\ndate: next tuesday")
    found = build(tmp_path)
    assert text(found, "posts/broken/index.html") is None
    rejected = found.errors["posts/broken/index.html"]
    assert rejected.path == broken and rejected.url_path == "/posts/broken/"
    assert [problem.field for problem in rejected.problems.errors] == ["date"]
    assert found.error_count == 1


def test_a_slug_taken_by_an_earlier_file_is_refused_and_the_first_keeps_its_page(tmp_path: Path) -> None:
    write_post(tmp_path, "a.md", "title: First\ndate: 2026-05-01\nslug: same")
    write_post(tmp_path, "b.md", "title: Second\ndate: 2026-05-02\nslug: same")
    found = build(tmp_path)
    assert "First" in (text(found, "posts/same/index.html") or "")
    assert found.posts == 1
    assert "is also the slug of" in found.errors["posts/same/index.html"].problems.errors[0].message


def test_an_alias_redirects_to_the_first_post_that_claims_it(tmp_path: Path) -> None:
    write_post(tmp_path, "a.md", "title: First\ndate: 2026-05-01\naliases: [/2019/05/old/]")
    write_post(tmp_path, "b.md", "title: Second\ndate: 2026-05-02\naliases: [/2019/05/old/]")
    found = build(tmp_path)
    stored = found.store.objects["2019/05/old/index.html"]
    assert stored.redirect == "/posts/a/"
    warned = [p.message for item in found.problems for p in item.warnings]
    assert any("is also an alias of" in message for message in warned)


def test_pages_are_in_every_pages_navigation(tmp_path: Path) -> None:
    write_post(tmp_path, "a.md", "title: First\ndate: 2026-05-01")
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "about.md").write_text("---\ntitle: About us\n---\nWho we are.\n", encoding="utf-8")
    found = build(tmp_path)
    assert "Who we are." in (text(found, "about/index.html") or "")
    assert 'href="/about/"' in (text(found, "posts/a/index.html") or "")
    assert found.pages == 1


def test_the_first_build_answers_its_pages_as_the_whole_build_does(tmp_path: Path) -> None:
    start = datetime(2026, 5, 1, 8, tzinfo=UTC)
    for number in range(QUICK_FROM + 5):
        date = (start - timedelta(hours=7 * number)).strftime("%Y-%m-%d %H:%M")
        tags = f"[topic-{number % 3}]"
        write_post(tmp_path, f"post-{number:03}.md", f"title: Post {number}\ndate: {date}\ntags: {tags}")
    # The newest of all has a date the quick look cannot read: it is taken anyway.
    write_post(tmp_path, "odd.md", "title: Odd one\ndate: >-\n  2026-05-02T10:00:00+02:00")
    write_post(tmp_path, "draft.md", "title: A draft\ndate: 2026-05-03\ndraft: true")
    files = expand([str(tmp_path)])
    chosen = quick_files(files)
    assert chosen is not None and len(chosen) < len(files) / 5
    first = first_build(chosen, SITE, timezone=UTC_ZONE, now=NOW)
    whole = build_site(files, SITE, timezone=UTC_ZONE, now=NOW)
    assert first.answers is not None and len(first.answers) == 11  # the home page and the newest 10 posts
    assert "posts/odd/index.html" in first.answers
    for key in first.answers:
        assert first.store.objects[key].body == whole.store.objects[key].body, key
    assert whole.answers is None


def test_a_small_folder_is_built_whole_at_once(tmp_path: Path) -> None:
    for number in range(12):
        write_post(tmp_path, f"p{number}.md", f"title: Post {number}\ndate: 2026-05-{number + 1:02}")
    assert quick_files(expand([str(tmp_path)])) is None


def test_a_saved_posts_page_is_made_at_once_as_the_whole_build_makes_it(tmp_path: Path) -> None:
    paths = [write_post(tmp_path, f"p{n}.md", f"title: Post {n}\ndate: 2026-05-{n + 1:02}") for n in range(5)]
    before = build(tmp_path)
    middle = paths[2]
    middle.write_text(middle.read_text(encoding="utf-8") + "\nAn edit.\n", encoding="utf-8")
    quick = saved_build([middle], before, timezone=UTC_ZONE, now=NOW)
    whole = build(tmp_path)
    assert quick is not None
    page = quick.store.objects["posts/p2/index.html"].body
    assert b"An edit." in page and page == whole.store.objects["posts/p2/index.html"].body
    # Everything else is the last build's until the whole one comes.
    assert quick.store.objects["index.html"].body == before.store.objects["index.html"].body


def test_a_save_that_moves_a_post_or_refuses_it_waits_for_the_whole_build(tmp_path: Path) -> None:
    paths = [write_post(tmp_path, f"p{n}.md", f"title: Post {n}\ndate: 2026-05-{n + 1:02}") for n in range(3)]
    before = build(tmp_path)
    paths[1].write_text("---\ntitle: Post 1\ndate: 2026-05-20\n---\nMoved to the top.\n", encoding="utf-8")
    assert saved_build([paths[1]], before, timezone=UTC_ZONE, now=NOW) is None
    paths[1].write_text("---\ntitle: Post 1\ndate: whenever\n---\nRefused.\n", encoding="utf-8")
    assert saved_build([paths[1]], before, timezone=UTC_ZONE, now=NOW) is None
    paths[1].write_text("---\ntitle: Post 1\ndate: 2026-05-02\ndraft: true\n---\nHidden.\n", encoding="utf-8")
    assert saved_build([paths[1]], before, timezone=UTC_ZONE, now=NOW) is None
    new = write_post(tmp_path, "new.md", "title: New\ndate: 2026-05-10")
    assert saved_build([new], before, timezone=UTC_ZONE, now=NOW) is None
