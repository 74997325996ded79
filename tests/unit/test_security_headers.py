"""The site's security headers: CloudFront's policy in template.yaml is ``pressline.site.headers``,
attached to every behaviour; the local stack's server sends the same on every site response;
and the CSP allows exactly what the pages load (checked against the templates)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from pressline.site import headers
from pressline.stages.subscriptions import cross_origin_reason

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "shared" / "pressline" / "site" / "templates"
API_ORIGIN = "https://${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"


def _resources() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    return dict(template["Resources"])


def _sub(value: Any) -> str:
    """The text of a CloudFormation string: plain, or the template of a ``!Sub``."""
    if isinstance(value, dict):
        (body,) = value.values()
        return str(body[0] if isinstance(body, list) else body)
    return str(value)


def _xss_protection(config: dict[str, Any]) -> str:
    value = "1" if config["Protection"] else "0"
    if config.get("ModeBlock"):
        value += "; mode=block"
    if config.get("ReportUri"):
        value += f"; report={config['ReportUri']}"
    return value


def _hsts(config: dict[str, Any]) -> str:
    return (
        f"max-age={config['AccessControlMaxAgeSec']}"
        + ("; includeSubDomains" if config.get("IncludeSubdomains") else "")
        + ("; preload" if config.get("Preload") else "")
    )


# Each security header of CloudFront (AWS::CloudFront::ResponseHeadersPolicy
# SecurityHeadersConfig) as the HTTP header it sends.
SECURITY_HEADERS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "ContentSecurityPolicy": ("Content-Security-Policy", lambda c: _sub(c["ContentSecurityPolicy"])),
    "ContentTypeOptions": ("X-Content-Type-Options", lambda c: "nosniff"),
    "FrameOptions": ("X-Frame-Options", lambda c: str(c["FrameOption"])),
    "ReferrerPolicy": ("Referrer-Policy", lambda c: str(c["ReferrerPolicy"])),
    "StrictTransportSecurity": ("Strict-Transport-Security", _hsts),
    "XSSProtection": ("X-XSS-Protection", _xss_protection),
}


def _cloudfront_headers(policy: dict[str, Any]) -> dict[str, str]:
    """The headers a ResponseHeadersPolicyConfig makes CloudFront send, as HTTP would carry them:
    every security header it configures and every custom header, none left out."""
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]
    security = config.get("SecurityHeadersConfig", {})
    unknown = set(security) - set(SECURITY_HEADERS)
    assert not unknown, f"a security header this test does not know how CloudFront sends: {unknown}"
    sent = {SECURITY_HEADERS[key][0]: SECURITY_HEADERS[key][1](value) for key, value in security.items()}
    custom = config.get("CustomHeadersConfig", {}).get("Items", [])
    for item in custom:
        assert item["Header"] not in sent, f"{item['Header']} set twice"
        sent[item["Header"]] = _sub(item["Value"])
    every = [value.get("Override") for value in security.values()] + [item.get("Override") for item in custom]
    assert all(every), "every header overrides whatever the origin sent"
    return sent


def _site_policy(resources: dict[str, Any]) -> dict[str, Any]:
    policies = [r for r in resources.values() if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"]
    assert len(policies) == 1
    return policies[0]


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";"))}


def test_cloudfront_sends_exactly_the_headers_defined_once() -> None:
    sent = _cloudfront_headers(_site_policy(_resources()))
    expected = headers.site_headers(API_ORIGIN)
    # Directive by directive first, so that a failure names the one that differs.
    assert _directives(sent["Content-Security-Policy"]) == _directives(expected["Content-Security-Policy"])
    assert sent == expected


SECURITY = ("SecurityHeadersConfig",)
CSP = (*SECURITY, "ContentSecurityPolicy", "ContentSecurityPolicy")
# (where in the policy, the new value from the old; None removes it)
TEMPLATE_CHANGES: dict[str, tuple[tuple[str, ...], Callable[[Any], Any]]] = {
    "a CSP directive loosened": (CSP, lambda csp: _sub(csp).replace("script-src 'self'", "script-src 'self' https:")),
    "a CSP directive dropped": (CSP, lambda csp: _sub(csp).replace("; object-src 'none'", "")),
    "nosniff dropped": ((*SECURITY, "ContentTypeOptions"), lambda _: None),
    "framing from the same origin": ((*SECURITY, "FrameOptions", "FrameOption"), lambda _: "SAMEORIGIN"),
    "HSTS shortened": ((*SECURITY, "StrictTransportSecurity", "AccessControlMaxAgeSec"), lambda _: 86400),
    "HSTS on subdomains": ((*SECURITY, "StrictTransportSecurity", "IncludeSubdomains"), lambda _: True),
    "another referrer policy": ((*SECURITY, "ReferrerPolicy", "ReferrerPolicy"), lambda _: "no-referrer"),
    "an old header added": ((*SECURITY, "XSSProtection"), lambda _: {"Protection": True, "Override": True}),
    "a custom header dropped": (("CustomHeadersConfig", "Items"), lambda items: items[:-1]),
    "a custom header changed": (
        ("CustomHeadersConfig", "Items"),
        lambda items: [{**items[0], "Value": items[0]["Value"].replace("camera=()", "camera=(self)")}, *items[1:]],
    ),
}


@pytest.mark.parametrize("change", list(TEMPLATE_CHANGES))
def test_the_comparison_fails_when_the_template_says_anything_else(change: str) -> None:
    """The comparison above is worth something only if it can fail: with any one header,
    directive or flag of the template changed, the headers differ from the definition."""
    path, edit = TEMPLATE_CHANGES[change]
    policy = copy.deepcopy(_site_policy(_resources()))
    node: Any = policy["Properties"]["ResponseHeadersPolicyConfig"]
    for key in path[:-1]:
        node = node[key]
    value = edit(node.get(path[-1]))
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    assert _cloudfront_headers(policy) != headers.site_headers(API_ORIGIN), change


def test_every_behaviour_of_the_distribution_uses_the_policy() -> None:
    resources = _resources()
    (policy_id,) = [i for i, r in resources.items() if r["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"]
    for distribution in (r for r in resources.values() if r["Type"] == "AWS::CloudFront::Distribution"):
        config = distribution["Properties"]["DistributionConfig"]
        behaviours = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
        for behaviour in behaviours:
            assert behaviour.get("ResponseHeadersPolicyId") == {"Ref": policy_id}, behaviour


def test_only_render_may_write_renderings() -> None:
    """Authors write posts/; the bucket policy keeps everyone but Render out of rendered/."""
    statements = _resources()["SourceBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = [s for s in statements if s.get("Sid") == "OnlyRenderWritesRenderings"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert {"s3:PutObject", "s3:DeleteObject"} <= set(deny["Action"])
    assert deny["Resource"] == {"Fn::Sub": "${SourceBucket.Arn}/rendered/*"}
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": {"Fn::GetAtt": ["RenderFunctionRole", "Arn"]}}}


# --------------------------------------------------------------------------- what the pages load
def test_the_policy_allows_what_the_templates_load_and_nothing_more() -> None:
    csp = _directives(headers.content_security_policy("https://api.example"))
    assert csp["default-src"] == ["'none'"] and csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'", "https://api.example"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    pages = {path.name: path.read_text() for path in TEMPLATES.glob("*.html")}
    scripts = {src for text in pages.values() for src in re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", text)}
    assert scripts == {"/search/search.js"}, "a script from elsewhere needs its source in script-src"
    inline = [
        n for n, t in pages.items() for m in re.finditer(r"<script(?![^>]*\bsrc=)([^>]*)>", t) if "ld+json" not in m[1]
    ]
    assert inline == [], "an inline script would need a hash in script-src"
    assert any("<style>" in text for text in pages.values())  # why style-src has 'unsafe-inline'
    assert not re.search(r"https?://", "".join(re.findall(r"(?:src|href)=\"([^\"{]+)\"", "".join(pages.values()))))
    search = (ROOT / "shared" / "pressline" / "site" / "static" / "search.js").read_text()
    assert "eval(" not in search and "new Function" not in search and "innerHTML" not in search
    assert re.findall(r"fetch\(([A-Za-z_.]+)", search), "the search script fetches its index (connect-src 'self')"


def test_the_api_pages_policy_allows_their_base_and_form() -> None:
    csp = _directives(headers.api_content_security_policy("https://blog.example/"))
    assert csp["base-uri"] == ["https://blog.example"]
    assert csp["form-action"] == ["'self'"] and csp["default-src"] == ["'none'"]
    assert "script-src" not in csp and csp["frame-ancestors"] == ["'none'"]
    assert headers.api_headers("https://blog.example")["Referrer-Policy"] == "same-origin"  # tokens in URLs
    layout = (TEMPLATES / "subscriptions" / "layout.html").read_text()
    assert "<base href=" in layout and "<style>" in layout and "<script" not in layout


# --------------------------------------------------------------------------- the local stack
S3_AND_HTTP_HEADERS = {"Content-Type", "Content-Length", "ETag", "Cache-Control", "Location", "Server", "Date"}


@pytest.mark.parametrize("path", ["/", "/posts/hello/", "/feed.xml", "/no-such-page/"])
def test_the_local_site_server_sends_the_same_headers(path: str) -> None:
    from http.client import HTTPConnection

    import boto3
    from moto import mock_aws

    from pressline.local.web import LocalHttpServer

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="site")
        s3.put_object(Bucket="site", Key="index.html", Body=b"<!doctype html>home", ContentType="text/html")
        s3.put_object(Bucket="site", Key="posts/hello/index.html", Body=b"<!doctype html>hi", ContentType="text/html")
        s3.put_object(Bucket="site", Key="feed.xml", Body=b"<feed/>", ContentType="application/atom+xml")
        server = LocalHttpServer.bind("127.0.0.1", 0)
        server.configure(s3=s3, site_bucket="site", routes=[], invoke=lambda *_: None, account_id="123456789012")
        server.start()
        try:
            connection = HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            sent = {name: value for name, value in response.getheaders()}
        finally:
            server.stop()
    expected = headers.site_headers()  # the local API is on the site's origin (/api)
    assert {name: sent.get(name) for name in expected} == expected
    # ...and no header of its own beyond what S3 and HTTP itself send.
    assert set(sent) - set(expected) <= S3_AND_HTTP_HEADERS, sent


# The Fetch standard ("serializing a request origin"): a form POST carries ``Origin: null``
# when the page's referrer policy is one of these for a same-origin request. The subscription
# pages post to themselves and the API refuses a hidden origin, so neither the API's nor the
# site's policy may be one of them (CI's browser tests found "no-referrer" doing exactly that).
HIDES_THE_ORIGIN_OF_A_SAME_ORIGIN_POST = {"no-referrer"}
# ...and these leak the full URL (with its token) to other sites.
SENDS_THE_URL_TO_OTHER_SITES = {"unsafe-url", "no-referrer-when-downgrade", "origin-when-cross-origin"}


@pytest.mark.parametrize("page_headers", [headers.api_headers("https://blog.example"), headers.site_headers()])
def test_referrer_policies_keep_the_origin_on_the_pages_own_posts_and_the_token_at_home(
    page_headers: dict[str, str],
) -> None:
    policy = page_headers["Referrer-Policy"]
    assert policy not in HIDES_THE_ORIGIN_OF_A_SAME_ORIGIN_POST
    assert policy not in SENDS_THE_URL_TO_OTHER_SITES


SITE, API = "https://blog.example", "https://abc123.execute-api.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("origin", "fetch_site", "taken"),
    [
        (SITE, "same-site", True),
        (API, "same-origin", True),
        ("HTTPS://BLOG.EXAMPLE", "", True),  # origins compare without case
        ("https://api.local:3000", "same-origin", True),  # the request's own host (see host below)
        ("", "", True),  # curl, scripts, mail providers
        ("", "same-origin", True),
        ("", "cross-site", False),
        ("https://evil.example", "cross-site", False),
        ("https://evil.example", "", False),
        ("https://blog.example.evil.example", "cross-site", False),  # a prefix is not the origin
        ("http://blog.example", "cross-site", False),  # another scheme is another origin
        ("null", "same-origin", True),  # hidden by a privacy setting; the browser says same-origin
        ("null", "cross-site", False),  # a sandboxed frame or data: page elsewhere
        ("null", "", False),
        ("null", "same-site", False),
    ],
)
def test_a_post_is_taken_only_from_the_sites_own_pages(origin: str, fetch_site: str, taken: bool) -> None:
    request = {"origin": origin, "sec-fetch-site": fetch_site, "host": "api.local:3000"}
    reason = cross_origin_reason({k: v for k, v in request.items() if v}, SITE, API)
    assert (reason is None) is taken, reason
