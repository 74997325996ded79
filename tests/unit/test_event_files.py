"""events/: every function of template.yaml has an event file (``make invoke FN=<Name>
EVENT=events/<name>[-case].json``, ``sam local invoke``), each in the shape its trigger delivers,
and no file names a function the template does not have."""

from __future__ import annotations

import json
from pathlib import Path

from pressline.local.template import load_sam

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def triggers() -> dict[str, set[str]]:
    """Function directory name (``functions/<name>/``) -> the types of its events (SQS, SNS, ...)."""
    found: dict[str, set[str]] = {}
    for resource in load_sam(ROOT / "template.yaml")["Resources"].values():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        found[Path(properties["CodeUri"]).name] = {event["Type"] for event in (properties.get("Events") or {}).values()}
    return found


def owner(file: Path, names: set[str]) -> str | None:
    return next((name for name in names if file.stem == name or file.stem.startswith(f"{name}-")), None)


def test_every_function_has_an_event_file_and_every_file_a_function() -> None:
    functions = triggers()
    files = sorted(EVENTS.glob("*.json"))
    owners = {file.name: owner(file, set(functions)) for file in files}
    assert not [name for name, found in owners.items() if found is None], "event files of no function"
    assert set(functions) == set(owners.values()), f"no event file: {sorted(set(functions) - set(owners.values()))}"


def test_each_event_file_has_the_shape_its_trigger_delivers() -> None:
    functions = triggers()
    for file in sorted(EVENTS.glob("*.json")):
        name = owner(file, set(functions))
        assert name is not None
        event = json.loads(file.read_text(encoding="utf-8"))
        kinds = functions[name]
        if "SQS" in kinds:
            assert event["Records"] and {r["eventSource"] for r in event["Records"]} == {"aws:sqs"}, file.name
            assert all(isinstance(r["body"], str) and r["messageId"] for r in event["Records"]), file.name
        elif "SNS" in kinds:
            assert {r["EventSource"] for r in event["Records"]} == {"aws:sns"}, file.name
        elif "HttpApi" in kinds:
            assert event["version"] == "2.0" and event["routeKey"], file.name
