"""A static page (``pages/<name>.md``, at ``/<name>/``): one pure function to HTML.

Like the post page, everything author-written is escaped by Jinja2's autoescape except the
body, sanitized by ``pressline.posts.sanitize`` (and again on its way out of the rendered
store, ``pressline.indexing.renderings``). No date, tags, neighbours or subscribe form: a
page is not a post of the blog's chronology. The navigation comes with ``site``.
"""

from __future__ import annotations

from pressline.models import RenderedPost
from pressline.posts.paths import page_path
from pressline.site.pages import Site, _description


def render_static_page(rendered: RenderedPost, name: str, site: Site) -> str:
    """The HTML of ``/<name>/``. ``name`` comes from the source key (``posts.paths.page_name``),
    never from the rendering: the key is what Validate checked."""
    from markupsafe import Markup

    from pressline.posts.sanitize import strip_markup
    from pressline.site.templating import render

    meta = rendered.meta
    path = page_path(name)
    url = site.absolute(path)
    return render(
        "page.html",
        site=site,
        meta=meta,
        current_path=path,
        canonical=meta.canonical_url or url,
        description=_description(strip_markup(meta.summary)),
        image=site.absolute(meta.image) if meta.image else None,
        body_html=Markup(rendered.body_html),  # noqa: S704 - sanitized by pressline.posts.sanitize  # nosec B704
    )
