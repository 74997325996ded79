"""``pressline import`` from the command line, without any AWS: ``--out`` writes a folder that
``pressline check`` accepts; running again changes nothing; a file the author changed or wrote
is never overwritten; ``--dry-run`` writes nothing (the trees before and after are compared,
the download cache too); images come from a server on 127.0.0.1 only with ``--allow-local``;
exit status 0, 1 or 2 as documented."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from pressline.cli import main
from pressline.importing.command import Existing, UsageError, decide_action, detect
from pressline.importing.convert import OutFile

ROOT = Path(__file__).resolve().parents[3]
GHOST = ROOT / "tests" / "fixtures" / "import" / "ghost" / "ghost-export.json"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _no_stack_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no local stack's outputs file is (the target would otherwise pick it up)."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("SOURCE_BUCKET", raising=False)


def tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` and its SHA-256."""
    if not root.exists():
        return {}
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["import", *argv])
    return code, capsys.readouterr().out


def test_out_writes_files_that_pressline_check_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    code, printed = run(str(GHOST), "--out", str(out), "--no-download", "--cache", str(tmp_path / "c"), capsys=capsys)
    assert code == 1  # the fixture's images are on old.example and downloads are off: reported
    files = tree(out)
    assert "posts/welcome.md" in files and "pages/about.md" in files
    assert "5 post(s) and 1 page(s) imported, 0 failed" in printed
    assert "downloads are off" in printed
    for name in ("posts/welcome.md", "pages/about.md"):
        assert "notify: false" in (out / name).read_text(encoding="utf-8")
    assert main(["check", "--quiet", str(out / "posts")]) == 0


def test_running_again_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    args = (str(GHOST), "--out", str(out), "--no-download", "--cache", str(tmp_path / "c"))
    run(*args, capsys=capsys)
    before = tree(out)
    mtimes = {path: path.stat().st_mtime_ns for path in out.rglob("*.md")}
    _, printed = run(*args, capsys=capsys)
    assert tree(out) == before
    assert {path: path.stat().st_mtime_ns for path in out.rglob("*.md")} == mtimes
    assert "0 created, 0 updated, 6 unchanged, 0 skipped" in printed


def test_a_file_the_author_changed_or_wrote_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    args = (str(GHOST), "--out", str(out), "--no-download", "--cache", str(tmp_path / "c"))
    run(*args, capsys=capsys)
    edited = out / "posts" / "welcome.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nAn edit.\n", encoding="utf-8")
    own = out / "pages" / "about.md"
    (out / ".pressline-import.json").write_text(
        json.dumps(
            {k: v for k, v in json.loads((out / ".pressline-import.json").read_text()).items() if "about" not in k}
        )
    )
    own.write_text("---\ntitle: My own about page\n---\n\nMine.\n", encoding="utf-8")
    code = main(["import", *args])
    captured = capsys.readouterr()
    assert code == 1
    assert "An edit." in edited.read_text(encoding="utf-8")
    assert own.read_text(encoding="utf-8").startswith("---\ntitle: My own about page")
    assert "posts/welcome.md: conflict" in captured.err and "pages/about.md: conflict" in captured.err
    assert "4 unchanged, 2 skipped (conflicts)" in captured.out


def test_dry_run_writes_nothing_and_says_what_it_would_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "site"
    cache = tmp_path / "cache"
    code, printed = run(
        str(GHOST), "--out", str(out), "--dry-run", "--no-download", "--cache", str(cache), capsys=capsys
    )
    assert code == 1
    assert not out.exists() and not cache.exists()
    assert "would create posts/welcome.md" in printed
    assert "would rewrite posts/welcome.md: 1 link(s)" in printed
    assert "6 would be created" in printed
    # Every problem per item: file, item, field, reason.
    assert "posts/welcome.md: 'Welcome — Grüße 🎉' (6452a1f0c1a2b30001a1b001): body: image" in printed

    run(str(GHOST), "--out", str(out), "--no-download", "--cache", str(cache), capsys=capsys)
    before = tree(out)
    _, printed = run(str(GHOST), "--out", str(out), "--dry-run", "--no-download", "--cache", str(cache), capsys=capsys)
    assert tree(out) == before
    assert "would leave posts/welcome.md unchanged" in printed


def test_dry_run_without_a_stack_needs_no_aws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, printed = run(str(GHOST), "--dry-run", "--no-download", "--cache", str(tmp_path / "c"), capsys=capsys)
    assert code == 1
    assert "no stack found" in printed and "would create posts/welcome.md" in printed
    assert tree(tmp_path / "cwd") == {}


def test_out_needs_no_stack_even_beside_a_broken_outputs_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(".local").mkdir()
    Path(".local/outputs.json").write_text("{not json")
    code, printed = run(
        str(GHOST), "--out", str(tmp_path / "o"), "--no-download", "--cache", str(tmp_path / "c"), capsys=capsys
    )
    assert code == 1 and "6 created" in printed
    assert main(["import", str(GHOST), "--no-download", "--cache", str(tmp_path / "c"), "--dry-run"]) == 2  # needs one
    assert "not a stack outputs file" in capsys.readouterr().err


def test_upload_without_a_stack_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(GHOST), "--no-download"]) == 2
    assert "no stack to upload to" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.xml"], "no such file"),
        (["notes.txt"], "cannot tell what export"),
        ([".", "--timeout", "0"], "--timeout"),
        (["x.json", "--timezone", "Mars/Olympus"], "unknown time zone"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    Path("notes.txt").write_text("hello")
    Path("x.json").write_text("{}")
    assert main(["import", *argv, "--out", "o"]) == 2
    assert message in capsys.readouterr().err
    assert not Path("o").exists()


def test_an_unknown_source_kind_is_refused_by_argparse() -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["import", str(GHOST), "--from", "blogger"])
    assert stopped.value.code == 2


def test_sources_are_detected(tmp_path: Path) -> None:
    (tmp_path / "export.xml").write_text("<rss/>")
    (tmp_path / "export.json").write_text("{}")
    (tmp_path / "hugo" / "content").mkdir(parents=True)
    (tmp_path / "jekyll" / "_posts").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "exported" / "content").mkdir(parents=True)  # looks like Hugo too: the manifest decides
    (tmp_path / "exported" / "pressline-export.json").write_text('{"format": "pressline-export"}')
    assert detect(tmp_path / "exported") == "pressline"
    assert detect(tmp_path / "export.xml") == "wordpress"
    assert detect(tmp_path / "export.json") == "ghost"
    assert detect(tmp_path / "hugo") == "hugo"
    assert detect(tmp_path / "jekyll") == "jekyll"
    with pytest.raises(UsageError, match="pass --from"):
        detect(tmp_path / "other")


@pytest.mark.parametrize(
    ("existing", "action"),
    [
        (Existing(present=False), "create"),
        (Existing(True, "same", None, None), "unchanged"),  # identical bytes: nothing to do, whoever wrote them
        (Existing(True, "old", "ghost:1", "old"), "update"),
        (Existing(True, "edited", "ghost:1", "old"), "conflict"),  # imported, then changed by hand
        (Existing(True, "old", "ghost:2", "old"), "conflict"),  # another item's
        (Existing(True, "theirs", None, None), "conflict"),  # the author's own
        (Existing(present=True), "conflict"),  # a folder where the file would go
    ],
)
def test_what_is_done_with_each_file(existing: Existing, action: str) -> None:
    file = OutFile("posts/a.md", b"x", "text/markdown", "post")
    if existing.digest == "same":
        existing = Existing(True, file.digest, None, None)
    assert decide_action(existing, file, "ghost:1") == action


# --------------------------------------------------------------------------- images
class ImageServer:
    def __init__(self) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                requests.append(self.path)
                body, status = (PNG, 200) if self.path.endswith(".png") else (b"no", 404)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def images() -> Iterator[ImageServer]:
    server = ImageServer()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def ghost_export(path: Path, site: str) -> Path:
    post = {
        "id": "p1",
        "uuid": "p1-uuid",
        "type": "post",
        "status": "published",
        "title": "With a picture",
        "slug": "with-a-picture",
        "html": f'<p>Look: <img src="{site}/content/images/a.png" alt="A picture"></p>'
        f'<p><a href="{site}/other/">other</a></p>',
        "feature_image": "__GHOST_URL__/content/images/cover.png",
        "published_at": "2020-01-01T10:00:00.000Z",
        "created_at": "2020-01-01T10:00:00.000Z",
        "updated_at": "2020-01-01T10:00:00.000Z",
    }
    other = {**post, "id": "p2", "uuid": "p2-uuid", "slug": "other", "title": "Other", "html": "<p>Hi</p>"}
    other.pop("feature_image")
    data = {
        "db": [
            {
                "meta": {"version": "5.0.0"},
                "data": {"posts": [post, other], "settings": [{"key": "url", "value": site}]},
            }
        ]
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_images_are_downloaded_from_a_local_server_only_when_allowed(
    tmp_path: Path, images: ImageServer, capsys: pytest.CaptureFixture[str]
) -> None:
    export = ghost_export(tmp_path / "export.json", images.url)
    out = tmp_path / "site"
    cache = tmp_path / "cache"
    code, printed = run(str(export), "--out", str(out), "--cache", str(cache), capsys=capsys)
    assert code == 1 and images.requests == []  # 127.0.0.1 is loopback: refused without --allow-local
    assert "loopback" in printed
    assert "127.0.0.1" not in (out / "posts" / "with-a-picture.md").read_text(encoding="utf-8")

    code, printed = run(str(export), "--out", str(out), "--cache", str(cache), "--allow-local", capsys=capsys)
    assert code == 0, printed
    text = (out / "posts" / "with-a-picture.md").read_text(encoding="utf-8")
    assert "![A picture](with-a-picture/a.png)" in text and "image: with-a-picture/cover.png" in text
    assert "[other](/posts/other/)" in text
    assert (out / "posts" / "with-a-picture" / "a.png").read_bytes() == PNG
    assert sorted(images.requests) == ["/content/images/a.png", "/content/images/cover.png"]
    assert "2 downloaded" in printed and "links rewritten: 1" in printed

    # Resumed or run again: the cache answers, the server is not asked again, nothing changes.
    before = tree(out)
    code, printed = run(str(export), "--out", str(out), "--cache", str(cache), "--allow-local", capsys=capsys)
    assert code == 0 and len(images.requests) == 2 and tree(out) == before
    assert "0 downloaded, 2 from the cache" in printed


def test_plain_progress_lines_when_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["import", str(GHOST), "--out", str(tmp_path / "o"), "--no-download", "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert "Converting: 6/6" in err and "Writing: 6/6" in err and "\r" not in err


def test_a_bar_on_a_terminal() -> None:
    from pressline.importing.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with Progress(3, "Importing", stream) as progress:
        for _ in range(3):
            progress.advance(status="created")
        progress.say("a problem")
    shown = stream.getvalue()
    assert "\r" in shown and "3/3" in shown and "a problem" in shown and "Importing" in shown


# --------------------------------------------------------------------------- order, resuming, paths
class ListSource:
    """An export made here: the ImportSource protocol over a list."""

    site_url = "https://old.example"

    def __init__(self, items: list[object]) -> None:
        self._items = items

    def items(self) -> Iterator[object]:
        yield from self._items


class Recording:
    """A destination in memory that can be made to fail after some writes (an interrupted upload)."""

    name = "memory"
    writers = 1

    def __init__(self, fail_after: int | None = None) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.order: list[str] = []
        self.fail_after = fail_after

    def existing(self, file: OutFile) -> Existing:
        if file.path not in self.objects:
            return Existing(present=False)
        data, import_id = self.objects[file.path]
        digest = hashlib.sha256(data).hexdigest()
        return Existing(True, digest, import_id, digest)

    def write(self, file: OutFile, import_id: str) -> None:
        if self.fail_after is not None and len(self.order) >= self.fail_after:
            raise ConnectionError("the network went away")
        self.objects[file.path] = (file.data, import_id)
        self.order.append(file.path)

    def finish(self) -> None:
        return None


def _items() -> list[object]:
    from datetime import UTC, datetime

    from pressline.importing.model import ImportedAsset, ImportedComment, ImportedItem

    def one(slug: str, year: int, **extra: object) -> ImportedItem:
        fields: dict[str, object] = {
            "source": "hugo", "source_id": f"content/{slug}.md", "slug": slug, "title": slug.title(),
            "date": datetime(year, 1, 1, tzinfo=UTC), "body": f"About {slug}.",
        }  # fmt: skip
        return ImportedItem.model_validate({**fields, **extra})

    return [
        one("newest", 2024, assets=(ImportedAsset(name="n.png", reference="n.png", data=PNG),), body="![n](n.png)"),
        one("about", 2000, kind="page"),
        one("oldest", 2010, comments=(ImportedComment(source_id="c1", body_html="hi"),)),
        one("middle", 2015),
    ]


def _import(destination: Any) -> Any:
    from pressline.importing.command import run_import

    class NoNetwork:
        def allows(self, url: str) -> bool:
            return False

        def get(self, url: str) -> Any:
            raise AssertionError("nothing is downloaded")

    return run_import(
        ListSource(_items()),  # type: ignore[arg-type]
        "export",
        destination,
        {"fetcher": NoNetwork(), "read_file": None},
        dry_run=False,
        out=io.StringIO(),
        progress_stream=io.StringIO(),
    )


def test_images_then_pages_then_posts_oldest_first_then_comments() -> None:
    destination = Recording()
    _import(destination)
    assert destination.order == [
        "posts/newest/n.png",
        "pages/about.md",
        "posts/oldest.md",
        "posts/middle.md",
        "posts/newest.md",
        "comments/oldest.json",
    ]


def test_parallel_writers_finish_each_kind_before_the_next_begins() -> None:
    """With several writers (a bucket), files of one kind are written at once, but no page or
    post is written before every image is, nor a comment before every post."""
    destination = Recording()
    destination.writers = 4
    _import(destination)
    kinds = ["image" if path.endswith(".png") else path.split("/")[0] for path in destination.order]
    assert kinds == ["image", "pages", "posts", "posts", "posts", "comments"]
    assert sorted(destination.order) == sorted(destination.objects)


def test_an_interrupted_upload_resumes_where_it_stopped() -> None:
    destination = Recording(fail_after=3)
    with pytest.raises(ConnectionError):
        _import(destination)
    assert destination.order == ["posts/newest/n.png", "pages/about.md", "posts/oldest.md"]
    destination.fail_after = None
    outcome = _import(destination)
    assert outcome.actions == {"unchanged": 3, "create": 3}
    assert destination.order[3:] == ["posts/middle.md", "posts/newest.md", "comments/oldest.json"]


def test_an_interrupted_import_to_a_folder_keeps_its_record(tmp_path: Path) -> None:
    from pressline.importing.command import FolderDestination

    class Interrupted(FolderDestination):
        def write(self, file: OutFile, import_id: str) -> None:
            if len(self.manifest) >= 2:
                raise KeyboardInterrupt
            super().write(file, import_id)

    with pytest.raises(KeyboardInterrupt):
        _import(Interrupted(tmp_path, dry_run=False))
    assert len(json.loads((tmp_path / ".pressline-import.json").read_text())) == 2
    outcome = _import(FolderDestination(tmp_path, dry_run=False))
    assert outcome.actions == {"unchanged": 2, "create": 4}
    assert len(json.loads((tmp_path / ".pressline-import.json").read_text())) == 6


def test_files_beside_the_content_are_never_read_from_outside_it(tmp_path: Path) -> None:
    from pressline.importing.command import file_reader

    (tmp_path / "site" / "content").mkdir(parents=True)
    (tmp_path / "site" / "content" / "a.png").write_bytes(PNG)
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "site" / "content" / "link.png").symlink_to(tmp_path / "secret.txt")
    read = file_reader(tmp_path / "site")
    assert read("content/a.png") == PNG
    for outside in ("../secret.txt", "content/../../secret.txt", str(tmp_path / "secret.txt"), "content/link.png"):
        with pytest.raises(OSError, match="outside"):
            read(outside)


def test_site_url_gives_an_export_without_one_its_old_site(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Ghost 5 keeps its address in the install's config, not in the export: ``--site-url`` says it,
    and the import is the same as from an export that names it (same files, same aliases, same links)."""
    export = json.loads(GHOST.read_text(encoding="utf-8"))
    for database in export["db"]:
        settings = database["data"].get("settings", [])
        database["data"]["settings"] = [entry for entry in settings if entry.get("key") != "url"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(export), encoding="utf-8")
    options = ["--no-download", "--cache", str(tmp_path / "c")]

    run(str(GHOST), "--out", str(tmp_path / "named"), *options, capsys=capsys)
    _, without = run(str(bare), "--out", str(tmp_path / "unknown"), *options, capsys=capsys)
    code, given = run(
        str(bare), "--out", str(tmp_path / "given"), "--site-url", "http://old.example/", *options, capsys=capsys
    )

    assert code == 1  # as with the original export: images on old.example, downloads off
    named, guessed = tree(tmp_path / "named"), tree(tmp_path / "given")
    assert {k: v for k, v in named.items() if k != ".pressline-import.json"} == {
        k: v for k, v in guessed.items() if k != ".pressline-import.json"
    }
    # Without it, the images' old address is unknown: nothing could be downloaded from anywhere.
    assert "http://old.example/content/images/" in given
    assert "http://old.example/" not in without


@pytest.mark.parametrize("value", ["old.example", "ftp://old.example", "https://", "https://old.example/?p=1"])
def test_site_url_must_be_an_http_address(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["import", str(GHOST), "--out", "o", "--site-url", value])
    assert stopped.value.code == 2
    assert "--site-url" in capsys.readouterr().err


WXR = ROOT / "tests" / "fixtures" / "import" / "wordpress" / "export.xml"


def front_matter_of(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8").split("---\n", 2)[1])
    return loaded


def test_what_the_html_could_not_carry_over_is_reported_per_item(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, printed = run(
        str(WXR), "--out", str(tmp_path / "o"), "--no-download", "--cache", str(tmp_path / "c"), capsys=capsys
    )
    gallery = [line for line in printed.splitlines() if line.startswith("posts/gallery.md:")]
    assert any("body: a [video] shortcode became a link" in line for line in gallery), printed
    assert any("unknown shortcodes kept as text: [myplugin]" in line for line in gallery), printed


def test_timezone_is_the_zone_of_wxr_dates_that_have_no_utc_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A WordPress draft has only its local date; the zone is learned from the file's other posts
    unless --timezone (or $SITE_TIMEZONE) says it."""
    monkeypatch.delenv("SITE_TIMEZONE", raising=False)
    options = ["--no-download", "--cache", str(tmp_path / "c")]
    run(str(WXR), "--out", str(tmp_path / "learned"), *options, capsys=capsys)
    run(str(WXR), "--out", str(tmp_path / "tokyo"), "--timezone", "Asia/Tokyo", *options, capsys=capsys)
    monkeypatch.setenv("SITE_TIMEZONE", "Asia/Tokyo")
    run(str(WXR), "--out", str(tmp_path / "from-env"), *options, capsys=capsys)
    draft = "posts/work-in-progress.md"
    learned = front_matter_of(tmp_path / "learned" / draft)["date"]
    assert learned.endswith("+02:00")  # the offset the file's published posts show
    assert front_matter_of(tmp_path / "tokyo" / draft)["date"] == learned.replace("+02:00", "+09:00")
    assert front_matter_of(tmp_path / "from-env" / draft)["date"] == learned.replace("+02:00", "+09:00")
