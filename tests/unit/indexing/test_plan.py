"""The pure decisions of Index, without stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pressline.errors import PoisonMessageError
from pressline.indexing.catalog import (
    CatalogPost,
    Entry,
    Listing,
    Summary,
    TagSummary,
    month_listing,
    month_of,
    order_key,
    rendered_object_key,
    tag_front_listing,
    tag_year_listing,
)
from pressline.indexing.plan import (
    Fetch,
    Remove,
    Skip,
    change_listings,
    check_source,
    months_for_neighbours,
    neighbours_to_rerender,
    sequencer_value,
    target_post,
)
from pressline.models import IndexUpdate, PostMeta, RenderedPost, SourceRef
from pressline.posts.paths import rendered_key

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)


def post(
    key: str, slug: str, days_ago: float, *, status: str = "published", tags: tuple[str, ...] = (), version: str = "v1"
) -> CatalogPost:
    return CatalogPost(
        source_key=key,
        version=version,
        status=status,  # type: ignore[arg-type]
        slug=slug,
        title=slug.title(),
        date=NOW - timedelta(days=days_ago),
        tags=tags,
        applied_at=NOW,
    )


def update(action: str = "upsert", version: str | None = "v2", sequencer: str | None = None) -> IndexUpdate:
    return IndexUpdate(
        action=action,  # type: ignore[arg-type]
        source=SourceRef(bucket="b", key="posts/x.md", version_id=version, sequencer=sequencer),
    )


class TestCheckSource:
    def test_the_current_version_is_applied(self) -> None:
        assert isinstance(check_source(update(), "v2", exists=True, current=None), Fetch)

    def test_an_older_version_is_stale(self) -> None:
        decision = check_source(update(version="v1"), "v2", exists=True, current=None)
        assert isinstance(decision, Skip) and "stale" in decision.reason

    def test_a_delete_for_a_key_that_exists_again_is_stale(self) -> None:
        assert isinstance(check_source(update("delete", None), "v2", exists=True, current=None), Skip)

    def test_a_missing_object_removes_the_post_whatever_the_message(self) -> None:
        current = post("posts/x.md", "x", 1)
        for action in ("upsert", "delete", "due"):
            assert isinstance(check_source(update(action), None, exists=False, current=current), Remove)

    def test_a_missing_object_never_cataloged_is_nothing_to_do(self) -> None:
        assert isinstance(check_source(update("delete"), None, exists=False, current=None), Skip)

    def test_an_older_sequencer_is_stale_even_when_versions_disagree(self) -> None:
        current = post("posts/x.md", "x", 1, version="v9").model_copy(update={"sequencer": "0066A1B2C3D4E5F600"})
        older = update(version="v2", sequencer="0055A1B2C3D4E5F600")
        assert isinstance(check_source(older, "v2", exists=True, current=current), Skip)
        newer = update(version="v2", sequencer="0077A1B2C3D4E5F600")
        assert isinstance(check_source(newer, "v2", exists=True, current=current), Fetch)

    def test_sequencers_compare_as_numbers(self) -> None:
        assert sequencer_value("0A") == 10 and sequencer_value("not hex") is None and sequencer_value(None) is None


def rendered(status: str, days_from_now: float, draft: bool = False) -> RenderedPost:
    source = SourceRef(bucket="b", key="posts/x.md", version_id="v1")
    meta = PostMeta(slug="x", title="X", date=NOW + timedelta(days=days_from_now), draft=draft)
    return RenderedPost(source=source, meta=meta, body_html="<p>x</p>", status=status, rendered_at=NOW)  # type: ignore[arg-type]


class TestTargetPost:
    def test_scheduled_versus_published_is_decided_against_now(self) -> None:
        assert target_post(rendered("published", 1), rendered("published", 1).source, NOW).status == "scheduled"
        assert target_post(rendered("scheduled", -1), rendered("scheduled", -1).source, NOW).status == "published"

    def test_a_draft_stays_a_draft(self) -> None:
        assert target_post(rendered("draft", -1, draft=True), rendered("draft", -1).source, NOW).status == "draft"

    def test_a_rejected_rendering_cannot_be_indexed(self) -> None:
        with pytest.raises(PoisonMessageError):
            target_post(rendered("rejected", -1), rendered("rejected", -1).source, NOW)


class TestListings:
    def test_a_new_post_touches_its_month_and_tags_only(self) -> None:
        new = post("posts/x.md", "x", 1, tags=("Python", "AWS"))
        change = change_listings(None, new, {}, Summary(), "UTC")

        assert set(change.listings) == {
            month_listing("2026-03"),
            tag_year_listing("python", "2026"),
            tag_front_listing("python"),
            tag_year_listing("aws", "2026"),
            tag_front_listing("aws"),
        }
        assert change.summary.months == {"2026-03": 1}
        assert change.summary.tags["python"] == TagSummary(name="Python", years={"2026": 1})
        assert change.structure_changed

    def test_applying_the_same_change_twice_gives_the_same_listings(self) -> None:
        new = post("posts/x.md", "x", 1, tags=("a",))
        once = change_listings(None, new, {}, Summary(), "UTC")
        twice = change_listings(None, new, once.listings, once.summary, "UTC")
        assert twice.listings == once.listings and twice.summary == once.summary
        assert not twice.structure_changed

    def test_a_post_moved_to_another_month_leaves_the_old_one(self) -> None:
        old = post("posts/x.md", "x", 1)
        first = change_listings(None, old, {}, Summary(), "UTC")
        moved = post("posts/x.md", "x", 40)
        change = change_listings(old, moved, first.listings, first.summary, "UTC")
        assert change.listings[month_listing("2026-03")].entries == ()
        assert [e.slug for e in change.listings[month_listing("2026-02")].entries] == ["x"]
        assert change.summary.months == {"2026-02": 1}

    def test_a_draft_appears_nowhere(self) -> None:
        change = change_listings(None, post("posts/x.md", "x", 1, status="draft"), {}, Summary(), "UTC")
        assert change.listings == {} and not change.structure_changed

    def test_months_follow_the_site_time_zone(self) -> None:
        late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
        assert month_of(late, "UTC") == "2026-03"
        assert month_of(late, "Europe/Paris") == "2026-04"


class TestNeighbours:
    def chain(self) -> list[CatalogPost]:
        return [post(f"posts/{n}.md", f"p{n}", n) for n in range(1, 6)]  # p1 newest

    def test_a_new_newest_post_rewrites_only_the_previous_newest(self) -> None:
        fragment = [p.entry() for p in self.chain()]
        pages = neighbours_to_rerender(fragment, None, post("posts/0.md", "p0", 0.5))
        assert [(page.entry.slug, page.next.slug if page.next else None) for page in pages] == [("p1", "p0")]

    def test_a_removal_links_its_neighbours_together(self) -> None:
        posts = self.chain()
        fragment = [p.entry() for p in posts]
        pages = neighbours_to_rerender(fragment, posts[2], None)  # p3 goes
        links = {page.entry.slug: (page.previous.slug, page.next.slug) for page in pages}  # type: ignore[union-attr]
        assert links == {"p4": ("p5", "p2"), "p2": ("p4", "p1")}

    def test_reads_extra_months_only_when_its_own_does_not_reach_far_enough(self) -> None:
        entries = tuple(
            Entry(slug=f"s{n}", title="t", date=NOW - timedelta(days=n), source_key=f"k{n}") for n in range(5, 10)
        )
        have = {month_listing("2026-03"): Listing(entries=entries)}
        months = {"2026-01": 4, "2026-02": 4, "2026-03": 5}
        middle = order_key(NOW - timedelta(days=7, hours=1), "new")
        assert months_for_neighbours([("2026-03", middle)], months, have) == ["2026-02"]
        newest = order_key(NOW, "new")
        assert months_for_neighbours([("2026-03", newest)], months, have) == []


def test_the_rendered_object_key_matches_the_posts_helper() -> None:
    source = SourceRef(bucket="b", key="posts/a b.md", version_id="3HL4kqtJvjVBH40Nrjfkd")
    assert rendered_object_key(source.key, "3HL4kqtJvjVBH40Nrjfkd") == rendered_key(source)
    etag_only = SourceRef(bucket="b", key="posts/a.md", etag='"abc"')
    assert rendered_object_key(etag_only.key, "etag-abc") == rendered_key(etag_only)


def test_summaries_are_clipped_to_a_bounded_size() -> None:
    from pressline.indexing.plan import SUMMARY_LIMIT, clip

    assert clip("short") == "short"
    words = clip("word " * 400)
    assert len(words) <= SUMMARY_LIMIT and words.endswith("word…")
    one_word = clip("x" * 1_000_000)
    assert len(one_word) == SUMMARY_LIMIT and one_word.endswith("…")


def test_search_words_skip_giant_tokens() -> None:
    from pressline.indexing.search import body_words

    assert body_words("<p>Hello " + "z" * 5000 + " harbour &amp; the ferry</p>") == "hello harbour ferry"
