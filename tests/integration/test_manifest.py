"""manifest.json and translations: what hassfest and HACS check, and what users read."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import homeassistant
from homeassistant.util.yaml import load_yaml_dict
from packaging.requirements import Requirement

from custom_components.wgtwo import config_flow, forms, options_flow
from custom_components.wgtwo.client import (
    ActionError,
    AuthenticationError,
    CannotConnectError,
    InvalidEndpointError,
    MissingScopeError,
)
from custom_components.wgtwo.client.errors import TokenRequestError
from custom_components.wgtwo.compat import vol
from custom_components.wgtwo.const import (
    DOMAIN,
    ENVIRONMENT_OPTIONS,
    EVENT_TYPE_CHOICES,
    STREAM_CHOICES,
)
from custom_components.wgtwo.errors import form_error

COMPONENT = Path(__file__).resolve().parents[2] / "custom_components" / DOMAIN
MY_KEYS = ("config", "options", "selector", "issues", "exceptions", "system_health")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((COMPONENT / name).read_text(encoding="utf-8"))
    return data


def ha_pins() -> dict[str, str]:
    constraints = Path(homeassistant.__file__).parent / "package_constraints.txt"
    pins = {}
    for line in constraints.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            pins[name.strip().lower()] = pinned.strip()
    return pins


def test_manifest_is_valid_for_hassfest_and_hacs() -> None:
    manifest = load("manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == DOMAIN
    assert manifest["config_flow"] is True
    assert manifest["iot_class"] == "cloud_push"
    assert manifest["integration_type"] in ("hub", "service")
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    for key in ("documentation", "issue_tracker"):
        assert manifest[key].startswith("https://")
    # integration-owner: the GitHub organisation that hosts the repository owns it.
    owner = manifest["documentation"].removeprefix("https://github.com/").split("/")[0]
    assert owner == "wgtwo-ha"
    assert manifest["issue_tracker"].startswith(f"https://github.com/{owner}/")
    assert manifest["codeowners"] == [f"@{owner}"]


def test_requirements_accept_home_assistants_pins() -> None:
    pins = ha_pins()
    for line in load("manifest.json")["requirements"]:
        requirement = Requirement(line)
        assert "==" not in str(requirement.specifier), "exact pins fight Home Assistant's"
        pinned = pins[requirement.name.lower()]
        assert requirement.specifier.contains(pinned), (line, pinned)
        assert requirement.specifier.contains(version(requirement.name))


def test_english_translation_matches_strings() -> None:
    strings = load("strings.json")
    english = load("translations/en.json")
    for key in MY_KEYS:
        assert english[key] == strings[key], key


def test_every_flow_field_has_a_label_and_description() -> None:
    strings = load("strings.json")
    steps = {
        ("config", "user"): config_flow.USER_SCHEMA,
        ("config", "credentials"): config_flow.CREDENTIALS_SCHEMA,
        ("config", "reauth_confirm"): config_flow.CREDENTIALS_SCHEMA,
        ("config", "custom"): config_flow.CUSTOM_SCHEMA,
        ("config", "reconfigure"): config_flow.RECONFIGURE_SCHEMA,
        ("options", "general"): options_flow.OPTIONS_SCHEMA,
        ("options", "subscriber"): vol.Schema({vol.Required(options_flow.CONF_SUBSCRIBER): str}),
        ("options", "subscriber_settings"): options_flow.SUBSCRIBER_SCHEMA,
        ("options", "caller_names"): options_flow.CALLER_NAMES_SCHEMA,
    }
    menu = strings["options"]["step"]["init"]["menu_options"]
    assert list(menu) == options_flow.OPTIONS_MENU
    assert all(menu.values())
    for (flow, step), schema in steps.items():
        texts = strings[flow]["step"][step]
        assert texts["title"]
        assert texts["description"]
        for marker in schema.schema:
            assert texts["data"][str(marker)], (step, marker)
            assert texts["data_description"][str(marker)], (step, marker)


def errors_in(source: str) -> set[str]:
    """Return the error keys a flow module sets, as ``{"base": ...}`` or per field."""
    pattern = r'(?:"base"|CONF_\w+|key)\s*:\s*"(\w+)"|errors\[\w+\]\s*=\s*"(\w+)"'
    return {error for found in re.findall(pattern, source) for error in found if error}


# One error of each kind the API check can raise (what the forms show of each).
FORM_ERROR_SAMPLES = (
    InvalidEndpointError("plaintext"),
    AuthenticationError("rejected"),
    MissingScopeError({"events.voice.subscribe"}),
    TokenRequestError(400),
    CannotConnectError("down"),
    ActionError("odd", "INTERNAL"),
)


def test_every_error_and_abort_is_translated() -> None:
    strings = load("strings.json")
    config_source = Path(config_flow.__file__).read_text()
    options_source = Path(options_flow.__file__).read_text()
    config_errors = set(strings["config"]["error"])
    option_errors = set(strings["options"]["error"])
    found = errors_in(config_source)
    assert {"too_long", "invalid_host", "plaintext_not_loopback", "invalid_token_url"} <= found
    assert found <= config_errors, found - config_errors
    found = errors_in(options_source)
    assert {"invalid_country", "invalid_number", "missing_lookup_scope"} <= found
    assert found <= option_errors, found - option_errors
    # Both flows show what the shared check against the API finds.
    found = errors_in(Path(forms.__file__).read_text())
    found |= {form_error(error)[0] for error in FORM_ERROR_SAMPLES}
    assert {"invalid_host", "server_refused", "unknown"} <= found
    assert found <= config_errors & option_errors, found - (config_errors & option_errors)
    for reason in re.findall(r'async_abort\(reason="(\w+)"\)', options_source):
        assert reason in strings["options"]["abort"], reason
    for error in ("invalid_country", "invalid_phonebook_line", "missing_scopes", "invalid_auth"):
        assert error in option_errors
    for error in ("invalid_host", "invalid_auth", "missing_scopes", "cannot_connect", "unknown"):
        assert error in config_errors
        assert error in option_errors
    assert "{scopes}" in strings["config"]["error"]["missing_scopes"]
    assert "{line}" in strings["options"]["error"]["invalid_phonebook_line"]
    for reason in re.findall(r'AbortFlow\("(\w+)"\)', config_source):
        assert reason in strings["config"]["abort"]
    assert {"already_configured", "reauth_successful", "reconfigure_successful"} <= set(
        strings["config"]["abort"]
    )


def test_selector_options_are_translated() -> None:
    selector = load("strings.json")["selector"]
    assert set(selector["environment"]["options"]) == set(ENVIRONMENT_OPTIONS)
    assert set(selector["event_types"]["options"]) == {*EVENT_TYPE_CHOICES, *STREAM_CHOICES}


def test_exceptions_and_issues_are_translated() -> None:
    strings = load("strings.json")
    init_source = (COMPONENT / "__init__.py").read_text()
    for key in re.findall(r'translation_key="(\w+)"', init_source):
        assert strings["exceptions"][key]["message"]
    issue = strings["issues"]["missing_scopes"]
    assert "{scopes}" in issue["fix_flow"]["step"]["confirm"]["description"]
    assert strings["issues"]["consent_revoked"]["title"]
    assert set(strings["system_health"]["info"]) == {
        "can_reach_server",
        "connected",
        "last_event",
        "events_received",
    }


RULES = [
    "action-setup",
    "appropriate-polling",
    "brands",
    "common-modules",
    "config-flow-test-coverage",
    "config-flow",
    "dependency-transparency",
    "docs-actions",
    "docs-high-level-description",
    "docs-installation-instructions",
    "docs-removal-instructions",
    "entity-event-setup",
    "entity-unique-id",
    "has-entity-name",
    "runtime-data",
    "test-before-configure",
    "test-before-setup",
    "unique-config-entry",
    "action-exceptions",
    "config-entry-unloading",
    "docs-configuration-parameters",
    "docs-installation-parameters",
    "entity-unavailable",
    "integration-owner",
    "log-when-unavailable",
    "parallel-updates",
    "reauthentication-flow",
    "test-coverage",
    "devices",
    "diagnostics",
    "discovery-update-info",
    "discovery",
    "docs-data-update",
    "docs-examples",
    "docs-known-limitations",
    "docs-supported-devices",
    "docs-supported-functions",
    "docs-troubleshooting",
    "docs-use-cases",
    "dynamic-devices",
    "entity-category",
    "entity-device-class",
    "entity-disabled-by-default",
    "entity-translations",
    "exception-translations",
    "icon-translations",
    "reconfiguration-flow",
    "repair-issues",
    "stale-devices",
    "async-dependency",
    "inject-websession",
    "strict-typing",
]


def test_quality_scale_covers_every_rule() -> None:
    rules = load_yaml_dict(COMPONENT / "quality_scale.yaml")["rules"]
    assert set(rules) == set(RULES)
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in ("done", "todo", "exempt"), name
        if status == "exempt":
            assert rule["comment"].strip(), name
