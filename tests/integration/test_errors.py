"""The one translator: every operator error of every feature reads the same way."""

from __future__ import annotations

import pytest
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import Unresolvable
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers.translation import async_get_translations
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wgtwo.client import (
    ActionError,
    AuthenticationError,
    CannotConnectError,
    ForwardingRejectedError,
    InvalidEndpointError,
    MissingScopeError,
    WgtwoError,
)
from custom_components.wgtwo.client.errors import TokenRequestError
from custom_components.wgtwo.const import DOMAIN
from custom_components.wgtwo.errors import (
    Feature,
    feature_name,
    not_found_error,
    operator_error,
    operator_refused,
    setup_error,
)


@pytest.mark.parametrize(
    ("error", "key", "scope", "detail"),
    [
        (
            MissingScopeError({"sms.text:send"}),
            "missing_scope",
            "sms.text:send",
            "MissingScopeError",
        ),
        (MissingScopeError(()), "missing_scope", "asked.scope", "MissingScopeError"),
        (AuthenticationError("no"), "invalid_auth", "asked.scope", "AuthenticationError"),
        (CannotConnectError("down"), "cannot_connect", "asked.scope", "CannotConnectError"),
        (TokenRequestError(400, "invalid_request"), "token_rejected", "asked.scope", "HTTP 400"),
        (ForwardingRejectedError("busy line"), "operator_rejected", "asked.scope", "busy line"),
        (ActionError("failed", "INTERNAL"), "operator_failed", "asked.scope", "INTERNAL"),
        (WgtwoError("odd"), "operator_failed", "asked.scope", "WgtwoError"),
    ],
)
@pytest.mark.parametrize("feature", list(Feature))
async def test_each_kind_has_one_key_for_every_feature(
    hass: HomeAssistant,
    setup_integration: MockConfigEntry,
    feature: Feature,
    error: WgtwoError,
    key: str,
    scope: str,
    detail: str,
) -> None:
    translated = operator_error(hass, error, feature, scopes={"asked.scope"})
    assert type(translated) is HomeAssistantError
    assert translated.translation_domain == DOMAIN
    assert translated.translation_key == key
    assert translated.translation_placeholders == {
        "feature": feature_name(hass, feature),
        "scope": scope,
        "detail": detail,
    }
    # The message a user reads names the feature and says what to do.
    message = str(translated)
    assert feature_name(hass, feature) in message
    if key == "missing_scope":
        assert scope in message


async def test_feature_names_follow_the_language(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    assert feature_name(hass, Feature.CALL_FORWARDING) == "Call forwarding"
    await async_get_translations(hass, "de", "common", [DOMAIN])
    hass.config.language = "de"
    assert feature_name(hass, Feature.CALL_FORWARDING) == "Rufumleitung"


def test_feature_names_without_translations(hass: HomeAssistant) -> None:
    # Before the integration's strings are loaded: English.
    assert feature_name(hass, Feature.VOICEMAIL) == "Voicemail"


async def test_an_unanswered_send_may_have_gone_out(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    translated = operator_error(hass, CannotConnectError("timeout"), Feature.SMS, unsure=True)
    assert translated.translation_key == "no_answer"
    assert "may or may not" in str(translated)
    # Only a lost connection is unsure: a refusal is a refusal.
    refused = operator_error(hass, AuthenticationError("no"), Feature.SMS, unsure=True)
    assert refused.translation_key == "invalid_auth"


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (HomeAssistantError, ServiceValidationError),  # an action named what is not there
        (BrowseError, BrowseError),
        (Unresolvable, Unresolvable),
    ],
)
async def test_not_found_names_the_object(
    hass: HomeAssistant,
    setup_integration: MockConfigEntry,
    asked: type[HomeAssistantError],
    expected: type[HomeAssistantError],
) -> None:
    translated = operator_error(
        hass,
        ActionError("gone", "NOT_FOUND"),
        Feature.VOICEMAIL,
        subject="vm-9",
        error_class=asked,
    )
    assert type(translated) is expected
    assert translated.translation_key == "not_found"
    assert "vm-9" in str(translated)
    checked = not_found_error(hass, Feature.VOICEMAIL, "vm-9", Unresolvable)
    assert checked.translation_key == "not_found"
    assert checked.translation_placeholders == translated.translation_placeholders


async def test_a_malformed_request_is_the_callers_to_fix(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    translated = operator_error(hass, ActionError("bad", "INVALID_ARGUMENT"), Feature.SMS)
    assert type(translated) is ServiceValidationError
    assert translated.translation_key == "invalid_argument"


@pytest.mark.parametrize("rejected", [True, False])
async def test_a_refusal_shows_what_the_operator_said(
    hass: HomeAssistant, setup_integration: MockConfigEntry, rejected: bool
) -> None:
    translated = operator_refused(hass, Feature.SMS, "no credit", rejected=rejected)
    assert translated.translation_key == ("operator_rejected" if rejected else "operator_could_not")
    assert "no credit" in str(translated)
    unexplained = operator_refused(hass, Feature.SMS, None, rejected=rejected)
    assert (unexplained.translation_placeholders or {})["detail"] == "-"


LONG = "The operator says: " + "blah " * 400  # what a misbehaving server might send


@pytest.mark.parametrize(
    "error",
    [
        ForwardingRejectedError(LONG),
        ActionError("failed", LONG),
        MissingScopeError((LONG,)),
        TokenRequestError(400, LONG),
    ],
)
async def test_what_the_operator_says_is_cut_to_200_characters(
    hass: HomeAssistant, setup_integration: MockConfigEntry, error: WgtwoError
) -> None:
    """Messages end up in logs and notifications: a server's text is kept short there."""
    translated = operator_error(hass, error, Feature.CALL_FORWARDING)
    for name, value in (translated.translation_placeholders or {}).items():
        assert len(value) <= 200, name
    assert len(str(translated)) < 200 + 200  # the sentence around it is short
    refused = operator_refused(hass, Feature.SMS, LONG, rejected=True)
    detail = (refused.translation_placeholders or {})["detail"]
    assert len(detail) == 200
    assert detail.startswith("The operator says: blah")
    assert len(str(refused)) < 400


def test_the_clients_rejection_keeps_the_operators_text_short() -> None:
    rejected = ForwardingRejectedError(LONG)
    assert len(rejected.server_message) == 200
    assert len(str(rejected)) < 300


@pytest.mark.parametrize(
    ("error", "expected", "key"),
    [
        (InvalidEndpointError("plaintext"), ConfigEntryError, "invalid_endpoint"),
        (AuthenticationError("no"), ConfigEntryAuthFailed, "invalid_auth"),
        (MissingScopeError({"events.voice.subscribe"}), ConfigEntryNotReady, "missing_scope"),
        (CannotConnectError("down"), ConfigEntryNotReady, "cannot_connect"),
        (TokenRequestError(418), ConfigEntryNotReady, "token_rejected"),
        (WgtwoError("odd"), ConfigEntryNotReady, "operator_failed"),
    ],
)
async def test_setup_errors_are_the_same_family(
    hass: HomeAssistant,
    setup_integration: MockConfigEntry,
    error: WgtwoError,
    expected: type[Exception],
    key: str,
) -> None:
    translated = setup_error(hass, error)
    assert type(translated) is expected
    assert isinstance(translated, HomeAssistantError)
    assert translated.translation_key == key
