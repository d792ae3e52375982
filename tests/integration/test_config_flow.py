"""Config, reauth, reconfigure and options flows against a local sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.wgtwo import forms
from custom_components.wgtwo.client import Endpoint, WgtwoError
from custom_components.wgtwo.client.auth import MAX_CREDENTIAL_LENGTH
from custom_components.wgtwo.config_flow import title_for
from custom_components.wgtwo.const import (
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_ENVIRONMENT,
    CONF_EVENT_TYPES,
    CONF_HOME_COUNTRY,
    CONF_HOST,
    CONF_PHONEBOOK,
    CONF_PLAINTEXT,
    CONF_SHARE_SMS_TEXT,
    CONF_SMS_BUDGET,
    CONF_TOKEN_URL,
    DEFAULT_EVENT_TYPES,
    DOMAIN,
    ENV_CUSTOM,
    ENV_EU,
    ENV_SANDBOX,
    ENV_US,
)
from custom_components.wgtwo.migrate import unique_id_for
from custom_components.wgtwo.settings import get_settings
from tests.sandbox_fixtures import MakeSandbox, free_port
from wgtwo_sandbox import SandboxServer
from wgtwo_sandbox.relay import DelayRelay

from .conftest import (
    ALL_EVENT_TYPES,
    CLIENT_ID,
    CLIENT_SECRET,
    async_unload_and_wait,
    change_settings,
    entry_data_for,
    entry_options,
    hub_of,
    make_entry,
    wait_for,
)

VOICE_SCOPE = "events.voice.subscribe"
LOCATION_SCOPE = "events.location.subscribe"
FIRST_ATTACHMENT_SCOPE = "subscription.first_attachment:read"
COUNTRY_CHANGE_SCOPE = "subscription.country_change:read"
TOO_LONG = "x" * 10_000


def custom_input(server: SandboxServer, **overrides: Any) -> dict[str, Any]:
    """What a user types in the custom server step for ``server``."""
    values: dict[str, Any] = {
        CONF_HOST: server.grpc_target,
        CONF_PLAINTEXT: True,
        CONF_TOKEN_URL: server.token_url,
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
    }
    values.update(overrides)
    return values


def suggested(result: ConfigFlowResult, key: str) -> Any:
    """The value a form shows prefilled for ``key``."""
    schema = result["data_schema"]
    assert schema is not None
    for marker in schema.schema:
        if marker == key:
            return (marker.description or {}).get("suggested_value")
    raise KeyError(key)


async def start_user_flow(hass: HomeAssistant, environment: str, **extra: Any) -> ConfigFlowResult:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] is None or result["errors"] == {}
    return await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_ENVIRONMENT: environment, CONF_EVENT_TYPES: extra.get("event_types", ["voice"])},
    )


async def open_options(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> ConfigFlowResult:
    """Open the options menu and choose ``step``."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "init"
    assert result["menu_options"] == ["general", "subscriber_filter", "subscriber", "caller_names"]
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


def point_preset_at(hass: HomeAssistant, name: str, server: SandboxServer) -> None:
    """Resolve a preset environment to the local sandbox (only the endpoint lookup)."""
    host, port = server.grpc_target.split(":")
    endpoints = {**get_settings(hass).endpoints, name: Endpoint(host, int(port), True)}
    change_settings(hass, endpoints=endpoints, token_url=server.token_url)


# -- user flow: custom server -----------------------------------------------------------


async def test_custom_server_creates_entry(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    result = await start_user_flow(hass, ENV_CUSTOM, event_types=["voice", "sms"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "custom"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        custom_input(auth_sandbox, **{CONF_HOST: f" {auth_sandbox.grpc_target} "}),
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"wgtwo {auth_sandbox.grpc_target} ({CLIENT_ID})"
    assert result["data"] == entry_data_for(auth_sandbox)
    assert result["options"] == {
        CONF_EVENT_TYPES: ["voice", "sms"],
        CONF_PHONEBOOK: {},
        CONF_SHARE_SMS_TEXT: False,
    }
    entry = result["result"]
    assert entry.unique_id == f"custom:{auth_sandbox.grpc_target}:{CLIENT_ID}"
    # Tokens ask for exactly the scopes of the chosen event types; the entry's setup asks
    # for the network information with a token of that scope alone.
    issued = list(auth_sandbox.authority.tokens.values())
    assert issued
    assert {token.scopes for token in issued} == {
        frozenset({"events.voice.subscribe", "events.sms.subscribe"}),
        frozenset({"subscription.network_information:read"}),
    }
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await async_unload_and_wait(hass, entry, auth_sandbox)


@pytest.mark.parametrize(
    ("overrides", "field", "error"),
    [
        ({CONF_HOST: "bad host"}, CONF_HOST, "invalid_host"),
        ({CONF_HOST: "example.com:notaport"}, CONF_HOST, "invalid_host"),
        # int() reads full-width digits as 50051: a second name for a known server.
        ({CONF_HOST: "127.0.0.1:\uff15\uff10\uff10\uff15\uff11"}, CONF_HOST, "invalid_host"),
        ({CONF_HOST: "127.0.0.01:50051"}, CONF_HOST, "invalid_host"),
        ({CONF_HOST: "example.com:0"}, CONF_HOST, "invalid_host"),
        ({CONF_HOST: "a" * 10_000}, CONF_HOST, "invalid_host"),
        ({CONF_HOST: "example.com:8443"}, CONF_PLAINTEXT, "plaintext_not_loopback"),
        (
            {CONF_TOKEN_URL: "http://id.example.com/oauth2/token"},
            CONF_TOKEN_URL,
            "invalid_token_url",
        ),
        ({CONF_TOKEN_URL: "http://[::1/oauth2/token"}, CONF_TOKEN_URL, "invalid_token_url"),
        ({CONF_TOKEN_URL: "http://127.0.0.1:99999/token"}, CONF_TOKEN_URL, "invalid_token_url"),
        (
            {CONF_TOKEN_URL: "https://id.example.com/" + "a" * 10_000},
            CONF_TOKEN_URL,
            "invalid_token_url",
        ),
        ({CONF_CLIENT_SECRET: "wrong-secret"}, "base", "invalid_auth"),
        ({CONF_CLIENT_ID: TOO_LONG}, CONF_CLIENT_ID, "too_long"),
        ({CONF_CLIENT_SECRET: TOO_LONG}, CONF_CLIENT_SECRET, "too_long"),
    ],
)
async def test_custom_server_errors_keep_input(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    overrides: dict[str, Any],
    field: str,
    error: str,
) -> None:
    result = await start_user_flow(hass, ENV_CUSTOM)
    entered = custom_input(auth_sandbox, **overrides)

    result = await hass.config_entries.flow.async_configure(result["flow_id"], entered)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "custom"
    assert result["errors"] == {field: error}
    for key in (CONF_HOST, CONF_TOKEN_URL, CONF_CLIENT_ID, CONF_PLAINTEXT):
        assert suggested(result, key) == entered[key]
    if error == "too_long":
        assert result["description_placeholders"] == {"max_length": str(MAX_CREDENTIAL_LENGTH)}

    # Fixing the input finishes the flow.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], custom_input(auth_sandbox)
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await async_unload_and_wait(hass, result["result"], auth_sandbox)


async def test_missing_scope_is_named(hass: HomeAssistant, make_sandbox: MakeSandbox) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes={VOICE_SCOPE}
    )
    result = await start_user_flow(hass, ENV_CUSTOM, event_types=["voice", "location"])

    result = await hass.config_entries.flow.async_configure(result["flow_id"], custom_input(server))

    assert result["errors"] == {"base": "missing_scopes"}
    assert result["description_placeholders"] == {"scopes": LOCATION_SCOPE}


async def test_a_v1_stream_is_chosen_with_its_scope(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        granted_scopes={VOICE_SCOPE, FIRST_ATTACHMENT_SCOPE},
    )
    chosen = ["voice", "first_attachment", "country_change"]
    result = await start_user_flow(hass, ENV_CUSTOM, event_types=chosen)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], custom_input(server))
    # The v1 stream's scope is named like an event type's.
    assert result["errors"] == {"base": "missing_scopes"}
    assert result["description_placeholders"] == {"scopes": COUNTRY_CHANGE_SCOPE}
    hass.config_entries.flow.async_abort(result["flow_id"])

    result = await start_user_flow(hass, ENV_CUSTOM, event_types=["voice", "first_attachment"])
    result = await hass.config_entries.flow.async_configure(result["flow_id"], custom_input(server))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["options"][CONF_EVENT_TYPES] == ["voice", "first_attachment"]
    entry = result["result"]
    await hass.async_block_till_done()
    # The chosen stream runs beside the consent stream, with a token of its own scope.
    hub = hub_of(entry)
    assert [str(s.kind) for s in hub.v1_streams] == ["consent_change", "first_attachment"]
    await wait_for(lambda: all(s.stream.status.state.value == "connected" for s in hub.v1_streams))
    assert frozenset({FIRST_ATTACHMENT_SCOPE}) in {
        token.scopes for token in server.authority.tokens.values()
    }
    await async_unload_and_wait(hass, entry, server)


async def test_unreachable_server_cannot_connect(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    result = await start_user_flow(hass, ENV_CUSTOM)

    # Token endpoint down.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        custom_input(auth_sandbox, **{CONF_TOKEN_URL: f"http://127.0.0.1:{free_port()}/token"}),
    )
    assert result["errors"] == {"base": "cannot_connect"}

    # Token endpoint up, gRPC port closed.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        custom_input(auth_sandbox, **{CONF_HOST: f"127.0.0.1:{free_port()}"}),
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_token_endpoint_refusal_is_named(
    hass: HomeAssistant, auth_sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    result = await start_user_flow(hass, ENV_CUSTOM)

    # Not a token endpoint: HTTP 404, which used to end in "unknown" and a traceback.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        custom_input(auth_sandbox, **{CONF_TOKEN_URL: f"{auth_sandbox.http_url}/no-such-path"}),
    )

    assert result["errors"] == {"base": "token_rejected"}
    assert result["description_placeholders"] == {"status": "404"}
    assert suggested(result, CONF_TOKEN_URL) == f"{auth_sandbox.http_url}/no-such-path"
    assert "Unexpected error" not in caplog.text
    assert CLIENT_SECRET not in caplog.text


async def test_absurdly_long_credentials_are_refused_before_any_request(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    point_preset_at(hass, ENV_EU, auth_sandbox)
    result = await start_user_flow(hass, ENV_EU)
    entered = {CONF_CLIENT_ID: TOO_LONG, CONF_CLIENT_SECRET: TOO_LONG}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], entered)

    assert result["step_id"] == "credentials"
    assert result["errors"] == {CONF_CLIENT_ID: "too_long", CONF_CLIENT_SECRET: "too_long"}
    assert result["description_placeholders"] == {"max_length": str(MAX_CREDENTIAL_LENGTH)}
    assert suggested(result, CONF_CLIENT_ID) == TOO_LONG
    assert suggested(result, CONF_CLIENT_SECRET) == TOO_LONG
    # Nothing reached the token endpoint (it logs every request it refuses).
    assert "Token request refused" not in caplog.text
    assert "Error handling request" not in caplog.text
    assert "Unexpected error" not in caplog.text

    # The longest accepted value is sent; the sandbox refuses it like any wrong client.
    longest = "x" * MAX_CREDENTIAL_LENGTH
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: longest, CONF_CLIENT_SECRET: longest}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    hass.config_entries.flow.async_abort(result["flow_id"])


async def test_server_that_is_not_the_events_api_is_named(
    hass: HomeAssistant, auth_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise WgtwoError("server refused the subscription (UNIMPLEMENTED)")

    monkeypatch.setattr(forms, "async_check_subscription", refuse)
    result = await start_user_flow(hass, ENV_CUSTOM)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], custom_input(auth_sandbox)
    )

    assert result["errors"] == {"base": "server_refused"}
    assert suggested(result, CONF_HOST) == auth_sandbox.grpc_target


async def test_unexpected_error_is_unknown(
    hass: HomeAssistant,
    auth_sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(forms, "async_check_subscription", broken)
    result = await start_user_flow(hass, ENV_CUSTOM)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], custom_input(auth_sandbox)
    )

    assert result["errors"] == {"base": "unknown"}
    assert "Unexpected error while checking the connection" in caplog.text
    assert CLIENT_SECRET not in caplog.text


async def test_custom_server_without_credentials(
    hass: HomeAssistant, sandbox: SandboxServer
) -> None:
    result = await start_user_flow(hass, ENV_CUSTOM)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_HOST: sandbox.grpc_target, CONF_PLAINTEXT: True, CONF_TOKEN_URL: sandbox.token_url},
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"wgtwo {sandbox.grpc_target}"
    assert result["data"][CONF_CLIENT_ID] == ""
    await hass.async_block_till_done()
    await async_unload_and_wait(hass, result["result"], sandbox)


async def test_same_server_and_client_configured_once(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    make_entry(auth_sandbox).add_to_hass(hass)
    result = await start_user_flow(hass, ENV_CUSTOM)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], custom_input(auth_sandbox)
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    "spelling",
    [
        "localhost:{port}",
        "LOCALHOST:{port}",
        "localhost.:{port}",
        "127.0.0.1:0{port}",
        "[::1]:{port}",
        "[::ffff:127.0.0.1]:{port}",
    ],
)
async def test_spellings_of_one_server_are_one_entry(
    hass: HomeAssistant, auth_sandbox: SandboxServer, spelling: str
) -> None:
    make_entry(auth_sandbox).add_to_hass(hass)
    host = spelling.format(port=auth_sandbox.grpc_port)
    result = await start_user_flow(hass, ENV_CUSTOM)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], custom_input(auth_sandbox, **{CONF_HOST: host})
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


def test_unique_ids_name_a_custom_server_once() -> None:
    def custom(host: str, client_id: str = "c") -> str:
        return unique_id_for(
            {CONF_ENVIRONMENT: ENV_CUSTOM, CONF_HOST: host, CONF_CLIENT_ID: client_id}
        )

    assert custom("LOCALHOST:50051") == "custom:127.0.0.1:50051:c"
    assert custom("Example.COM") == custom("example.com:443") == "custom:example.com:443:c"
    assert custom("bücher.example:8443") == "custom:xn--bcher-kva.example:8443:c"
    assert custom("[2001:DB8:0::1]:443", "") == "custom:[2001:db8::1]:443:"
    # A stored host that is not valid keeps the old form, which the migration left alone.
    assert custom(" Bad Host ") == "custom:bad host:c"
    assert unique_id_for({CONF_ENVIRONMENT: ENV_EU, CONF_CLIENT_ID: "c"}) == "eu:c"
    assert unique_id_for({CONF_ENVIRONMENT: ENV_SANDBOX}) == "sandbox:"


# -- user flow: preset environments -----------------------------------------------------


async def test_production_environment_asks_for_credentials(
    hass: HomeAssistant, auth_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_preset_at(hass, ENV_EU, auth_sandbox)
    result = await start_user_flow(hass, ENV_EU)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "credentials"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    assert suggested(result, CONF_CLIENT_ID) == CLIENT_ID

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: f" {CLIENT_ID} ", CONF_CLIENT_SECRET: CLIENT_SECRET}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"wgtwo EU ({CLIENT_ID})"
    assert result["data"] == {
        CONF_ENVIRONMENT: ENV_EU,
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
    }
    assert result["result"].unique_id == f"eu:{CLIENT_ID}"
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED
    await async_unload_and_wait(hass, result["result"], auth_sandbox)

    # A second entry for the same client and environment is refused.
    result = await start_user_flow(hass, ENV_EU)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: CLIENT_SECRET}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_public_sandbox_needs_no_credentials(
    hass: HomeAssistant,
    sandbox: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Public sandbox unreachable: the first form comes back with what was chosen.
    endpoints = {
        **get_settings(hass).endpoints,
        ENV_SANDBOX: Endpoint("127.0.0.1", free_port(), True),
    }
    change_settings(hass, endpoints=endpoints)
    result = await start_user_flow(hass, ENV_SANDBOX, event_types=["sms"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": "cannot_connect"}
    assert suggested(result, CONF_ENVIRONMENT) == ENV_SANDBOX
    assert suggested(result, CONF_EVENT_TYPES) == ["sms"]

    point_preset_at(hass, ENV_SANDBOX, sandbox)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_SANDBOX, CONF_EVENT_TYPES: ["sms"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "wgtwo sandbox"
    assert result["data"] == {CONF_ENVIRONMENT: ENV_SANDBOX}
    assert result["options"][CONF_EVENT_TYPES] == ["sms"]
    await hass.async_block_till_done()
    await async_unload_and_wait(hass, result["result"], sandbox)


async def test_user_form_defaults(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    schema = result["data_schema"]
    assert schema is not None
    defaults = {str(m): m.default() for m in schema.schema}
    assert defaults == {CONF_ENVIRONMENT: ENV_EU, CONF_EVENT_TYPES: DEFAULT_EVENT_TYPES}
    assert DEFAULT_EVENT_TYPES == ["voice", "voicemail", "sms", "roaming"]
    hass.config_entries.flow.async_abort(result["flow_id"])


# -- reauth -------------------------------------------------------------------------------


async def test_reauth_updates_secret_and_reloads(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox, client_secret="old-secret")
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)
    assert result["step_id"] == "reauth_confirm"
    assert suggested(result, CONF_CLIENT_ID) == CLIENT_ID

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: "still-wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    assert suggested(result, CONF_CLIENT_SECRET) == "still-wrong"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: CLIENT_SECRET}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_CLIENT_SECRET] == CLIENT_SECRET
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_reauth_refuses_another_client(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: "other-client", CONF_CLIENT_SECRET: "x"}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"
    assert entry.data[CONF_CLIENT_ID] == CLIENT_ID


async def test_reauth_refuses_absurd_credentials_before_any_request(
    hass: HomeAssistant, auth_sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: TOO_LONG}
    )

    assert result["step_id"] == "reauth_confirm"
    assert result["errors"] == {CONF_CLIENT_SECRET: "too_long"}
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    assert placeholders["title"] == entry.title
    assert placeholders["max_length"] == str(MAX_CREDENTIAL_LENGTH)
    assert suggested(result, CONF_CLIENT_SECRET) == TOO_LONG
    assert "Token request refused" not in caplog.text
    assert entry.data[CONF_CLIENT_SECRET] == CLIENT_SECRET


async def test_reauth_compares_clients_in_the_form_the_entry_has(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    # Created in the current form: "LOCALHOST" is 127.0.0.1 in the unique id.
    data = entry_data_for(auth_sandbox)
    data[CONF_HOST] = f"LOCALHOST:{auth_sandbox.grpc_port}"
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=unique_id_for(data), data=data, options=entry_options()
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: "other-client", CONF_CLIENT_SECRET: "x"}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"


async def test_reauth_of_an_unmigrated_duplicate_keeps_working(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    # Two spellings of one server from before minor version 2: the migration could not
    # give the second one the new unique id, the first one has.
    first = make_entry(auth_sandbox)
    first.add_to_hass(hass)
    data = entry_data_for(auth_sandbox, client_secret="old-secret")
    data[CONF_HOST] = f"127.0.0.1:0{auth_sandbox.grpc_port}"
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"custom:{data[CONF_HOST]}:{CLIENT_ID}",
        data=data,
        options=entry_options(),
    )
    entry.add_to_hass(hass)

    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: "other-client", CONF_CLIENT_SECRET: "x"}
    )
    assert result["reason"] == "unique_id_mismatch"

    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: CLIENT_SECRET}
    )
    assert result["reason"] == "reauth_successful"
    assert entry.unique_id == f"custom:{data[CONF_HOST]}:{CLIENT_ID}"
    assert entry.data == {**data, CONF_CLIENT_SECRET: CLIENT_SECRET}
    await hass.async_block_till_done()
    # Setting the integration up set up both entries.
    await async_unload_and_wait(hass, entry)
    await async_unload_and_wait(hass, first, auth_sandbox)


async def test_reauth_of_an_entry_without_client_adds_one(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    data = entry_data_for(auth_sandbox, client_id="", client_secret="")
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id=unique_id_for(data), data=data, options=entry_options()
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: CLIENT_SECRET}
    )

    assert result["reason"] == "reauth_successful"
    assert entry.unique_id == f"custom:{auth_sandbox.grpc_target}:{CLIENT_ID}"
    assert entry.data == entry_data_for(auth_sandbox)
    await hass.async_block_till_done()
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_reauth_of_broken_entry_reports_invalid_host(hass: HomeAssistant) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="custom:bad host:c",
        data={
            CONF_ENVIRONMENT: ENV_CUSTOM,
            CONF_HOST: "bad host",
            CONF_PLAINTEXT: False,
            CONF_TOKEN_URL: "https://id.example.com/oauth2/token",
            CONF_CLIENT_ID: "c",
            CONF_CLIENT_SECRET: "s",
        },
        options=entry_options(),
    )
    entry.add_to_hass(hass)
    result = await entry.start_reauth_flow(hass)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: "c", CONF_CLIENT_SECRET: "s2"}
    )

    assert result["errors"] == {"base": "invalid_host"}


# -- reconfigure --------------------------------------------------------------------------


async def test_reconfigure_moves_entry_to_another_server(
    hass: HomeAssistant, auth_sandbox: SandboxServer, make_sandbox: MakeSandbox
) -> None:
    other = await make_sandbox(client_id=CLIENT_ID, client_secret="other-secret")
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert suggested(result, CONF_ENVIRONMENT) == ENV_CUSTOM

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_CUSTOM}
    )
    assert result["step_id"] == "custom"
    assert suggested(result, CONF_HOST) == auth_sandbox.grpc_target
    assert suggested(result, CONF_CLIENT_SECRET) is None

    # Same server, new secret: the unique id stays.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], custom_input(other, **{CONF_CLIENT_SECRET: "other-secret"})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_HOST] == other.grpc_target
    assert entry.data[CONF_CLIENT_SECRET] == "other-secret"
    assert entry.unique_id == f"custom:{other.grpc_target}:{CLIENT_ID}"
    assert entry.title == f"wgtwo {other.grpc_target} ({CLIENT_ID})"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await async_unload_and_wait(hass, entry, other)


async def test_reconfigure_secret_only_keeps_unique_id(
    hass: HomeAssistant, auth_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_preset_at(hass, ENV_US, auth_sandbox)
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"us:{CLIENT_ID}",
        data={CONF_ENVIRONMENT: ENV_US, CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: "old"},
        options=entry_options(),
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_US}
    )
    assert result["step_id"] == "credentials"
    assert suggested(result, CONF_CLIENT_ID) == CLIENT_ID

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: CLIENT_SECRET}
    )

    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == f"us:{CLIENT_ID}"
    assert entry.data[CONF_CLIENT_SECRET] == CLIENT_SECRET
    await hass.async_block_till_done()
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_reconfigure_refuses_another_client_or_a_taken_target(
    hass: HomeAssistant, auth_sandbox: SandboxServer, make_sandbox: MakeSandbox
) -> None:
    other = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    make_entry(other).add_to_hass(hass)

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_CUSTOM}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], custom_input(auth_sandbox, **{CONF_CLIENT_ID: "other-client"})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "unique_id_mismatch"

    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_CUSTOM}
    )
    result = await hass.config_entries.flow.async_configure(result["flow_id"], custom_input(other))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == auth_sandbox.grpc_target


async def test_reconfigure_to_another_environment_drops_the_old_data(
    hass: HomeAssistant, auth_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_preset_at(hass, ENV_EU, auth_sandbox)
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_EU}
    )
    assert result["step_id"] == "credentials"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CLIENT_ID: CLIENT_ID, CONF_CLIENT_SECRET: CLIENT_SECRET}
    )

    assert result["reason"] == "reconfigure_successful"
    # No host, token URL or plaintext flag of the custom server stays behind.
    assert entry.data == {
        CONF_ENVIRONMENT: ENV_EU,
        CONF_CLIENT_ID: CLIENT_ID,
        CONF_CLIENT_SECRET: CLIENT_SECRET,
    }
    assert entry.unique_id == f"eu:{CLIENT_ID}"
    assert entry.title == f"wgtwo EU ({CLIENT_ID})"
    await hass.async_block_till_done()
    await async_unload_and_wait(hass, entry, auth_sandbox)


async def test_reconfigure_refuses_another_spelling_of_a_taken_server(
    hass: HomeAssistant, auth_sandbox: SandboxServer, make_sandbox: MakeSandbox
) -> None:
    other = await make_sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    entry = make_entry(auth_sandbox)
    entry.add_to_hass(hass)
    make_entry(other).add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_CUSTOM}
    )

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        custom_input(other, **{CONF_HOST: f"LOCALHOST:{other.grpc_port}"}),
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_HOST] == auth_sandbox.grpc_target


async def test_reconfigure_public_sandbox_entry(
    hass: HomeAssistant, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = {
        **get_settings(hass).endpoints,
        ENV_SANDBOX: Endpoint("127.0.0.1", free_port(), True),
    }
    change_settings(hass, endpoints=endpoints)
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id="sandbox:",
        data={CONF_ENVIRONMENT: ENV_SANDBOX},
        options=entry_options(),
    )
    entry.add_to_hass(hass)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_SANDBOX}
    )
    assert result["step_id"] == "reconfigure"
    assert result["errors"] == {"base": "cannot_connect"}

    point_preset_at(hass, ENV_SANDBOX, sandbox)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_ENVIRONMENT: ENV_SANDBOX}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await async_unload_and_wait(hass, entry, sandbox)


# -- options ------------------------------------------------------------------------------


async def test_options_update_and_reload(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    hub_before = entry.runtime_data.hub
    result = await open_options(hass, entry, "general")
    assert result["step_id"] == "general"
    assert suggested(result, CONF_SHARE_SMS_TEXT) is False
    assert suggested(result, CONF_PHONEBOOK) == ""

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_EVENT_TYPES: ["voice", "sms"],
            CONF_HOME_COUNTRY: "no",
            CONF_PHONEBOOK: "+47 999 00 001 = Alice\n\n0046700000003 = Carol  \n",
            CONF_SHARE_SMS_TEXT: True,
        },
    )

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {
        CONF_EVENT_TYPES: ["voice", "sms"],
        CONF_HOME_COUNTRY: "NO",
        CONF_PHONEBOOK: {"+4799900001": "Alice", "+46700000003": "Carol"},
        CONF_SHARE_SMS_TEXT: True,
        CONF_SMS_BUDGET: 20,  # the default, filled in by the form
    }
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.hub is not hub_before

    # The form shows the saved phonebook as text again.
    result = await open_options(hass, entry, "general")
    assert suggested(result, CONF_PHONEBOOK) == "+4799900001 = Alice\n+46700000003 = Carol"
    assert suggested(result, CONF_HOME_COUNTRY) == "NO"
    hass.config_entries.options.async_abort(result["flow_id"])


async def test_options_errors_keep_input(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    entered = {
        CONF_EVENT_TYPES: list(reversed(ALL_EVENT_TYPES)),  # same types: not rechecked
        CONF_HOME_COUNTRY: "XX",
        CONF_PHONEBOOK: "+4799900001 = Alice",
        CONF_SHARE_SMS_TEXT: False,
    }
    result = await open_options(hass, entry, "general")
    result = await hass.config_entries.options.async_configure(result["flow_id"], entered)
    assert result["errors"] == {CONF_HOME_COUNTRY: "invalid_country"}
    assert suggested(result, CONF_PHONEBOOK) == "+4799900001 = Alice"

    entered = {**entered, CONF_HOME_COUNTRY: "", CONF_PHONEBOOK: "+4799900001 = Alice\nBob"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], entered)
    assert result["errors"] == {CONF_PHONEBOOK: "invalid_phonebook_line"}
    assert result["description_placeholders"] == {"line": "Bob"}
    assert suggested(result, CONF_PHONEBOOK) == "+4799900001 = Alice\nBob"

    # Without a home country, the option is left out (derived from each number).
    entered = {**entered, CONF_PHONEBOOK: ""}
    result = await hass.config_entries.options.async_configure(result["flow_id"], entered)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert CONF_HOME_COUNTRY not in entry.options
    assert entry.options[CONF_PHONEBOOK] == {}
    await hass.async_block_till_done()


async def test_options_refuse_a_number_listed_twice(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    entry = setup_integration
    entered = {
        CONF_EVENT_TYPES: list(ALL_EVENT_TYPES),
        CONF_PHONEBOOK: "+47 123 45 678 = Alice\n+4699900002 = Bob\n004712345678 = Carol",
        CONF_SHARE_SMS_TEXT: False,
    }
    result = await open_options(hass, entry, "general")

    result = await hass.config_entries.options.async_configure(result["flow_id"], entered)

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_PHONEBOOK: "duplicate_phonebook_number"}
    assert result["description_placeholders"] == {
        "first": "+47 123 45 678 = Alice",
        "second": "004712345678 = Carol",
    }
    assert suggested(result, CONF_PHONEBOOK) == entered[CONF_PHONEBOOK]
    assert entry.options[CONF_PHONEBOOK] == {}
    hass.config_entries.options.async_abort(result["flow_id"])


async def test_options_check_new_event_types(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes={VOICE_SCOPE}
    )
    entry = make_entry(server, options=entry_options(**{CONF_EVENT_TYPES: ["voice"]}))
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "general")

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_EVENT_TYPES: ["voice", "location"], CONF_SHARE_SMS_TEXT: False},
    )

    assert result["errors"] == {"base": "missing_scopes"}
    assert result["description_placeholders"] == {"scopes": LOCATION_SCOPE}
    assert suggested(result, CONF_EVENT_TYPES) == ["voice", "location"]
    assert entry.options[CONF_EVENT_TYPES] == ["voice"]

    # Dropping an event type needs no new grant; choosing the same ones is not rechecked.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_EVENT_TYPES: [], CONF_SHARE_SMS_TEXT: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_EVENT_TYPES] == []
    # Saving reloads the entry, which starts its stream: stop it with the test.
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_options_check_a_newly_chosen_v1_stream(
    hass: HomeAssistant, make_sandbox: MakeSandbox
) -> None:
    server = await make_sandbox(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, granted_scopes={VOICE_SCOPE}
    )
    entry = make_entry(server, options=entry_options(**{CONF_EVENT_TYPES: ["voice"]}))
    entry.add_to_hass(hass)
    result = await open_options(hass, entry, "general")
    form = result["data_schema"]
    assert form is not None
    # The v1 streams are offered beside the event types.
    [field] = [marker for marker in form.schema if marker == CONF_EVENT_TYPES]
    assert form.schema[field].config["options"][-4:] == [
        "country_change",
        "periodic_country",
        "handset_change",
        "first_attachment",
    ]

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_EVENT_TYPES: ["voice", "periodic_country"], CONF_SHARE_SMS_TEXT: False},
    )
    assert result["errors"] == {"base": "missing_scopes"}
    assert result["description_placeholders"] == {"scopes": "subscription.periodic_country:read"}
    assert suggested(result, CONF_EVENT_TYPES) == ["voice", "periodic_country"]
    assert entry.options[CONF_EVENT_TYPES] == ["voice"]

    # Granted: saved, and the entry runs the stream after its reload.
    server.authority.granted_scopes = frozenset({VOICE_SCOPE, "subscription.periodic_country:read"})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {CONF_EVENT_TYPES: ["voice", "periodic_country"], CONF_SHARE_SMS_TEXT: False},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options[CONF_EVENT_TYPES] == ["voice", "periodic_country"]
    await hass.async_block_till_done()
    assert [str(s.kind) for s in hub_of(entry).v1_streams] == ["consent_change", "periodic_country"]
    await async_unload_and_wait(hass, entry, server)


# -- helpers ------------------------------------------------------------------------------


def test_titles_never_show_secrets() -> None:
    assert title_for({CONF_ENVIRONMENT: ENV_SANDBOX}) == "wgtwo sandbox"
    title = title_for({CONF_ENVIRONMENT: ENV_EU, CONF_CLIENT_ID: "c", CONF_CLIENT_SECRET: "s"})
    assert title == "wgtwo EU (c)"


async def test_custom_server_over_a_slow_link(
    hass: HomeAssistant, auth_sandbox: SandboxServer
) -> None:
    """A link with a 1 s round trip: the check connects and the entry is created."""
    change_settings(hass, check_timeout=10.0)
    relay = DelayRelay(auth_sandbox.grpc_port, 0.5)
    port = await relay.start()
    try:
        result = await start_user_flow(hass, ENV_CUSTOM, event_types=["voice"])
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], custom_input(auth_sandbox, **{CONF_HOST: f"127.0.0.1:{port}"})
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        await hass.async_block_till_done()
        await wait_for(lambda: hub_of(entry).connected, within=10)
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        await relay.stop()
