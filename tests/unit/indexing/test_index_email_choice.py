"""Index carries a post's ``email:`` choice and its announced version to Deliver in
PostPublished (issue 15): Deliver reads that version's rendering for a full email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from index_world import START, World

from pressline.models import EmailContent
from pressline.posts.paths import rendered_key, rendered_key_of


@pytest.mark.parametrize("email", ["full", "summary", None])
def test_the_announcement_carries_the_posts_choice_and_the_version_of_its_body(
    world: World, email: EmailContent | None
) -> None:
    update = world.upload("posts/news.md", "News", START - timedelta(hours=1))
    assert update.rendered is not None
    rendered = update.rendered.model_copy(update={"meta": update.rendered.meta.model_copy(update={"email": email})})
    world.source.put(rendered_key(update.source), rendered.model_dump_json().encode(), "application/json")
    world.apply(update.model_copy(update={"rendered": rendered}))

    [announced] = world.announcements()
    assert announced.email == email
    assert announced.version is not None
    # The rendering Deliver will read is the one Index published.
    assert rendered_key_of(announced.source_key, announced.version) == rendered_key(update.source)
