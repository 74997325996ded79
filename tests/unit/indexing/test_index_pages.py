"""Static pages in Index (``pressline.indexing.pages``): ``pages/<name>.md`` at ``/<name>/``,
in the navigation of every page and in the sitemap, in no feed, listing, search shard or
email; a navigation change rewrites every page once in its batch, a body edit only the page;
and random batches of posts and pages leave the site ``pressline rebuild`` makes."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from index_world import SOURCE_BUCKET, START, World
from test_index_batches import SEEDS, author, deliver

from pressline.adapters.store import MemoryStore
from pressline.indexing.memory import MemoryCatalog
from pressline.indexing.pages import PAGES_BLOB
from pressline.indexing.rebuild import rebuild_site
from pressline.models import IndexUpdate, PostMeta, RenderedPost, SourceRef
from pressline.posts.paths import rendered_key
from pressline.stages.index import index_batch

NAV = re.compile(r'<nav class="site-nav".*?</nav>', re.S)


def upload_page(
    world: World,
    name: str,
    title: str,
    *,
    nav_order: int | None = None,
    nav: bool = True,
    draft: bool = False,
    body: str = "",
    date: datetime = START,
    carry: bool = True,
) -> IndexUpdate:
    """What Validate and Render do for ``pages/<name>.md`` (as ``World.upload`` does for posts)."""
    key = f"pages/{name}.md"
    world.source.put(key, f"---\ntitle: {title}\n---\n".encode(), "text/markdown")
    head = world.source.head(key)
    assert head is not None
    ref = SourceRef(bucket=SOURCE_BUCKET, key=key, version_id=head.version_id, etag=head.etag)
    meta = PostMeta(
        slug=name, title=title, date=date, summary=f"About {title}.", draft=draft, nav_order=nav_order, nav=nav
    )
    rendered = RenderedPost(
        source=ref,
        meta=meta,
        body_html=body or f"<p>The page {title}.</p>",
        status="draft" if draft else "published",
        rendered_at=world.now,
    )
    world.source.put(rendered_key(ref), rendered.model_dump_json().encode(), "application/json")
    return IndexUpdate(action="upsert", source=ref, slug=name, rendered=rendered if carry else None)


def nav_links(html: str | None) -> list[str]:
    assert html is not None
    found = NAV.search(html)
    assert found, "no site navigation"
    return re.findall(r'<a href="(/[^"]*)"', found.group(0))


def html_pages(world: World) -> list[str]:
    return sorted(key for key in world.site_store.objects if key.endswith(".html"))


def small_site(world: World) -> None:
    world.publish("posts/a.md", "Post A", START - timedelta(days=40), tags=("python",))
    world.publish("posts/b.md", "Post B", START - timedelta(days=1), tags=("aws",))


# --------------------------------------------------------------------------- what a page is
def test_a_page_is_published_at_its_name_in_every_pages_navigation(world: World) -> None:
    small_site(world)
    outcome = world.apply(upload_page(world, "about", "About us", nav_order=1))

    assert outcome.applied and outcome.status == "published" and not outcome.announced
    assert "About us" in (world.text("about/index.html") or "")
    report = world.report("pages/about.md")
    assert (report["status"], report["url"], report["announced"]) == ("published", "https://blog.example/about/", False)
    for key in html_pages(world):  # home, posts, archives, tags, 404, search, the page itself
        assert "/about/" in nav_links(world.text(key)), key
    assert 'aria-current="page"' in (world.text("about/index.html") or "")


def test_a_page_is_in_the_sitemap_and_in_nothing_that_lists_posts(world: World) -> None:
    small_site(world)
    announced = list(world.announcements())
    world.apply(upload_page(world, "about", "About us", body="<p>findme-in-search</p>"))

    assert "https://blog.example/about/" in (world.text("sitemaps/pages.xml") or "")
    assert world.announcements() == announced  # no email for a page
    for key, stored in world.site_store.objects.items():
        if key == "about/index.html" or key == "sitemaps/pages.xml":
            continue
        text = stored.body.decode()
        for html in (text,) if not key.endswith(".html") else (NAV.sub("", text),):  # the navigation aside
            assert "/about/" not in html and "About us" not in html and "findme" not in html, key


def test_removing_a_page_takes_it_out_of_every_page(world: World) -> None:
    small_site(world)
    world.apply(upload_page(world, "about", "About us"))
    outcome = world.apply(world.remove("pages/about.md"))

    assert outcome.applied and outcome.status == "unpublished" and "about/index.html" in outcome.deleted
    assert world.text("about/index.html") is None
    assert world.report("pages/about.md")["status"] == "unpublished"
    assert "/about/" not in (world.text("sitemaps/pages.xml") or "")
    for key in html_pages(world):
        assert "/about/" not in nav_links(world.text(key)), key
    assert PAGES_BLOB not in world.catalog.stored_blobs  # no page left: no record


def test_a_draft_page_is_not_published_and_a_page_made_draft_goes(world: World) -> None:
    small_site(world)
    world.apply(upload_page(world, "about", "About us", draft=True))
    assert world.text("about/index.html") is None and "/about/" not in nav_links(world.text("index.html"))
    world.apply(upload_page(world, "about", "About us"))
    assert world.text("about/index.html") is not None
    world.apply(upload_page(world, "about", "About us", draft=True))
    assert world.text("about/index.html") is None and "/about/" not in nav_links(world.text("index.html"))


def test_a_page_takes_no_slug_from_a_post_nor_a_post_from_a_page(world: World) -> None:
    world.publish("posts/about.md", "About the post", START - timedelta(days=1), slug="about")
    world.apply(upload_page(world, "about", "About us"))
    assert "About the post" in (world.text("posts/about/index.html") or "")
    assert "About us" in (world.text("about/index.html") or "")
    assert world.catalog.slugs == {"about": "posts/about.md"}


def test_a_page_dated_in_the_future_is_live_now(world: World) -> None:
    small_site(world)
    outcome = world.apply(upload_page(world, "about", "About us", date=START + timedelta(days=30)))
    assert outcome.status == "published" and world.text("about/index.html") is not None
    assert world.catalog.due(START + timedelta(days=60)) == []  # nothing for the scheduler


def test_an_update_for_a_key_that_cannot_be_a_page_fails_alone(world: World) -> None:
    small_site(world)
    home = world.text("index.html")
    planted = upload_page(world, "tags", "Tags")  # Validate refuses the name; a hand-made message
    outcome = world.apply(planted)
    assert outcome.failed and "site's own addresses" in outcome.reason
    assert world.text("index.html") == home
    assert "The page Tags" not in (world.text("tags/index.html") or "")


# --------------------------------------------------------------------------- navigation
def test_the_navigation_is_ordered_by_nav_order_then_title_and_nav_false_stays_out(world: World) -> None:
    small_site(world)
    index_batch(
        [
            upload_page(world, "contact", "Contact"),
            upload_page(world, "about", "About"),
            upload_page(world, "team", "Team", nav_order=2),
            upload_page(world, "now", "Now", nav_order=-1),
            upload_page(world, "imprint", "Imprint", nav=False),
        ],
        world.deps,
    )
    pages = ["/now/", "/team/", "/about/", "/contact/"]
    assert [link for link in nav_links(world.text("index.html")) if link in {*pages, "/imprint/"}] == pages
    assert world.text("imprint/index.html") is not None
    assert "https://blog.example/imprint/" in (world.text("sitemaps/pages.xml") or "")


def test_a_navigation_change_rewrites_every_page_once_in_its_batch(world: World) -> None:
    small_site(world)
    world.apply(upload_page(world, "about", "About"))
    before = {key: len(log) for key, log in world.site_store.log.items()}

    index_batch([upload_page(world, "about", "About us"), upload_page(world, "contact", "Contact")], world.deps)

    written = {key: len(log) - before.get(key, 0) for key, log in world.site_store.log.items()}
    assert {key for key in html_pages(world) if written.get(key, 0) != 1} == set()  # every page, once
    for key in html_pages(world):
        assert "About us</a>" in (world.text(key) or ""), key


def test_editing_a_page_body_writes_that_page_alone(world: World) -> None:
    small_site(world)
    world.apply(upload_page(world, "about", "About"))
    before = {key: len(log) for key, log in world.site_store.log.items()}

    outcome = world.apply(upload_page(world, "about", "About", body="<p>New words.</p>"))

    written = sorted(key for key, log in world.site_store.log.items() if len(log) != before.get(key, 0))
    assert written == ["about/index.html"] == outcome.written
    assert "New words." in (world.text("about/index.html") or "")


def test_a_repeated_or_stale_page_update_changes_nothing(world: World) -> None:
    small_site(world)
    first = upload_page(world, "about", "About")
    second = upload_page(world, "about", "About, edited")
    outcomes = index_batch([second, first, second], world.deps)
    assert [outcome.applied for outcome in outcomes] == [True, False, False]
    assert "About, edited" in (world.text("about/index.html") or "")
    assert world.apply(first).applied is False


# --------------------------------------------------------------------------- batches == rebuild
def rebuilt_from(world: World) -> MemoryStore:
    """What ``pressline rebuild`` makes from the catalog's posts and its pages record."""
    catalog = MemoryCatalog()
    catalog.posts = dict(world.catalog.posts)
    if PAGES_BLOB in world.catalog.stored_blobs:
        catalog.stored_blobs[PAGES_BLOB] = world.catalog.stored_blobs[PAGES_BLOB]
    source = MemoryStore()
    source.objects = dict(world.source.objects)
    site = MemoryStore()
    rebuild_site(catalog, source, site, world.site, now=world.now)
    return site


def author_page(world: World, rng: random.Random, name: str) -> IndexUpdate:
    key = f"pages/{name}.md"
    if rng.random() < 0.2 and world.source.head(key) is not None:
        return world.remove(key)
    return upload_page(
        world,
        name,
        f"Page {name} {rng.choice(['', 'v2'])}".strip(),
        nav_order=rng.choice([None, 1, 2, 3]),
        nav=rng.random() < 0.8,
        draft=rng.random() < 0.1,
        body=f"<p>{name} body {rng.randint(0, 3)}</p>",
        carry=rng.random() < 0.8,
    )


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_batches_of_posts_and_pages_leave_the_site_a_rebuild_makes(seed: int) -> None:
    rng = random.Random(seed)
    world = World()
    keys = [f"posts/{n}.md" for n in range(20)]
    names = ["about", "contact", "now", "team"]
    pending: list[IndexUpdate] = []
    sent: list[IndexUpdate] = []
    for _ in range(100):
        if rng.random() < 0.3:
            pending.append(author_page(world, rng, rng.choice(names)))
        else:
            number = rng.randrange(len(keys))
            pending.append(author(world, rng, keys[number], number))
        if rng.random() < 0.15:
            deliver(world, rng, pending, sent)
    while pending:
        deliver(world, rng, pending, sent)

    for name in names:  # the pages record holds what S3 holds
        head = world.source.head(f"pages/{name}.md")
        page = world.text(f"{name}/index.html")
        assert (head is None) <= (page is None), name
    incremental = {key: obj.body for key, obj in world.site_store.objects.items()}
    regenerated = {key: obj.body for key, obj in rebuilt_from(world).objects.items()}
    assert sorted(incremental) == sorted(regenerated)
    assert [key for key in regenerated if incremental[key] != regenerated[key]] == []


def test_a_page_in_a_large_batch_is_read_by_its_own_head(world: World) -> None:
    """A batch of 30 keys or more lists posts/ instead of a HEAD each: pages/ is not in that
    listing, and a page must not be taken for deleted."""
    updates = [world.upload(f"posts/{n}.md", f"Post {n}", START - timedelta(hours=n)) for n in range(40)]
    outcomes = index_batch([*updates, upload_page(world, "about", "About us")], world.deps)
    assert all(outcome.applied for outcome in outcomes)
    assert world.text("about/index.html") is not None
    assert "/about/" in nav_links(world.text("posts/post-0/index.html"))


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(lambda text: text.strip()))
def test_any_title_is_text_in_the_navigation(title: str) -> None:
    """The class of hostile titles (markup, quotes, entities, any script): escaped wherever the
    navigation shows them, never markup."""
    import html

    from pressline.indexing import views
    from pressline.indexing.pages import CatalogPage, SitePages, site_with_pages

    page = CatalogPage(
        source_key="pages/about.md", version="v1", status="published", name="about", title=title, date=START,
        applied_at=START,
    )  # fmt: skip
    site = site_with_pages(World().site, SitePages(pages={page.source_key: page}))
    found = NAV.search(views.not_found_page(site))
    assert found is not None
    [shown] = re.findall(r'<a href="/about/">(.*?)</a>', found.group(0), re.S)
    assert html.unescape(shown) == title and "<" not in shown and ">" not in shown
