"""The comment hostile-input corpus (issue 17): every file in ``comments/`` through the pure
core, the way the comment stage will run it: ``validate``, then ``threads.attach``, then
``moderation.decide``, then ``markdown.render``.

Each file gives the form (``form``; ``form_hex`` for fields posted as bytes that are not
UTF-8), the post's state, the site's policy, the address's standing, the expected outcome
(refused with its field, spam, needs_confirmation, held, published) and the strings the
rendered HTML must not contain. Whatever is accepted is rendered into a fragment the way the
page will show it (name and website escaped, the text's HTML as is) and checked with
``html_safety``; its plain text must hold no markup.
"""

from __future__ import annotations

import html
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from html_safety import assert_plain_text, assert_safe

from pressline.comments.markdown import render
from pressline.comments.model import Comment, Policy, PostState, Status, Submission
from pressline.comments.moderation import AddressState, HeldForAuthor, NeedsConfirmation, Published, Standing, decide
from pressline.comments.threads import attach
from pressline.comments.validate import RawForm, Refusal, Spam, validate

CORPUS = Path(__file__).parent / "comments"
FILES = sorted(CORPUS.glob("*.json"))
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
AUTHOR_NAMES = ["Ada Lovelace"]
DEFAULT_FORM = {"name": "Grace Hopper", "email": "grace@example.com", "text": "A fine post.", "seconds_since_form": 30}


def _comment(id: str, post_slug: str = "hello", status: Status = Status.APPROVED, root: str | None = None) -> Comment:
    return Comment(
        id=id,
        post_slug=post_slug,
        parent_id=root,
        thread_root_id=root or id,
        author_id="someone",
        author_name="Someone",
        website=None,
        html="<p>x</p>",
        text="x",
        status=status,
        created_at=NOW - timedelta(days=1),
    )


EXISTING = {
    c.id: c
    for c in [
        _comment("approved-root"),
        _comment("approved-reply", root="approved-root"),
        _comment("held-root", status=Status.HELD),
        _comment("deleted-root", status=Status.DELETED),
        _comment("other-post-root", post_slug="other"),
    ]
}


def _form(case: dict[str, Any]) -> RawForm:
    fields: dict[str, Any] = {**DEFAULT_FORM, **case["form"]}
    for name, hex_value in case.get("form_hex", {}).items():
        fields[name] = bytes.fromhex(hex_value)
    seconds = fields.pop("seconds_since_form")
    issued_at = None if seconds is None else NOW - timedelta(seconds=seconds)
    return RawForm(post_slug="hello", form_issued_at=issued_at, **fields)


def run(case: dict[str, Any]) -> tuple[dict[str, Any], Submission | None]:
    """The core's answer for one corpus file, as the file spells an expected outcome."""
    checked = validate(_form(case), post_state=PostState(case["post_state"]), now=NOW, author_names=AUTHOR_NAMES)
    if isinstance(checked, Spam):
        return {"outcome": "spam"}, None
    if isinstance(checked, Refusal):
        return {"outcome": "refused", "field": checked.field}, None
    place = attach(checked.post_slug, checked.parent_id, EXISTING)
    if isinstance(place, Refusal):
        return {"outcome": "refused", "field": place.field}, checked
    standing = case["standing"]
    outcome = decide(
        Policy(case["policy"]), Standing(AddressState(standing["state"]), standing.get("has_approved_comment", False))
    )
    answer: dict[str, Any]
    if isinstance(outcome, Refusal):
        answer = {"outcome": "refused", "field": outcome.field}
    elif isinstance(outcome, NeedsConfirmation):
        answer = {"outcome": "needs_confirmation"}
    elif isinstance(outcome, HeldForAuthor):
        answer = {"outcome": "held"}
    else:
        assert isinstance(outcome, Published)
        answer = {"outcome": "published"}
    if "thread_root_id" in case["expected"]:
        answer["thread_root_id"] = place.thread_root_id
    return answer, checked


def test_the_corpus_is_large_and_covers_every_outcome() -> None:
    assert len(FILES) >= 30
    outcomes = {json.loads(path.read_text())["expected"]["outcome"] for path in FILES}
    assert outcomes == {"refused", "spam", "needs_confirmation", "held", "published"}
    refused_fields = {
        json.loads(path.read_text())["expected"].get("field") for path in FILES if "refused" in path.read_text()
    }
    assert {"name", "email", "website", "text", "parent", "post"} <= refused_fields


@pytest.mark.parametrize("path", FILES, ids=[path.stem for path in FILES])
def test_corpus_file(path: Path) -> None:
    case = json.loads(path.read_text())
    started = time.perf_counter()
    answer, submission = run(case)
    assert answer == case["expected"], case["description"]
    if submission is None or answer["outcome"] == "refused":
        return
    rendered = render(submission.text)
    assert time.perf_counter() - started < case.get("max_seconds", 2.0)
    website = f' href="{html.escape(submission.website, quote=True)}"' if submission.website else ""
    fragment = (
        f'<article><p class="author"><a{website} rel="nofollow ugc">{html.escape(submission.name)}</a></p>'
        f"{rendered.html}</article>"
    )
    assert_safe(fragment, f"comment {path.stem}")
    assert_plain_text(rendered.text, f"comment {path.stem} text")
    assert submission.email not in fragment
    for forbidden in case["must_not_contain"]:
        assert forbidden.lower() not in rendered.html.lower(), (path.stem, forbidden)
        assert forbidden.lower() not in fragment.lower(), (path.stem, forbidden)
