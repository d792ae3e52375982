"""Repository files HACS and GitHub rely on: license, CI workflows, hacs.json and manifest."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"

# Keys HACS reads from hacs.json (https://hacs.xyz/docs/publish/start).
HACS_KEYS = {
    "name",
    "content_in_root",
    "zip_release",
    "filename",
    "hide_default_branch",
    "country",
    "homeassistant",
    "hacs",
    "persistent_directory",
}


# Keys are Any: PyYAML reads the bare key ``on`` as ``True``.
type Workflow = dict[Any, Any]


def load_workflow(name: str) -> Workflow:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), name
    return data


def triggers(workflow: Workflow) -> dict[str, Any]:
    """The ``on:`` mapping (YAML 1.1 turns the key into a boolean)."""
    value = workflow.get("on", workflow.get(True))
    assert isinstance(value, dict)
    return value


def steps(workflow: Workflow) -> list[dict[str, Any]]:
    jobs = workflow["jobs"]
    assert isinstance(jobs, dict)
    assert jobs
    found: list[dict[str, Any]] = []
    for job in jobs.values():
        assert job["runs-on"]
        found.extend(job["steps"])
    return found


def uses(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).split("@")[0]


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_license_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert re.search(r"^Copyright \(c\) \d{4} \S", text, re.MULTILINE)
    assert "Permission is hereby granted, free of charge" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS"' in text


def test_every_workflow_parses() -> None:
    names = sorted(path.name for path in WORKFLOWS.iterdir())
    assert names == ["hassfest.yaml", "tests.yaml", "validate.yaml"]
    for name in names:
        workflow = load_workflow(name)
        assert workflow["name"], name
        on = triggers(workflow)
        assert {"push", "pull_request"} <= set(on), name
        for step in steps(workflow):
            assert step.get("uses") or step.get("run"), (name, step)
            if "uses" in step:
                assert "@" in step["uses"], (name, step)  # pinned to a ref


@pytest.mark.parametrize("name", ["hassfest.yaml", "validate.yaml"])
def test_validation_runs_weekly(name: str) -> None:
    schedule = triggers(load_workflow(name))["schedule"]
    assert len(schedule) == 1
    minute, hour, day, month, weekday = schedule[0]["cron"].split()
    assert (day, month) == ("*", "*")
    assert weekday != "*"
    assert minute.isdigit()
    assert hour.isdigit()


def test_hassfest_workflow() -> None:
    found = steps(load_workflow("hassfest.yaml"))
    assert [uses(step) for step in found] == [
        "actions/checkout",
        "home-assistant/actions/hassfest",
    ]


def test_hacs_workflow_validates_an_integration() -> None:
    found = steps(load_workflow("validate.yaml"))
    assert [uses(step) for step in found] == ["actions/checkout", "hacs/action"]
    hacs = found[1]
    assert hacs["with"]["category"] == "integration"
    assert "ignore" not in hacs["with"]  # no HACS check is switched off


def test_tests_workflow_runs_the_test_command_on_python_3_14() -> None:
    found = steps(load_workflow("tests.yaml"))
    assert uses(found[0]) == "actions/checkout"
    python = [step for step in found if uses(step) == "actions/setup-python"]
    assert len(python) == 1
    assert str(python[0]["with"]["python-version"]) == "3.14"
    runs = [index for index, step in enumerate(found) if "scripts/test" in step.get("run", "")]
    assert len(runs) == 1
    assert runs[0] > found.index(python[0])  # scripts/setup needs python3.14 on the PATH
    run = found[runs[0]]["run"]
    assert re.search(r"^\s*scripts/test$", run, re.MULTILINE)
    # The same job on each release of the matrix: the pinned one, and the oldest admitted.
    assert re.search(
        r'^\s*scripts/test --ha "\$\{\{ matrix.homeassistant \}\}"$', run, re.MULTILINE
    )
    assert (ROOT / "scripts" / "test").stat().st_mode & 0o111


def test_hacs_json_and_manifest_agree_with_hacs() -> None:
    hacs = load_json(ROOT / "hacs.json")
    assert set(hacs) <= HACS_KEYS
    assert hacs["name"]
    assert re.fullmatch(r"\d{4}\.\d{1,2}\.\d+", hacs["homeassistant"])
    # content_in_root false: exactly one integration under custom_components/.
    assert hacs.get("content_in_root", False) is False
    integrations = [
        path
        for path in (ROOT / "custom_components").iterdir()
        if path.is_dir() and path.name != "__pycache__"
    ]
    assert [path.name for path in integrations] == ["wgtwo"]
    manifest = load_json(integrations[0] / "manifest.json")
    assert manifest["domain"] == integrations[0].name
    assert manifest["name"] == hacs["name"]
    # HACS requires these keys for a custom integration (version: to install it at all).
    for key in ("domain", "name", "documentation", "issue_tracker", "codeowners", "version"):
        assert manifest[key], key
    repository = "https://github.com/wgtwo-ha/wgtwo"
    assert manifest["documentation"] == repository
    assert manifest["issue_tracker"] == f"{repository}/issues"
    assert manifest["codeowners"] == ["@wgtwo-ha"]
    assert (ROOT / "README.md").is_file()
    assert (integrations[0] / "brand" / "icon.png").is_file()
