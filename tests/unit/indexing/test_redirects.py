"""Old URLs answer 301: the alias keys, the ownership plan (pure), and what Index writes to
the site bucket as posts gain, change and lose aliases."""

from __future__ import annotations

import posixpath
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from index_world import SOURCE_BUCKET, START, World

from pressline.indexing.rebuild import rebuild_site
from pressline.indexing.redirects import (
    MAX_ALIASES,
    AliasPlan,
    alias_key,
    claim_name,
    plan_aliases,
    redirect_page,
)
from pressline.models import IndexUpdate, PostMeta, RenderedPost, SourceRef
from pressline.posts.paths import rendered_key
from pressline.site.pages import Site


# --------------------------------------------------------------------------- keys
@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/2019/05/hello/", "2019/05/hello/index.html"),
        ("/2019/05/hello", "2019/05/hello/index.html"),  # as the viewer-request function maps it
        ("/old-page.html", "old-page.html"),
        ("/?p=12", None),  # a query never reaches the key: WordPress ?p= links cannot be aliases
        ("/a#b", None),
        ("/caf%C3%A9/", "café/index.html"),  # S3 keys are the decoded path
        ("/%ff/", None),  # not UTF-8
        ("/", "index.html"),  # a key, refused later as the home page
    ],
)
def test_alias_keys_follow_the_viewer_request_mapping(path: str, key: str | None) -> None:
    assert alias_key(path) == key


HOSTILE = [
    "//evil.example/",
    "https://evil.example/x/",
    "relative/path/",
    "/a/../../etc/passwd",
    "/a/./b/",
    "/a//b/",
    "/%2e%2e/x/",
    "/a%2f..%2fb/",
    "/a\\b/",
    "/a\x00b/",
    "/a\nLocation: x/",
    "/" + "x" * 1100,
    "",
]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_have_no_key(path: str) -> None:
    assert alias_key(path) is None


@given(st.text(max_size=60).map(lambda text: "/" + text))
def test_any_key_is_a_plain_site_relative_key(path: str) -> None:
    """Whatever the path, a key it gives is normalised, relative, without control
    characters or backslashes, and under S3's limit: it cannot leave the site's keys."""
    key = alias_key(path)
    if key is None:
        return
    assert not key.startswith("/")
    assert posixpath.normpath(key) == key
    assert ".." not in key.split("/")
    assert not any(ord(char) < 32 or char in "\\\x7f" for char in key)
    assert len(key.encode("utf-8", "surrogatepass")) <= 1024


def test_the_redirect_body_links_to_the_new_address_and_escapes_the_site() -> None:
    site = Site(title="T", url='https://blog.example/"><script>', api_url="https://api.example")
    body = redirect_page("/posts/hello/", site)
    assert 'http-equiv="refresh" content="0; url=/posts/hello/"' in body
    assert 'rel="canonical"' in body
    assert "<script>" not in body


# --------------------------------------------------------------------------- the plan (pure)
def plan(requested: list[str], *, held: tuple[str, ...] = (), owners: dict[str, str] | None = None) -> AliasPlan:
    """A plan for the post posts/a.md, whose slug is "new"."""
    return plan_aliases(
        requested, source_key="posts/a.md", own_key="posts/new/index.html", held=held, owners=owners or {}
    )


def test_a_free_alias_is_claimed_by_its_key_once() -> None:
    result = plan(["/2019/05/hello/", "/2019/05/hello/index.html", "/old.html"])
    assert result.kept == ("/2019/05/hello/", "/old.html")
    assert result.claims == (claim_name("2019/05/hello/index.html"), claim_name("old.html"))
    assert result.warnings == ()


def test_another_posts_alias_is_refused_with_the_owner_named() -> None:
    result = plan(["/x/", "/y/"], owners={claim_name("x/index.html"): "posts/b.md"})
    assert result.kept == ("/y/",)
    assert [w.field for w in result.warnings] == ["aliases"]
    assert "posts/b.md" in result.warnings[0].message


def test_generated_pages_and_other_posts_addresses_are_refused_the_own_address_dropped() -> None:
    requested = ["/", "/feed.xml", "/tags/python/", "/archive/2019/05/", "/media/a.png", "/api/x", "/posts/taken/"]
    result = plan([*requested, "/posts/new/", "/posts/free/"], owners={"taken": "posts/b.md"})
    assert result.kept == ("/posts/free/",)  # a post address nobody holds may be an alias
    assert len(result.warnings) == len(requested)  # its own address: nothing to redirect, no warning


def test_dropped_aliases_are_released_only_when_owned() -> None:
    owners = {claim_name("kept/index.html"): "posts/a.md", claim_name("mine/index.html"): "posts/a.md"}
    result = plan(["/kept/"], held=("/kept/", "/mine/", "/not-mine/"), owners=owners)
    assert result.claims == ()
    assert result.releases == (claim_name("mine/index.html"),)


def test_a_gone_post_releases_everything_it_owns() -> None:
    owners = {claim_name("a/index.html"): "posts/a.md"}
    result = plan_aliases(["/a/"], source_key="posts/a.md", own_key=None, held=("/a/",), owners=owners)
    assert (result.kept, result.claims, result.releases) == ((), (), (claim_name("a/index.html"),))


def test_aliases_past_the_limit_are_refused() -> None:
    result = plan([f"/{n}/" for n in range(MAX_ALIASES + 3)])
    assert len(result.kept) == MAX_ALIASES
    assert len(result.warnings) == 3


# --------------------------------------------------------------------------- Index
def redirect_of(world: World, key: str) -> str | None:
    found = world.site_store.get(key)
    return found.redirect if found is not None else None


def test_a_published_posts_aliases_become_redirect_objects(world: World) -> None:
    world.publish("posts/a.md", "Hello", START - timedelta(days=2), aliases=("/2019/05/hello/", "/old.html"))
    assert redirect_of(world, "2019/05/hello/index.html") == "/posts/hello/"
    assert redirect_of(world, "old.html") == "/posts/hello/"
    body = world.text("old.html")
    assert body is not None and 'href="/posts/hello/"' in body
    assert redirect_of(world, "posts/hello/index.html") is None  # the page itself is a page


def test_edits_rewrite_and_drop_redirects_and_a_delete_removes_them(world: World) -> None:
    date = START - timedelta(days=2)
    world.publish("posts/a.md", "Hello", date, aliases=("/one/", "/two/"))
    world.publish("posts/a.md", "Hello", date, aliases=("/one/",))  # /two/ dropped
    assert redirect_of(world, "one/index.html") == "/posts/hello/"
    assert world.site_store.get("two/index.html") is None
    world.publish("posts/a.md", "Hello", date, slug="renamed", aliases=("/one/",))  # the Location changes
    assert redirect_of(world, "one/index.html") == "/posts/renamed/"
    world.publish("posts/a.md", "Hello", date, slug="renamed", aliases=("/one/",), draft=True)  # unpublished
    assert world.site_store.get("one/index.html") is None
    world.publish("posts/a.md", "Hello", date, slug="renamed", aliases=("/one/",))
    assert redirect_of(world, "one/index.html") == "/posts/renamed/"
    world.apply(world.remove("posts/a.md"))
    assert world.site_store.get("one/index.html") is None
    assert not [slug for slug in world.catalog.slugs if slug.startswith("/")]  # every claim given back


def test_a_scheduled_post_redirects_once_it_is_live(world: World) -> None:
    world.publish("posts/a.md", "Later", START + timedelta(hours=1), aliases=("/later/",))
    assert world.site_store.get("later/index.html") is None
    world.later(hours=2)
    world.publish("posts/a.md", "Later", START + timedelta(hours=1), aliases=("/later/",))
    assert redirect_of(world, "later/index.html") == "/posts/later/"


def test_the_first_owner_keeps_an_alias_and_the_second_is_told(world: World) -> None:
    date = START - timedelta(days=2)
    world.publish("posts/a.md", "First", date, aliases=("/shared/",))
    world.publish("posts/b.md", "Second", date, aliases=("/shared/", "/own/"))
    assert redirect_of(world, "shared/index.html") == "/posts/first/"
    assert redirect_of(world, "own/index.html") == "/posts/second/"
    warnings = world.report("posts/b.md")["warnings"]
    assert [w["field"] for w in warnings] == ["aliases"]
    assert "posts/a.md" in warnings[0]["message"]
    assert world.report("posts/b.md")["status"] == "published"
    world.apply(world.remove("posts/b.md"))  # the loser going takes nothing of the owner's
    assert redirect_of(world, "shared/index.html") == "/posts/first/"


def test_an_alias_at_a_posts_address_is_refused(world: World) -> None:
    date = START - timedelta(days=2)
    world.publish("posts/a.md", "Taken", date)
    world.publish("posts/b.md", "Other", date, aliases=("/posts/taken/",))
    page = world.site_store.get("posts/taken/index.html")
    assert page is not None and page.redirect is None
    assert "address of another post" in world.report("posts/b.md")["warnings"][0]["message"]


def test_a_later_real_page_wins_over_an_alias_which_answers_again_when_it_goes(world: World) -> None:
    date = START - timedelta(days=2)
    world.publish("posts/a.md", "Renamed", date, aliases=("/posts/old-name/",))
    assert redirect_of(world, "posts/old-name/index.html") == "/posts/renamed/"
    world.publish("posts/c.md", "Old name", date)  # a new post takes the slug: its page wins
    page = world.site_store.get("posts/old-name/index.html")
    assert page is not None and page.redirect is None and b"Old name" in page.body
    world.publish("posts/a.md", "Renamed", date, slug="renamed-again", aliases=("/posts/old-name/",))
    page = world.site_store.get("posts/old-name/index.html")
    assert page is not None and page.redirect is None  # still the real page
    world.apply(world.remove("posts/c.md"))
    assert redirect_of(world, "posts/old-name/index.html") == "/posts/renamed-again/"


def test_a_renamed_post_can_keep_its_old_address(world: World) -> None:
    date = START - timedelta(days=2)
    world.publish("posts/a.md", "Hello", date)
    world.publish("posts/a.md", "Hello", date, slug="hello-world", aliases=("/posts/hello/",))
    assert redirect_of(world, "posts/hello/index.html") == "/posts/hello-world/"


def test_rebuild_writes_the_same_redirects(world: World) -> None:
    date = START - timedelta(days=2)
    world.publish("posts/a.md", "Hello", date, aliases=("/one/", "/posts/gone/"))
    world.publish("posts/b.md", "Other", date, aliases=("/one/", "/two.html"))
    rebuilt = World()
    rebuilt.catalog.posts = dict(world.catalog.posts)
    rebuilt.source.objects = dict(world.source.objects)
    rebuild_site(rebuilt.catalog, rebuilt.source, rebuilt.site_store, world.site, now=world.now)

    def redirects(w: World) -> dict[str, tuple[str | None, bytes]]:
        return {key: (obj.redirect, obj.body) for key, obj in w.site_store.objects.items() if obj.redirect}

    assert redirects(world) == redirects(rebuilt)
    assert set(redirects(world)) == {"one/index.html", "posts/gone/index.html", "two.html"}


def test_a_post_that_takes_the_address_it_held_as_an_alias_keeps_its_page(world: World) -> None:
    date = START - timedelta(days=2)
    world.publish("posts/a.md", "Hello", date, slug="hello-world", aliases=("/posts/hello/",))
    world.publish("posts/a.md", "Hello", date, slug="hello", aliases=("/posts/hello/",))
    page = world.site_store.get("posts/hello/index.html")
    assert page is not None and page.redirect is None and b"Hello" in page.body
    assert world.catalog.posts["posts/a.md"].aliases == ()


def test_static_pages_win_over_aliases(world: World) -> None:
    date = START - timedelta(days=2)
    world.apply(upload_page(world, "about", "About"))
    world.publish("posts/a.md", "Hello", date, aliases=("/about/", "/contact/"))
    page = world.site_store.get("about/index.html")
    assert page is not None and page.redirect is None  # refused: the page stays
    assert "a page of the site" in world.report("posts/a.md")["warnings"][0]["message"]
    assert redirect_of(world, "contact/index.html") == "/posts/hello/"

    world.apply(upload_page(world, "contact", "Contact"))  # a later page takes an alias's address
    page = world.site_store.get("contact/index.html")
    assert page is not None and page.redirect is None
    world.publish("posts/a.md", "Hello", date, slug="hello-again", aliases=("/about/", "/contact/"))
    page = world.site_store.get("contact/index.html")
    assert page is not None and page.redirect is None  # the alias stays hidden under the page
    world.apply(world.remove("pages/contact.md"))
    assert redirect_of(world, "contact/index.html") == "/posts/hello-again/"  # and answers once it goes


def test_aliases_cost_one_put_each_and_no_catalog_read_or_commit_more(world: World) -> None:
    """The claims come in the batch's reads and go in its commit: a post with three aliases
    costs three PutObjects more than one without, and nothing else."""
    reads = 0
    real_read = world.catalog.read

    def counted_read(keys: Any) -> Any:
        nonlocal reads
        reads += 1
        return real_read(keys)

    world.catalog.read = counted_read  # type: ignore[method-assign]
    date = START - timedelta(days=2)
    world.publish("posts/first.md", "First", date - timedelta(days=1))  # the site's first files

    def cost(key: str, title: str, hours: int, aliases: tuple[str, ...]) -> tuple[int, int, int]:
        """Reads and commits of the catalog, site files written: for a post newer than all."""
        nonlocal reads
        reads, commits, puts = 0, world.catalog.commits, sum(len(log) for log in world.site_store.log.values())
        world.publish(key, title, date + timedelta(hours=hours), aliases=aliases)
        written = sum(len(log) for log in world.site_store.log.values()) - puts
        return reads, world.catalog.commits - commits, written

    plain = cost("posts/a.md", "Plain", 1, ())
    moved = cost("posts/b.md", "Moved", 2, ("/2019/05/moved/", "/moved.html", "/old/moved"))
    assert moved == (plain[0], plain[1], plain[2] + 3)


def upload_page(
    world: World, name: str, title: str, *, aliases: tuple[str, ...] = (), draft: bool = False
) -> IndexUpdate:
    """What Validate and Render do for ``pages/<name>.md`` with ``aliases:``."""
    key = f"pages/{name}.md"
    world.source.put(key, f"---\ntitle: {title}\n---\n".encode(), "text/markdown")
    head = world.source.head(key)
    assert head is not None
    ref = SourceRef(bucket=SOURCE_BUCKET, key=key, version_id=head.version_id, etag=head.etag)
    meta = PostMeta(slug=name, title=title, date=START, draft=draft, aliases=aliases)
    status = "draft" if draft else "published"
    rendered = RenderedPost(source=ref, meta=meta, body_html=f"<p>{title}</p>", status=status, rendered_at=world.now)
    world.source.put(rendered_key(ref), rendered.model_dump_json().encode(), "application/json")
    return IndexUpdate(action="upsert", source=ref, slug=name, rendered=rendered)


def test_a_pages_aliases_redirect_to_it_like_a_posts(world: World) -> None:
    world.publish("posts/a.md", "Hello", START - timedelta(days=2), aliases=("/company/",))
    world.apply(upload_page(world, "team", "Team", aliases=("/company/team/", "/company/", "/team/")))
    assert redirect_of(world, "company/team/index.html") == "/team/"
    assert redirect_of(world, "company/index.html") == "/posts/hello/"  # the post's first
    assert "already an alias of posts/a.md" in world.report("pages/team.md")["warnings"][0]["message"]
    page = world.site_store.get("team/index.html")
    assert page is not None and page.redirect is None  # its own address is the page
    world.apply(upload_page(world, "team", "Team", aliases=("/company/team/",), draft=True))
    assert world.site_store.get("company/team/index.html") is None  # not live: no redirect
    world.apply(upload_page(world, "team", "Team", aliases=("/company/team/",)))
    assert redirect_of(world, "company/team/index.html") == "/team/"
    world.apply(world.remove("pages/team.md"))
    assert world.site_store.get("company/team/index.html") is None
    assert [name for name, owner in world.catalog.slugs.items() if owner == "pages/team.md"] == []


def test_the_sites_own_files_are_the_ones_index_generates_at_the_top() -> None:
    """posts.paths.SITE_FILES (what aliases and pages may not take) is indexing.layout's list of
    top-level files: a file Index starts generating must be added there too."""
    from pressline.indexing import layout
    from pressline.posts.paths import SITE_FILES

    generated = {layout.HOME, layout.ATOM, layout.RSS, layout.JSON_FEED, layout.SITEMAP_INDEX, layout.ROBOTS}
    assert generated | {layout.NOT_FOUND} == SITE_FILES
    top_level = {value for name, value in vars(layout).items() if name.isupper() and isinstance(value, str)}
    assert {value for value in top_level if "/" not in value and "." in value} <= SITE_FILES
