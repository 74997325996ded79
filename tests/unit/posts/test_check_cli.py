"""``pressline check``: the same rules locally, ``file:line: message``, exit 1 on errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from posts_helpers import EXAMPLES

from pressline.cli import main


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def test_problems_are_printed_as_file_line_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "posts/bad.md", "---\ntitle: Hi\ndate: 2022-13-01\ntags: 5\nlayout: x\n---\nBody\n")
    assert main(["check", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{bad}:3: date: '2022-13-01' is not a date; use YYYY-MM-DD, YYYY-MM-DD HH:MM or ISO 8601 "
        "(2022-01-07T18:48:00+01:00)",
        f"{bad}:4: tags: must be a list of strings, like [news, python], not a number",
        f"{bad}:5: warning: layout: is not a known field and is ignored",
    ]
    assert "1 file(s) checked: 2 error(s), 1 warning(s)" in err


def test_warnings_only_fail_with_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.md", "---\ntitle: Good\nextra: 1\n---\nBody\n")
    assert main(["check", str(good)]) == 0
    assert main(["check", "--strict", str(good)]) == 1
    assert capsys.readouterr().out.count("warning: extra") == 2


def test_problems_without_a_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = write(tmp_path, "bin.md", b"\x00\x01\x02binary")
    assert main(["check", "--quiet", str(binary)]) == 1
    assert capsys.readouterr().out == f"{binary}: file: is binary, not a Markdown text file\n"


def test_folders_are_searched_and_slugs_must_be_unique(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "posts/a/hello.md", "---\ntitle: One\n---\nBody\n")
    second = write(tmp_path, "posts/b/other.md", "---\ntitle: Two\nslug: hello\n---\nBody\n")
    write(tmp_path, "posts/b/notes.txt", "not checked: not a post")
    assert main(["check", "--quiet", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{second}:3: slug: 'hello' is also the slug of {tmp_path / 'posts/a/hello.md'}"
    ]


def test_images_beside_posts_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    post = write(tmp_path, "posts/p.md", "---\ntitle: P\nimage: cover.png\n---\n![a](pic.png) ![b](d.svg)\n")
    write(tmp_path, "posts/pic.png", (EXAMPLES / "harbour-at-dawn.png").read_bytes())
    svg = write(tmp_path, "posts/d.svg", "<svg/>")
    assert main(["check", "--quiet", str(post), str(svg)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{post}:3: warning: image: cover.png is not beside the post; upload it too",
        f"{post}:5: warning: body: posts/d.svg is an SVG image, which is not published; use PNG, JPEG, GIF or WebP",
        f"{svg}: file: is an SVG image, which is not published (SVG can carry scripts); upload PNG, JPEG, GIF or WebP",
    ]


def test_missing_images_are_warned_about(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    post = write(tmp_path, "posts/p.md", "---\ntitle: P\n---\nText.\n\n![a](img/missing.png)\n![b](x%20y.png)\n")
    assert main(["check", "--quiet", str(post)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{post}:6: warning: body: image img/missing.png is not beside the post; upload it too",
        f"{post}:7: warning: body: image x y.png is not beside the post; upload it too",
    ]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (
            "../../etc/passwd",
            "'../../etc/passwd' leads out of the posts/ folder, where images are published from; it is ignored: "
            "put the image beside the post",
        ),
        (
            "http://insecure.example/a.png",
            "'http://insecure.example/a.png' is not https: browsers block it or mark the page insecure; use https://",
        ),
        (
            "cover.svg",
            "'cover.svg' is an SVG image, which is not published (SVG can carry scripts); it is ignored: "
            "use PNG, JPEG, GIF or WebP",
        ),
        ("notes.txt", "'notes.txt' is not an image file (png, jpg, jpeg, gif, webp); it is ignored"),
        ("img/cover.png", "img/cover.png is not beside the post; upload it too"),
    ],
)
def test_a_cover_image_that_will_not_show_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], image: str, message: str
) -> None:
    post = write(tmp_path, "posts/p.md", f"---\ntitle: P\nimage: {image}\n---\nBody\n")
    write(tmp_path, "posts/cover.svg", "<svg/>")  # there, yet not published
    assert main(["check", "--quiet", str(post)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{post}:3: warning: image: {message}"]


@pytest.mark.parametrize("image", ["cover.png", "./cover.png", "https://cdn.example/a.png", "/static/a.png"])
def test_a_cover_image_that_shows_is_not_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], image: str
) -> None:
    post = write(tmp_path, "posts/p.md", f"---\ntitle: P\nimage: {image}\n---\nBody\n")
    write(tmp_path, "posts/cover.png", (EXAMPLES / "harbour-at-dawn.png").read_bytes())
    assert main(["check", "--quiet", "--strict", str(post)]) == 0
    assert capsys.readouterr().out == ""


def test_problems_are_sorted_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The rules report the fields in the model's order (title, date, ..., tags), not the file's.
    bad = write(tmp_path, "bad.md", "---\ntags: 5\nlayout: x\ndate: 2022-13-01\ntitle: 5\n---\nBody\n")
    assert main(["check", "--quiet", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ", 2)[:2] for line in lines] == [
        [f"{bad}:2", "tags"],
        [f"{bad}:3", "warning"],
        [f"{bad}:4", "date"],
        [f"{bad}:5", "title"],
    ]


@pytest.mark.parametrize("empty", ["", ' ""', " ''", " ~", " '  '"])
def test_an_empty_title_has_one_message_however_it_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], empty: str
) -> None:
    post = write(tmp_path, "p.md", f"---\ntitle:{empty}\n---\nBody\n")
    assert main(["check", "--quiet", str(post)]) == 1
    assert capsys.readouterr().out == f"{post}:2: title: is empty\n"


def test_the_time_zone_applies_and_must_exist(tmp_path: Path) -> None:
    post = write(tmp_path, "p.md", "---\ntitle: P\n---\nBody\n")
    assert main(["check", "--timezone", "Europe/Paris", str(post)]) == 0
    assert main(["check", "--timezone", "Mars/Olympus", str(post)]) == 2


def test_the_examples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--strict", str(EXAMPLES)]) == 0
    assert capsys.readouterr().out == ""


def test_the_installed_command(tmp_path: Path) -> None:
    command = shutil.which("pressline", path=str(Path(sys.executable).parent))
    assert command is not None
    bad = write(tmp_path, "bad.md", "no front matter\n")
    done = subprocess.run([command, "check", str(bad)], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stdout.startswith(f"{bad}:1: title: is missing")


def test_a_long_cover_image_is_clipped_in_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = "../" * 20_000 + "a.png"  # leaves posts/: as long as the front matter allows
    post = write(tmp_path, "posts/p.md", f"---\ntitle: P\nimage: {image}\n---\nBody\n")
    assert main(["check", "--quiet", str(post)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{post}:3: warning: image: '../../") and "…' leads out of the posts/ folder" in line
    assert len(line) < 300
