"""Which stack ``pressline subscribers`` and ``pressline export`` talk to, without AWS: the
local stack's outputs file and the function descriptions beside it, else the environment."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pressline.ops.subscribers import stack_settings, subscribers_table


def test_the_outputs_file_and_the_subscriptions_functions_settings(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"SubscribersTableName": "subs", "SourceBucketName": "src", "SiteUrl": "http://x"}))
    (tmp_path / "outputs.functions.json").write_text(
        json.dumps(
            {
                "SubscriptionsFunction": {
                    "name": "f",
                    "arn": "arn",
                    "environment": {
                        "TOKEN_SECRET_ARN": "arn:secret",
                        "SUBSCRIBERS_TABLE": "subs",
                        "SENDER_EMAIL": "n@x",
                    },
                },
                "NotifyFunction": {"name": "g", "arn": "arn", "environment": {"TOKEN_SECRET_ARN": "other"}},
            }
        )
    )
    found = stack_settings(argparse.Namespace(outputs=outputs, stack_name=None))
    assert found.environment["TOKEN_SECRET_ARN"] == "arn:secret"
    assert subscribers_table(found) == "subs" and found.outputs["SourceBucketName"] == "src"


def test_without_a_stack_the_processs_own_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBSCRIBERS_TABLE", "from-env")
    monkeypatch.setenv("TOKEN_SECRET_ARN", "arn:env")
    monkeypatch.setenv("UNRELATED", "x")
    found = stack_settings(argparse.Namespace(outputs=None, stack_name=None))
    assert subscribers_table(found) == "from-env"
    assert "UNRELATED" not in found.environment


def test_no_table_anywhere_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pressline.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("SUBSCRIBERS_TABLE", "TOKEN_SECRET_ARN", "SOURCE_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["subscribers", "export", "out.csv"]) == 2
    assert "no subscribers table" in capsys.readouterr().err
    assert main(["export", "site"]) == 2
    assert "no source bucket" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "site").exists()
