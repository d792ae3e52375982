"""The integration's repair issues: raised, cleared, and fixed from Home Assistant.

- ``missing_scopes``: the event stream lacks a scope (fixable: grant it, then reload);
- ``missing_lookup_scope``: caller names lack theirs (fixable the same way; the event
  stream clears its own issue when it connects, which says nothing about the lookup stream);
- ``consent_revoked``: a subscriber revoked consent and its device was removed;
- ``sms_budget_reached``: a subscriber's texts of the last hour reached the budget, so
  sends are refused; names who tried to send past it, and clears when the hour has passed.

Issue ids carry the entry id, and the subscriber's key instead of a number (see
:mod:`.ids`): ids end up in storage and logs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Final

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.components.repairs.models import RepairsFlowResult
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_NAME
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, ISSUE_MISSING_SCOPES

SCOPE_ISSUE_KEY: Final = "missing_scopes"  # translation key in "issues"
CONSENT_REVOKED_ISSUE_KEY: Final = "consent_revoked"
CONSENT_REVOKED_ISSUE_ID: Final = "consent_revoked_{entry_id}_{digest}"
LOOKUP_SCOPE_ISSUE_KEY: Final = "missing_lookup_scope"  # translation key in "issues"
BUDGET_ISSUE_KEY: Final = "sms_budget_reached"
BUDGET_ISSUE_ID: Final = "sms_budget_{entry_id}_{digest}"
LOOKUP_SCOPE_ISSUE_ID: Final = "missing_lookup_scope_{entry_id}"
STREAM_SCOPE_ISSUE_KEY: Final = "missing_stream_scope"
STREAM_SCOPE_ISSUE_ID: Final = "missing_stream_scope_{entry_id}_{stream}"
ID_SCOPE_ISSUE_KEY: Final = "missing_subscription_id_scope"
ID_SCOPE_ISSUE_ID: Final = "missing_subscription_id_scope_{entry_id}"


def scope_issue_id(entry_id: str) -> str:
    """Return the id of an entry's missing-scope repair issue."""
    return ISSUE_MISSING_SCOPES.format(entry_id=entry_id)


@callback
def async_create_scope_issue(
    hass: HomeAssistant, entry: ConfigEntry[Any], scopes: Iterable[str]
) -> None:
    """Raise the fixable issue that names the scopes the event stream lacks."""
    _create_fixable_scope_issue(
        hass, entry, scope_issue_id(entry.entry_id), SCOPE_ISSUE_KEY, ir.IssueSeverity.ERROR, scopes
    )


def _create_fixable_scope_issue(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    issue_id: str,
    translation_key: str,
    severity: ir.IssueSeverity,
    scopes: Iterable[str],
) -> None:
    """Raise an issue naming missing scopes, fixed by reloading once they are granted."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=True,
        is_persistent=False,
        severity=severity,
        translation_key=translation_key,
        translation_placeholders={"scopes": ", ".join(sorted(scopes)), "title": entry.title},
        data={"entry_id": entry.entry_id},
    )


@callback
def async_delete_scope_issue(hass: HomeAssistant, entry_id: str) -> None:
    """Clear the scope issue (the event stream was accepted)."""
    ir.async_delete_issue(hass, DOMAIN, scope_issue_id(entry_id))


def consent_issue_id(entry_id: str, key: str) -> str:
    """Return the id of the issue of a subscriber who revoked consent, by its key."""
    return CONSENT_REVOKED_ISSUE_ID.format(entry_id=entry_id, digest=key)


def _legacy_consent_issue_id(entry_id: str, number: str) -> str:
    """Return the id older versions gave the issue (a plain digest of the number)."""
    digest = hashlib.sha256(number.encode()).hexdigest()[:16]
    return CONSENT_REVOKED_ISSUE_ID.format(entry_id=entry_id, digest=digest)


@callback
def async_create_consent_issue(
    hass: HomeAssistant, entry: ConfigEntry[Any], key: str, name: str
) -> None:
    """Say that a subscriber (by its key) revoked consent and its device was removed."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        consent_issue_id(entry.entry_id, key),
        is_fixable=False,
        is_persistent=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key=CONSENT_REVOKED_ISSUE_KEY,
        translation_placeholders={CONF_NAME: name, "entry_title": entry.title},
    )


@callback
def async_delete_consent_issue(hass: HomeAssistant, entry_id: str, key: str, number: str) -> None:
    """Clear a subscriber's consent issue (it is back), and one an older version raised."""
    ir.async_delete_issue(hass, DOMAIN, consent_issue_id(entry_id, key))
    ir.async_delete_issue(hass, DOMAIN, _legacy_consent_issue_id(entry_id, number))


def budget_issue_id(entry_id: str, key: str) -> str:
    """Return the id of a subscriber's text budget issue, by its key (no number in it)."""
    return BUDGET_ISSUE_ID.format(entry_id=entry_id, digest=key)


@callback
def async_create_budget_issue(
    hass: HomeAssistant,
    entry: ConfigEntry[Any],
    key: str,
    placeholders: dict[str, str],
) -> None:
    """Say that a subscriber's text budget is spent: ``name``, ``limit``, ``until``, ``origin``."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        budget_issue_id(entry.entry_id, key),
        is_fixable=False,
        is_persistent=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=BUDGET_ISSUE_KEY,
        translation_placeholders={**placeholders, "entry_title": entry.title},
    )


def budget_issue_open(hass: HomeAssistant, entry_id: str, key: str) -> bool:
    """Whether a subscriber's text budget issue is raised."""
    issue_id = budget_issue_id(entry_id, key)
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None


@callback
def async_delete_budget_issue(hass: HomeAssistant, entry_id: str, key: str) -> None:
    """Clear a subscriber's text budget issue (the hour has passed)."""
    ir.async_delete_issue(hass, DOMAIN, budget_issue_id(entry_id, key))


def stream_scope_issue_id(entry_id: str, stream: str) -> str:
    """Return the id of the missing-scope issue of one of an entry's v1 streams."""
    return STREAM_SCOPE_ISSUE_ID.format(entry_id=entry_id, stream=stream)


@callback
def async_create_stream_scope_issue(
    hass: HomeAssistant, entry: ConfigEntry[Any], stream: str, scopes: Iterable[str]
) -> None:
    """Raise the fixable issue naming the scope a v1 stream lacks (the others go on)."""
    _create_fixable_scope_issue(
        hass,
        entry,
        stream_scope_issue_id(entry.entry_id, stream),
        STREAM_SCOPE_ISSUE_KEY,
        ir.IssueSeverity.WARNING,
        scopes,
    )


@callback
def async_delete_stream_scope_issue(hass: HomeAssistant, entry_id: str, stream: str) -> None:
    """Clear a v1 stream's scope issue (the stream was accepted)."""
    ir.async_delete_issue(hass, DOMAIN, stream_scope_issue_id(entry_id, stream))


def id_scope_issue_id(entry_id: str) -> str:
    """Return the id of the issue saying consents cannot be turned into numbers."""
    return ID_SCOPE_ISSUE_ID.format(entry_id=entry_id)


@callback
def async_create_id_scope_issue(
    hass: HomeAssistant, entry: ConfigEntry[Any], scopes: Iterable[str]
) -> None:
    """Raise the fixable issue: without the scope, subscribers appear with their events."""
    _create_fixable_scope_issue(
        hass,
        entry,
        id_scope_issue_id(entry.entry_id),
        ID_SCOPE_ISSUE_KEY,
        ir.IssueSeverity.WARNING,
        scopes,
    )


@callback
def async_delete_id_scope_issue(hass: HomeAssistant, entry_id: str) -> None:
    """Clear the subscription id scope issue (consents were turned into numbers)."""
    ir.async_delete_issue(hass, DOMAIN, id_scope_issue_id(entry_id))


def lookup_scope_issue_id(entry_id: str) -> str:
    """Return the id of an entry's missing lookup-scope repair issue."""
    return LOOKUP_SCOPE_ISSUE_ID.format(entry_id=entry_id)


@callback
def async_create_lookup_scope_issue(
    hass: HomeAssistant, entry: ConfigEntry[Any], scopes: Iterable[str]
) -> None:
    """Raise the fixable issue that names the lookup scopes the OAuth client lacks."""
    _create_fixable_scope_issue(
        hass,
        entry,
        lookup_scope_issue_id(entry.entry_id),
        LOOKUP_SCOPE_ISSUE_KEY,
        ir.IssueSeverity.WARNING,
        scopes,
    )


@callback
def async_delete_lookup_scope_issue(hass: HomeAssistant, entry_id: str) -> None:
    """Clear the lookup-scope issue (the lookup stream was accepted)."""
    ir.async_delete_issue(hass, DOMAIN, lookup_scope_issue_id(entry_id))


class ReconnectRepairFlow(ConfirmRepairFlow):
    """After the user granted the missing scopes: reload the entry so the streams restart."""

    def __init__(self, entry_id: str | None) -> None:
        """Remember which entry to reload."""
        super().__init__()
        self._entry_id = entry_id

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Reload the entry on confirmation."""
        if user_input is not None and self._entry_id is not None:
            entry = self.hass.config_entries.async_get_entry(self._entry_id)
            if entry is not None:
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return await super().async_step_confirm(user_input)


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    """Create the fix flow of a fixable issue (a missing scope of either stream)."""
    entry_id = data.get("entry_id") if data else None
    return ReconnectRepairFlow(str(entry_id) if entry_id else None)
