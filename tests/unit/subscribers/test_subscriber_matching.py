from __future__ import annotations

from pressline.subscribers.model import audiences_for_post, audiences_of, first_audience, wants


def test_a_subscriber_without_tags_is_in_the_all_audience_only() -> None:
    assert audiences_of(()) == ["ALL"]
    assert audiences_of(("AWS", "python")) == ["TAG#aws", "TAG#python"]


def test_a_post_reaches_all_and_each_of_its_tags() -> None:
    assert audiences_for_post(("Python", "aws", "python")) == ["ALL", "TAG#aws", "TAG#python"]
    assert audiences_for_post(()) == ["ALL"]


def test_wants_matches_on_any_shared_tag_case_insensitively() -> None:
    assert wants((), ("anything",))
    assert wants((), ())
    assert wants(("aws",), ("AWS", "python"))
    assert not wants(("rust",), ("aws", "python"))
    assert not wants(("aws",), ())


def test_a_member_of_several_audiences_is_counted_in_the_first_only() -> None:
    post_tags = ("aws", "python")
    assert first_audience(("python", "aws"), post_tags) == "TAG#aws"
    assert first_audience(("python",), post_tags) == "TAG#python"
    assert first_audience((), post_tags) == "ALL"
    assert first_audience(("rust",), post_tags) is None
