"""``pressline local --parameter-overrides``: read as ``sam deploy`` reads it, checked against
template.yaml's Parameters as CloudFormation checks them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pressline.local.template import (
    ParameterError,
    check_parameters,
    load_sam,
    parameter_overrides,
    parse_parameter_overrides,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
DECLARED = load_sam(TEMPLATE)["Parameters"]
KNOWN = frozenset(DECLARED)

keys = st.sampled_from(sorted(KNOWN))
# Any text a title or a URL could hold, spaces, quotes, backslashes and '=' included.
values = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


def _double_quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["SiteTitle=Mon blog"], {"SiteTitle": "Mon blog"}),  # the shell removed the quotes
        (['SiteTitle="My blog" SiteTimezone=Europe/Paris'], {"SiteTitle": "My blog", "SiteTimezone": "Europe/Paris"}),
        (["SiteTitle='Tom''s'"], {"SiteTitle": "'Tom''s'"}),  # not all pairs: the rest of the word, as written
        (["SiteTitle=Tom's blog"], {"SiteTitle": "Tom's blog"}),
        (
            ['ParameterKey=SiteTitle,ParameterValue="A b" ParameterKey=SiteTimezone,ParameterValue=UTC'],
            {"SiteTitle": "A b", "SiteTimezone": "UTC"},
        ),
        (["ParameterKey=SiteTitle,ParameterValue=A b"], {"SiteTitle": "A b"}),
        (["AlarmEmail=", "SiteTitle=a=b"], {"AlarmEmail": "", "SiteTitle": "a=b"}),
        (["SiteTitle=first", "SiteTitle=second"], {"SiteTitle": "second"}),  # a later pair wins, as in SAM
        (["SiteTitle=Notes a=b"], {"SiteTitle": "Notes a=b"}),  # "a" is no parameter: this is a title
        (["SiteTitle='My blog'"], {"SiteTitle": "My blog"}),  # quoted twice, as SAM's one-string form
        (["SiteTitle=C:\\Temp"], {"SiteTitle": "C:\\Temp"}),  # the shell's word, backslash kept
    ],
)
def test_sam_forms_are_read(words: list[str], expected: dict[str, str]) -> None:
    assert parse_parameter_overrides(words, KNOWN) == expected


@pytest.mark.parametrize("word", ["SiteTitle", "=x", "Site Title=x", "", "  ", "-x=1"])
def test_a_word_that_is_no_pair_is_named_in_the_error(word: str) -> None:
    with pytest.raises(ParameterError, match="is not Key=Value") as raised:
        parse_parameter_overrides([word], KNOWN)
    assert repr(word) in str(raised.value)


def test_two_parameters_in_one_word_with_spaces_is_an_error_not_a_guess() -> None:
    # SAM would keep SiteTitle=My and drop "blog"; here the author is told to quote the value.
    with pytest.raises(ParameterError, match="SiteTitle and SiteTimezone in one word"):
        parse_parameter_overrides(["SiteTitle=My blog SiteTimezone=UTC"], KNOWN)


@given(st.dictionaries(keys, values, min_size=1))
def test_quoted_pairs_in_one_word_read_back_exactly(chosen: dict[str, str]) -> None:
    word = " ".join(f"{key}={_double_quoted(value)}" for key, value in chosen.items())
    assert parse_parameter_overrides([word], KNOWN) == chosen
    long_form = " ".join(f"ParameterKey={key},ParameterValue={_double_quoted(value)}" for key, value in chosen.items())
    assert parse_parameter_overrides([long_form], KNOWN) == chosen


def _names_another(value: str) -> bool:
    return any(re.search(rf"\s(?:ParameterKey=)?{name}(?:=|,ParameterValue=)", value) for name in KNOWN)


@given(st.dictionaries(keys, values.filter(lambda value: value[:1] not in ("'", '"')), min_size=1))
def test_one_word_per_pair_reads_back_exactly(chosen: dict[str, str]) -> None:
    """What the shell passes for ``Key="any value"``: each word is one pair, its value exactly
    what follows the first '=' (spaces, backslashes, '=' and all), unless the value names
    another of the template's parameters (then an error, never a guess)."""
    words = [f"{key}={value}" for key, value in chosen.items()]
    if any(_names_another(value) for value in chosen.values()):
        with pytest.raises(ParameterError, match="in one word"):
            parse_parameter_overrides(words, KNOWN)
    else:
        assert parse_parameter_overrides(words, KNOWN) == chosen


@given(st.lists(st.text(max_size=30), max_size=4))
def test_any_words_give_values_or_a_parameter_error(words: list[str]) -> None:
    try:
        parsed = parse_parameter_overrides(words, KNOWN)
    except ParameterError as error:
        assert str(error).startswith("--parameter-overrides: ")
    else:
        assert all(isinstance(value, str) for value in parsed.values())


def test_unknown_parameter_names_the_ones_there_are() -> None:
    with pytest.raises(ParameterError, match=r"SiteTitel: not a parameter of the template \(it has AlarmEmail, "):
        check_parameters(DECLARED, {"SiteTitel": "x"})


@pytest.mark.parametrize(
    ("key", "value"),
    [("SiteUrl", "ftp://example.com"), ("SiteUrl", "https://exa mple.com"), ("SiteUrl", "https://x\nevil"),
     ("SenderEmail", "not-an-address"), ("SenderEmail", "a@b@c"), ("SenderEmail", "a@b\n")],
)  # fmt: skip
def test_allowed_pattern_is_honoured_on_the_whole_value(key: str, value: str) -> None:
    with pytest.raises(ParameterError, match=rf"{key}: .* does not match the pattern"):
        check_parameters(DECLARED, {key: value})


def test_allowed_values_lengths_and_numbers() -> None:
    declared = {
        "Mode": {"Type": "String", "AllowedValues": ["fast", "safe"]},
        "Name": {"Type": "String", "MinLength": 2, "MaxLength": 4, "ConstraintDescription": "2 to 4 letters"},
        "Count": {"Type": "Number", "MinValue": 1, "MaxValue": 10},
    }
    assert check_parameters(declared, {"Mode": "safe", "Name": "abc", "Count": "10"}) == {
        "Mode": "safe",
        "Name": "abc",
        "Count": "10",
    }
    with pytest.raises(ParameterError) as raised:
        check_parameters(declared, {"Mode": "slow", "Name": "abcde", "Count": "11"})
    message = str(raised.value)
    assert "Mode: 'slow' is not one of fast, safe" in message
    assert "Name: is longer than 4 characters" in message
    assert "Count: is more than 10" in message
    with pytest.raises(ParameterError, match="Count: 'many' is not a number"):
        check_parameters(declared, {"Count": "many"})


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ParameterError) as raised:
        parameter_overrides(TEMPLATE, ["SiteUrl=ftp://x", "Nope=1", "SenderEmail=bad"])
    assert all(name in str(raised.value) for name in ("SiteUrl:", "Nope:", "SenderEmail:"))


def test_extra_checks_run_on_the_values_given() -> None:
    def no_mars(value: str) -> str | None:
        return "is on Mars" if value.startswith("Mars/") else None

    checks = {"SiteTimezone": no_mars}
    assert parameter_overrides(TEMPLATE, ["SiteTimezone=Europe/Paris"], checks) == {"SiteTimezone": "Europe/Paris"}
    with pytest.raises(ParameterError, match="SiteTimezone: is on Mars"):
        parameter_overrides(TEMPLATE, ["SiteTimezone=Mars/Olympus"], checks)


def test_the_defaults_of_the_template_pass_its_own_checks() -> None:
    defaults = {key: str(spec["Default"]) for key, spec in DECLARED.items() if "Default" in spec}
    assert check_parameters(DECLARED, defaults) == defaults


# --------------------------------------------------------------------------- samconfig.toml
SAMCONFIG = ROOT / "samconfig.toml"


def _deploy_settings() -> dict[str, dict[str, Any]]:
    """Each environment of samconfig.toml -> its deploy settings, global ones included."""
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    return {
        name: {**section.get("global", {}).get("parameters", {}), **section["deploy"]["parameters"]}
        for name, section in config.items()
        if isinstance(section, dict) and "deploy" in section
    }


def test_samconfig_has_a_default_and_a_prod_environment_with_their_own_stacks() -> None:
    settings = _deploy_settings()
    assert {"default", "prod"} <= set(settings)
    assert len({environment["stack_name"] for environment in settings.values()}) == len(settings)
    for environment in settings.values():
        assert environment["resolve_s3"] is True
        # The stack's roles are unnamed (SAM names them): CAPABILITY_IAM is the one needed.
        assert environment["capabilities"] == "CAPABILITY_IAM"
    assert not re.search(r"^\s+(RoleName|ManagedPolicyName):", TEMPLATE.read_text(encoding="utf-8"), re.MULTILINE)


@pytest.mark.parametrize("environment", ["default", "prod"])
def test_samconfig_parameter_overrides_pass_the_templates_checks(environment: str) -> None:
    words = [_deploy_settings()[environment]["parameter_overrides"]]
    values = parameter_overrides(TEMPLATE, words)
    assert values["SenderEmail"] and values["SiteTitle"]
    if environment == "prod":
        # A custom domain with a way to its certificate (the template's Rules), in the one region
        # where the stack may create that certificate.
        assert values["DomainName"] and (values.get("HostedZoneId") or values.get("CertificateArn"))
        assert _deploy_settings()[environment]["region"] == "us-east-1" or values.get("CertificateArn")
