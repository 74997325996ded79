"""``pressline export DIR`` on moto, and back: a site's posts, pages and images exported, then
read by the export's import source and imported into a fresh stack, give the same keys, the
same bytes and the same pages at the same URLs."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pressline.cli import main
from pressline.importing.exported import ExportedFolder, is_pressline_export
from pressline.importing.model import ImportedItem
from pressline.local.harness import StackHandle
from pressline.ops.export import ExportTargetError, check_target, export_site, safe_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "posts"
PAGE = b"---\ntitle: About\n---\nWho writes here, and why.\n"
# Site objects that come from a post or page (not the home page's time-dependent parts).
CONTENT_PREFIXES = ("posts/", "tags/", "archive/", "media/", "about/")


def _reset_process_caches() -> None:
    """As ``tests/conftest.py`` does around ``aws_stack``: settings, clients and handlers anew."""
    from pressline.adapters.aws import reset_clients
    from pressline.config import settings
    from pressline.local.lambda_runtime import forget_handlers

    settings.cache_clear()
    reset_clients()
    forget_handlers()


@contextlib.contextmanager
def fresh_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[StackHandle]:
    """A stack of its own (``aws_stack``, as a context: a test can have two, one after the other)."""
    from moto import mock_aws

    from pressline.local.runner import Runner
    from pressline.local.stack import clients_for, provision

    with monkeypatch.context() as patch, mock_aws():
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        stack = provision(template_path=ROOT / "template.yaml")
        for name, value in stack.environment().items():
            patch.setenv(name, value)
        _reset_process_caches()
        clients = clients_for(stack.region, None)
        yield StackHandle(stack=stack, clients=clients, runner=Runner(stack, clients))
    _reset_process_caches()


def objects(stack: StackHandle, bucket_output: str, prefixes: tuple[str, ...]) -> dict[str, bytes]:
    bucket = stack.outputs[bucket_output]
    found: dict[str, bytes] = {}
    for page in stack.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"].startswith(prefixes):
                found[item["Key"]] = stack.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def publish_site(stack: StackHandle) -> dict[str, bytes]:
    """The examples and an About page, published; the source objects uploaded."""
    bucket = stack.outputs["SourceBucketName"]
    for path in sorted(EXAMPLES.iterdir()):
        stack.s3.put_object(Bucket=bucket, Key=f"posts/{path.name}", Body=path.read_bytes())
    stack.s3.put_object(Bucket=bucket, Key="pages/about.md", Body=PAGE)
    stack.drain()
    return objects(stack, "SourceBucketName", ("posts/", "pages/"))


def test_export_then_import_into_a_fresh_stack_gives_the_same_site(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "export"
    with fresh_stack(monkeypatch) as old:
        uploaded = publish_site(old)
        # A key that is no file name inside a folder is reported, never written outside it.
        old.s3.put_object(Bucket=old.outputs["SourceBucketName"], Key="posts/../../escape.md", Body=b"x")
        site_before = objects(old, "SiteBucketName", CONTENT_PREFIXES)
        assert any(key.startswith("posts/") and key.endswith("/index.html") for key in site_before)
        status = main(["export", str(out)])
        said = capsys.readouterr().out
    assert status == 1 and "skipped posts/../../escape.md" in said
    assert not (tmp_path / "escape.md").exists() and not (out.parent / "escape.md").exists()

    manifest = json.loads((out / "pressline-export.json").read_text(encoding="utf-8"))
    assert manifest["format"] == "pressline-export" and manifest["site_url"]
    posts = sum(1 for key in uploaded if key.startswith("posts/") and key.endswith(".md"))
    assert manifest["counts"]["posts"] == posts and manifest["counts"]["pages"] == 1
    assert manifest["counts"]["subscribers"] == 0 and (out / "subscribers.csv").is_file()
    assert datetime.fromisoformat(manifest["exported_at"]) <= datetime.now(UTC)
    for key, body in uploaded.items():
        assert (out / key).read_bytes() == body  # as uploaded, same layout
    assert is_pressline_export(out)

    folder = ExportedFolder(out)
    assert folder.site_url == manifest["site_url"]
    read = list(folder.items())
    items = [item for item in read if isinstance(item, ImportedItem)]
    assert len(items) == len(read), [item for item in read if not isinstance(item, ImportedItem)]
    by_key = {item.source_id: item for item in items}
    assert set(by_key) == {key for key in uploaded if key.endswith(".md")}
    photo = by_key["posts/a-photo-walk-along-the-harbour.md"]
    assert photo.slug == "a-photo-walk-along-the-harbour" and photo.body_format == "markdown"
    assert [asset.name for asset in photo.assets] == ["harbour-at-dawn.png"]
    assert by_key["pages/about.md"].kind == "page"

    with fresh_stack(monkeypatch) as new:
        bucket = new.outputs["SourceBucketName"]
        for file in folder.files():
            new.s3.put_object(Bucket=bucket, Key=file.key, Body=file.path.read_bytes())
        new.drain()
        assert objects(new, "SourceBucketName", ("posts/", "pages/")) == uploaded  # same keys, same bytes
        site_after = objects(new, "SiteBucketName", CONTENT_PREFIXES)
    assert set(site_after) == set(site_before)  # the same pages at the same URLs
    for key in site_before:
        if key.endswith((".png", ".jpg")):
            assert site_after[key] == site_before[key]

    # Through `pressline import DIR` itself (it tells an export by its manifest; every post gets
    # notify: false): the same pages at the same URLs again.
    with fresh_stack(monkeypatch) as third:
        status = main(["import", str(out), "--no-download", "--cache", str(tmp_path / "cache")])
        said = capsys.readouterr().out
        assert status == 0, said
        third.drain()
        pages = {key for key in objects(third, "SiteBucketName", CONTENT_PREFIXES) if key.endswith("index.html")}
        again = main(["import", str(out), "--no-download", "--cache", str(tmp_path / "cache")])
        assert again == 0 and " 0 created, 0 updated" in capsys.readouterr().out
    assert pages == {key for key in site_before if key.endswith("index.html")}
    published = {
        f"posts/{item.slug}/index.html"
        for item in items
        if item.kind == "post" and not item.draft and item.date is not None and item.date <= datetime.now(UTC)
    }
    assert published and {key for key in pages if key.startswith("posts/")} == published


def test_export_refuses_a_folder_that_holds_other_things(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExportTargetError, match="not empty"):
        check_target(tmp_path)
    (tmp_path / "pressline-export.json").write_text("{}")
    check_target(tmp_path)  # an earlier export: written over


@pytest.mark.parametrize(
    "key",
    [
        "posts/../x.md",
        "posts//x.md",
        "/etc/passwd",
        "posts/./x.md",
        "posts/a\\..\\..\\x.md",
        "posts/x\x00.md",
        "posts/",
    ],
)
def test_keys_that_cannot_be_a_path_inside_the_folder(tmp_path: Path, key: str) -> None:
    assert safe_path(tmp_path, key) is None


def test_a_link_planted_in_the_folder_is_not_written_through(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "export"
    root.mkdir()
    (root / "pressline-export.json").write_text("{}")
    (root / "posts").symlink_to(outside, target_is_directory=True)
    assert safe_path(root, "posts/x.md") is None

    class OneObject:
        def get_paginator(self, _: str) -> OneObject:
            return self

        def paginate(self, **kwargs: str) -> list[dict[str, list[dict[str, str]]]]:
            return [{"Contents": [{"Key": "posts/x.md"}]}] if kwargs["Prefix"] == "posts/" else []

        def get_object(self, **_: str) -> dict[str, io.BytesIO]:
            return {"Body": io.BytesIO(b"---\ntitle: x\n---\n")}

    result = export_site(OneObject(), "bucket", root, site_url="https://example.com")
    assert result.skipped == [("posts/x.md", "cannot be a file name inside the export folder")]
    assert list(outside.iterdir()) == []
