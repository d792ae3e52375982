"""HTTP side of the sandbox: the OAuth2 token endpoint and the test/dev control endpoints."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import grpc
from aiohttp import web

from .auth import TokenError
from .lookup_service import NoAnswerError

if TYPE_CHECKING:
    from .server import SandboxServer

_LOGGER = logging.getLogger(__name__)
# How long POST /control/lookup waits for the product's answer.
LOOKUP_TIMEOUT = 2.0


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except binascii.Error, UnicodeDecodeError:
        return None
    client_id, sep, secret = decoded.partition(":")
    # RFC 6749 2.3.1: both parts are form-urlencoded before they are joined.
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else None


class HttpApi:
    """aiohttp application bound to 127.0.0.1."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        # Room for a benchmark's batch of tens of thousands of events in one POST.
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/oauth2/token", self.token)
        app.router.add_post("/events", self.events)
        app.router.add_post("/control/end-streams", self.end_streams)
        app.router.add_post("/control/stall", self.stall)
        app.router.add_post("/control/expire-tokens", self.expire_tokens)
        app.router.add_post("/control/revoke-tokens", self.revoke_tokens)
        app.router.add_get("/control/stats", self.stats)
        app.router.add_post("/control/lookup", self.lookup)
        app.router.add_post("/control/network", self.network)
        app.router.add_post("/control/consents/{action}", self.consent)
        app.router.add_post("/control/subscription-event", self.subscription_event)
        app.router.add_post("/control/end-v1-streams", self.end_v1_streams)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start(self, port: int) -> int:
        """Bind and return the port."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close all connections."""
        await self._runner.cleanup()

    async def token(self, request: web.Request) -> web.Response:
        """OAuth2 client-credentials grant."""
        form = await request.post()
        credentials = _basic_credentials(request) or (
            str(form.get("client_id", "")),
            str(form.get("client_secret", "")),
        )
        try:
            token, issued = self.server.authority.issue(
                credentials[0],
                credentials[1],
                str(form.get("grant_type", "")),
                str(form.get("scope", "")),
            )
        except TokenError as err:
            _LOGGER.info("Token request refused: %s", err.error)
            return web.json_response(
                {"error": err.error, "error_description": err.description}, status=err.status
            )
        ttl = self.server.authority.token_ttl
        return web.json_response(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": int(ttl) if float(ttl).is_integer() else ttl,
                "scope": " ".join(sorted(issued.scopes)),
            },
            headers={"Cache-Control": "no-store"},
        )

    async def _json(self, request: web.Request) -> Any:
        try:
            return await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": f"body is not valid JSON: {err}"}),
                content_type="application/json",
            ) from err

    async def events(self, request: web.Request) -> web.Response:
        """Publish one SubscribeEventsResponse JSON object or a list of them."""
        body = await self._json(request)
        items = body if isinstance(body, list) else [body]
        try:
            sequences = self.server.publish_sync(items)
        except ValueError as err:
            return _error(400, str(err))
        return web.json_response({"sequences": sequences})

    async def end_streams(self, request: web.Request) -> web.Response:
        """End every open stream with {"code": "...", "details": "..."}."""
        body = await self._json(request) if request.can_read_body else {}
        if not isinstance(body, dict):
            return _error(400, 'expected {"code": "UNAVAILABLE", "details": "..."}')
        name = str(body.get("code", "UNAVAILABLE")).upper()
        if name not in grpc.StatusCode.__members__:
            return _error(400, f"unknown status code {name!r}")
        ended = self.server.end_streams(grpc.StatusCode[name], str(body.get("details", "")))
        return web.json_response({"ended": ended})

    async def stall(self, request: web.Request) -> web.Response:
        """Stall or resume all gRPC connections with {"stalled": true|false}."""
        body = await self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("stalled"), bool):
            return _error(400, 'expected {"stalled": true} or {"stalled": false}')
        try:
            self.server.set_stalled(body["stalled"])
        except RuntimeError as err:
            return _error(409, str(err))
        return web.json_response({"stalled": body["stalled"]})

    async def expire_tokens(self, request: web.Request) -> web.Response:
        """Expire every issued token."""
        self.server.expire_tokens()
        return web.json_response({"ok": True})

    async def revoke_tokens(self, request: web.Request) -> web.Response:
        """Revoke every issued token."""
        self.server.revoke_tokens()
        return web.json_response({"ok": True})

    async def stats(self, request: web.Request) -> web.Response:
        """Return the counters."""
        return web.json_response(self.server.stats)

    async def lookup(self, request: web.Request) -> web.Response:
        """Ask the lookup stream once: {"number": "+47...", "recipient": "+47..."}."""
        body = await self._json(request)
        number = body.get("number") if isinstance(body, dict) else None
        recipient = body.get("recipient") if isinstance(body, dict) else None
        if not isinstance(number, str) or not isinstance(recipient, str | None):
            return _error(400, 'expected {"number": "+4712345678", "recipient": "+4787654321"}')
        try:
            answer = await self.server.lookups.ask(number, recipient, LOOKUP_TIMEOUT)
        except NoAnswerError as err:
            return _error(504, str(err))
        if answer.error is not None:
            return web.json_response({"error": answer.error, "max_age": answer.max_age})
        return web.json_response({"name": answer.name, "max_age": answer.max_age})

    async def network(self, request: web.Request) -> web.Response:
        """Move a subscriber's SIM and publish its events.

        Body: {"number": "+47...", "network": "telia-se" or "country": "SE", "generation":
        "5G", "sim": 0}, all but the number optional.
        """
        body = await self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("number"), str):
            return _error(400, 'expected {"number": "+4712345678", "country": "SE"}')
        args: dict[str, Any] = {}
        for key in ("network", "country", "generation"):
            value = body.get(key)
            if value is not None and not isinstance(value, str):
                return _error(400, f"{key} must be a string")
            args[key] = value
        sim = body.get("sim", 0)
        if not isinstance(sim, int) or isinstance(sim, bool):
            return _error(400, "sim must be a number (0 for the first SIM)")
        try:
            sequences = self.server.move_subscriber(body["number"], sim=sim, **args)
        except ValueError as err:
            return _error(400, str(err))
        current = self.server.network.current(body["number"])
        assert current is not None  # a move attaches a SIM when there is none
        return web.json_response(
            {
                "sequences": sequences,
                "network": current.network.name,
                "country": current.network.country_code,
                "generation": current.generation,
            }
        )

    async def consent(self, request: web.Request) -> web.Response:
        """Add, update or revoke a consent: {"number": "+47...", "scopes": [...]}."""
        action = request.match_info["action"]
        body = await self._json(request)
        number = body.get("number") if isinstance(body, dict) else None
        scopes = body.get("scopes", []) if isinstance(body, dict) else None
        if (
            action not in ("add", "update", "revoke")
            or not isinstance(number, str)
            or not number.startswith("+")
            or not isinstance(scopes, list)
            or not all(isinstance(s, str) for s in scopes)
        ):
            return _error(
                400, 'POST /control/consents/add|update|revoke {"number": "+47…", "scopes": […]}'
            )
        consents = self.server.consents
        try:
            if action == "add":
                consents.add(number, scopes)
            elif action == "update":
                consents.update(number, scopes)
            else:
                consents.revoke(number)
        except KeyError:
            return _error(404, "no consent for this number")
        return web.json_response({"ok": True, "consents": len(consents.consents)})

    async def subscription_event(self, request: web.Request) -> web.Response:
        """Publish one v1 subscription event: {"kind": "country_change", "event": {...}}."""
        body = await self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
            return _error(400, 'expected {"kind": "country_change", "event": {...}}')
        try:
            ident = self.server.subscription_events.publish(str(body.get("kind")), body["event"])
        except ValueError as err:
            return _error(400, str(err))
        return web.json_response({"id": ident})

    async def end_v1_streams(self, request: web.Request) -> web.Response:
        """End every open v1 stream with {"code": "OK"} (the default, as after its hour)."""
        body = await self._json(request) if request.can_read_body else {}
        name = str(body.get("code", "OK")).upper() if isinstance(body, dict) else ""
        if name not in grpc.StatusCode.__members__:
            return _error(400, f"unknown status code {name!r}")
        return web.json_response({"ended": self.server.end_v1_streams(grpc.StatusCode[name])})
