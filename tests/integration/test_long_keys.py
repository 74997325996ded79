"""Source keys near S3's 1,024-byte limit: every upload S3 accepts gets a report and its page,
whatever its name; every key derived from it fits S3's limit and can be found from it."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pressline.local.harness import StackHandle
from pressline.posts.paths import (
    MAX_KEY_BYTES,
    key_bytes,
    key_digest,
    media_key,
    post_page_key,
    rendered_key_of,
    report_key,
)
from pressline.posts.slug import slugify

# 1 to 4 UTF-8 bytes a character, and folders: S3 counts bytes, not characters.
PIECES = st.sampled_from(["a", "-", "/", "é", "€", "中", "😀", "x y"])
TOKENS = st.one_of(
    st.uuids().map(str),  # moto's version ids
    st.text("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._", min_size=32, max_size=32),  # S3's
    st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda digest: f"etag-{digest}"),
    st.just("null"),
)


def _key(pieces: list[str], size: int, suffix: str = ".md") -> str:
    """``posts/`` + pieces, repeated until the key has about ``size`` bytes, + ``suffix``."""
    body = ""
    while key_bytes(f"posts/{body}{suffix}") < size:
        body += pieces[len(body) % len(pieces)]
    return f"posts/{body}{suffix}"


KEYS = st.builds(_key, st.lists(PIECES, min_size=1, max_size=4), st.integers(min_value=900, max_value=1040))


# --------------------------------------------------------------------------- pure
@given(key=KEYS, token=TOKENS)
def test_every_key_derived_from_an_accepted_source_key_fits(key: str, token: str) -> None:
    assume(key_bytes(key) <= MAX_KEY_BYTES)  # longer ones S3 refuses: there is nothing to derive
    derived = [report_key(key), rendered_key_of(key, token)]
    image = key.removesuffix(".md") + ".png"  # an image beside it, if S3 takes its name
    if key_bytes(image) <= MAX_KEY_BYTES:
        derived.append(media_key(image))
    derived.append(post_page_key(slugify(key.rsplit("/", 1)[-1].removesuffix(".md")) or "untitled"))
    for derived_key in derived:
        assert key_bytes(derived_key) <= MAX_KEY_BYTES, derived_key


@given(key=KEYS, token=TOKENS)
def test_derived_keys_are_readable_when_they_fit_else_named_by_the_hash(key: str, token: str) -> None:
    readable_report, readable_rendering = f"reports/{key}.json", f"rendered/{key}/{token}.json"
    if key_bytes(readable_report) <= MAX_KEY_BYTES:
        assert report_key(key) == readable_report
    else:
        assert report_key(key) == f"reports/by-hash/{key_digest(key)}.json"
    if key_bytes(readable_rendering) <= MAX_KEY_BYTES:
        assert rendered_key_of(key, token) == readable_rendering
    else:
        assert rendered_key_of(key, token) == f"rendered/by-hash/{key_digest(key)}/{token}.json"


@given(first=KEYS, second=KEYS)
def test_two_source_keys_never_share_a_report(first: str, second: str) -> None:
    assume(first != second)
    assert report_key(first) != report_key(second)


def test_an_author_finds_a_hashed_report_with_the_shell() -> None:
    # What the README tells authors: printf %s 'posts/é.md' | sha256sum (UTF-8 bytes, no newline)
    assert key_digest("posts/é.md") == "e70af8b6c2dc0a086025d0dff7859f4be39928a53e7d6a2cf14ac477090c8b74"


# --------------------------------------------------------------------------- through the stack
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(PIECES, min_size=1, max_size=3), size=st.integers(min_value=960, max_value=1032))
def test_every_upload_s3_accepts_gets_its_report_and_page(aws_stack: StackHandle, pieces: list[str], size: int) -> None:
    """The local stack's S3 refuses what S3 refuses; anything it accepts is published, and its
    report is where ``report_key`` says, whatever the key's length in bytes."""
    key = _key(pieces, size)
    slug = f"long-{uuid.uuid4().hex[:12]}"
    post = f"---\ntitle: A long name\nslug: {slug}\ndate: 2026-01-10 10:00\n---\n\nBody.\n".encode()
    bucket = aws_stack.outputs["SourceBucketName"]
    if key_bytes(key) > MAX_KEY_BYTES:
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            aws_stack.s3.put_object(Bucket=bucket, Key=key, Body=post)
        assert refused.value.response["Error"]["Code"] == "KeyTooLongError"
        return
    aws_stack.s3.put_object(Bucket=bucket, Key=key, Body=post)
    aws_stack.drain()
    report = json.loads(aws_stack.s3.get_object(Bucket=bucket, Key=report_key(key))["Body"].read())
    assert (report["key"], report["status"], report["errors"]) == (key, "published", [])
    site = aws_stack.outputs["SiteBucketName"]
    assert aws_stack.s3.get_object(Bucket=site, Key=post_page_key(slug))["Body"].read()

    aws_stack.s3.delete_object(Bucket=bucket, Key=key)  # and it can be taken down again
    aws_stack.drain()
    report = json.loads(aws_stack.s3.get_object(Bucket=bucket, Key=report_key(key))["Body"].read())
    assert report["status"] == "unpublished"
    with pytest.raises(aws_stack.s3.exceptions.NoSuchKey):
        aws_stack.s3.get_object(Bucket=site, Key=post_page_key(slug))
