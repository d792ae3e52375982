"""Fix flows for the repair issues the user can resolve from Home Assistant."""

from __future__ import annotations

from typing import Any

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.components.repairs.models import RepairsFlowResult
from homeassistant.core import HomeAssistant


class ReconnectRepairFlow(ConfirmRepairFlow):
    """After the user granted the missing scopes: reload the entry so the stream restarts."""

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
    """Create the fix flow of a fixable issue (only the missing-scopes issue is fixable)."""
    entry_id = data.get("entry_id") if data else None
    return ReconnectRepairFlow(str(entry_id) if entry_id else None)
