"""The security headers of every page: one definition for CloudFront, the local stack and the API.

``template.yaml``'s ``SiteResponseHeadersPolicy`` (CloudFront) must say exactly this (a test
compares them); the local stack's site server (``pressline.local.web``) sends ``site_headers``,
and the subscription pages of the HTTP API send ``api_headers`` (``stages.subscriptions``).

What the pages load, and so what the Content-Security-Policy allows:

- scripts: only the site's own file (``/search/search.js`` on the search page; the JSON-LD
  block of a post page is data, never run). No inline script, no ``eval``: ``script-src 'self'``.
- styles: the ``<style>`` blocks of the templates. Sites override templates
  (``PRESSLINE_TEMPLATES``), so hashes would break on the first edit: ``'unsafe-inline'``, for
  styles only. Author HTML never carries a style (the sanitizer drops the attribute and the element).
- images: the site's own (``/media/...``) and, as the rules allow, an author's https images.
- fetches: the search index, from the site itself. No fonts, media, frames, workers or plugins.
- forms: the search form (the site) and the subscribe box, which posts to the API's origin.
- nobody frames the site (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` for old
  browsers), and no ``<base>`` can move relative links.
"""

from __future__ import annotations

# Two years, as the HSTS preload list asks; subdomains are the operator's to opt in (a custom
# domain may have http-only neighbours), so neither includeSubDomains nor preload is sent.
HSTS_MAX_AGE = 63_072_000
REFERRER_POLICY = "strict-origin-when-cross-origin"
# Every powerful feature off: a blog needs none, and an embedded author image gets none.
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), midi=(), payment=(), publickey-credentials-get=(), usb=()"
)
CROSS_ORIGIN_OPENER_POLICY = "same-origin"


def content_security_policy(api_origin: str | None = None) -> str:
    """The site's CSP. ``api_origin`` is where the subscribe box posts (``https://<id>.execute-api…``);
    None when the API is on the site's own origin (the local stack's ``/api``)."""
    form_action = "'self'" if not api_origin else f"'self' {api_origin}"
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' https:",
        "connect-src 'self'",
        f"form-action {form_action}",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def api_content_security_policy(site_url: str) -> str:
    """The subscription pages' CSP: their one form posts to the API itself, their inline style
    (and anything of the site's) is all they load, and their ``<base>`` is the site."""
    site = origin_of(site_url)
    return "; ".join(
        [
            "default-src 'none'",
            f"style-src 'self' 'unsafe-inline' {site}",
            f"img-src 'self' {site}",
            "form-action 'self'",
            "frame-ancestors 'none'",
            f"base-uri {site}",
        ]
    )


def origin_of(url: str) -> str:
    """``https://blog.example/some/path`` -> ``https://blog.example`` (a CSP source)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else url


def _common(referrer_policy: str = REFERRER_POLICY) -> dict[str, str]:
    return {
        "Strict-Transport-Security": f"max-age={HSTS_MAX_AGE}",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": referrer_policy,
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": CROSS_ORIGIN_OPENER_POLICY,
    }


def site_headers(api_origin: str | None = None) -> dict[str, str]:
    """Every header CloudFront adds to the site's responses (pages, feeds, images alike)."""
    return {"Content-Security-Policy": content_security_policy(api_origin), **_common()}


def api_headers(site_url: str) -> dict[str, str]:
    """The headers of the subscriptions API's HTML pages (confirm, unsubscribe and their answers)."""
    # The pages' URLs hold a token: never hand it to another site in a Referer. Not
    # "no-referrer": under it browsers send ``Origin: null`` with the page's own form POST (the
    # Fetch standard's origin serialization), and the cross-origin check must see the origin.
    return {"Content-Security-Policy": api_content_security_policy(site_url), **_common("same-origin")}
