"""The distribution's CloudFront Functions, run in node with CloudFront's event shape: the
viewer-response function answers an alias object with a 301 to its post (and only to a path of
the site), and the viewer-request function maps paths to the keys Index writes aliases at.
Each function is attached to every cache behaviour that serves pages."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from pressline.indexing.redirects import alias_key
from pressline.local.web import site_key

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
HARNESS = """
const events = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(events.map((event) => handler(event))));
"""


@cache
def resources() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    return dict(template["Resources"])


def run_function(logical_id: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed: the CloudFront Functions cannot be run (install node 18+)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    function = resources()[logical_id]
    assert function["Type"] == "AWS::CloudFront::Function"
    assert function["Properties"]["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    code = function["Properties"]["FunctionCode"] + HARNESS
    done = subprocess.run([node, "-e", code], input=json.dumps(events), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def viewer_response(headers: dict[str, str], status: int = 200) -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-response"},
        "viewer": {"ip": "127.0.0.1"},
        "request": {"method": "GET", "uri": "/2019/05/hello/index.html", "querystring": {}, "headers": {}},
        "response": {
            "statusCode": status,
            "statusDescription": "OK",
            "headers": {name: {"value": value} for name, value in headers.items()},
        },
    }


def test_an_alias_object_answers_301_to_its_post() -> None:
    (response,) = run_function(
        "SiteRedirects",
        [viewer_response({"x-amz-website-redirect-location": "/posts/hello/", "content-type": "text/html"})],
    )
    assert response["statusCode"] == 301
    assert response["headers"]["location"] == {"value": "/posts/hello/"}
    assert "x-amz-website-redirect-location" not in response["headers"]
    assert response["headers"]["content-type"] == {"value": "text/html"}


def test_a_page_passes_unchanged() -> None:
    event = viewer_response({"content-type": "text/html", "etag": '"1"'})
    (response,) = run_function("SiteRedirects", [event])
    assert response == event["response"]


@pytest.mark.parametrize(
    "location", ["//evil.example/", "https://evil.example/", "http:/x", "/a\\b", "evil.example/x", ""]
)
def test_a_location_outside_the_site_is_never_followed(location: str) -> None:
    (response,) = run_function("SiteRedirects", [viewer_response({"x-amz-website-redirect-location": location})])
    assert response["statusCode"] == 200
    assert "location" not in response["headers"]
    assert "x-amz-website-redirect-location" not in response["headers"]


PATHS = ["/", "/2019/05/hello/", "/2019/05/hello", "/old.html", "/a.b/c", "/posts/x/", "/archive/2019/05/"]


def test_the_viewer_request_function_asks_for_the_keys_aliases_are_written_at() -> None:
    events = [
        {
            "version": "1.0",
            "context": {"eventType": "viewer-request"},
            "viewer": {"ip": "127.0.0.1"},
            "request": {"method": "GET", "uri": path, "querystring": {}, "headers": {}},
        }
        for path in PATHS
    ]
    asked = [request["uri"] for request in run_function("SiteIndexRewrite", events)]
    assert asked == ["/" + str(alias_key(path)) for path in PATHS]
    assert asked == ["/" + site_key(path) for path in PATHS]  # the local web server asks the same


def test_every_cache_behaviour_answers_aliases_and_rewrites_directories() -> None:
    distributions = [r for r in resources().values() if r["Type"] == "AWS::CloudFront::Distribution"]
    assert distributions
    for distribution in distributions:
        config = distribution["Properties"]["DistributionConfig"]
        behaviours = [config["DefaultCacheBehavior"], *config.get("CacheBehaviors", [])]
        for behaviour in behaviours:
            associations = {
                item["EventType"]: item["FunctionARN"]["Fn::GetAtt"][0] for item in behaviour["FunctionAssociations"]
            }
            assert associations == {"viewer-request": "SiteIndexRewrite", "viewer-response": "SiteRedirects"}
