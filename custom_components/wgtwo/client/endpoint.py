"""Where the API lives and how to open a gRPC channel to it (TLS unless loopback)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

import grpc

from .errors import InvalidEndpointError

DEFAULT_TOKEN_URL: Final = "https://id.wgtwo.com/oauth2/token"
DEFAULT_PORT: Final = 443
# gRPC's own default; a slow link needs several round trips to connect.
DEFAULT_CONNECT_TIMEOUT: Final = 20.0


def is_loopback_host(host: str) -> bool:
    """Return whether ``host`` names this machine (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token_url(url: str) -> str:
    """Reject token URLs that would send credentials in the clear to another machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidEndpointError("token URL must be an http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise InvalidEndpointError("token URL must use https unless the host is loopback")
    return url


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A gRPC API endpoint; plaintext is only allowed for a loopback test server.

    ``root_certificates`` (PEM) replaces the system's trusted CAs, for a server whose
    certificate a private CA signed; the certificate is still checked against the host.
    """

    host: str
    port: int = DEFAULT_PORT
    plaintext: bool = False
    root_certificates: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Validate host, port and the plaintext restriction."""
        if not self.host or any(c.isspace() for c in self.host):
            raise InvalidEndpointError("endpoint host is empty or malformed")
        if not 0 < self.port < 65536:
            raise InvalidEndpointError("endpoint port out of range")
        if self.plaintext and not is_loopback_host(self.host):
            raise InvalidEndpointError("plaintext is only allowed for loopback hosts")
        if self.plaintext and self.root_certificates is not None:
            raise InvalidEndpointError("root certificates need TLS, not plaintext")

    @classmethod
    def parse(cls, target: str, *, plaintext: bool = False) -> Endpoint:
        """Build an endpoint from ``host``, ``host:port`` or ``[v6]:port``."""
        target = target.strip()
        host, port = target, DEFAULT_PORT
        if target.startswith("["):
            end = target.find("]")
            if end < 0:
                raise InvalidEndpointError("malformed IPv6 endpoint")
            host, rest = target[1:end], target[end + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise InvalidEndpointError("malformed IPv6 endpoint")
                port = _parse_port(rest[1:])
        elif target.count(":") == 1:
            host, port_text = target.split(":")
            port = _parse_port(port_text)
        return cls(host, port, plaintext)

    @property
    def target(self) -> str:
        """The ``host:port`` string gRPC dials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def create_channel(
        self,
        *,
        keepalive_time: float = 30.0,
        keepalive_timeout: float = 10.0,
        reconnect_backoff_max: float | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        extra_options: Sequence[tuple[str, Any]] = (),
    ) -> grpc.aio.Channel:
        """Open a ``grpc.aio`` channel with keepalive pings (TLS with system roots by default).

        ``connect_timeout`` bounds one connection attempt (TCP, TLS and the server's HTTP/2
        settings); it must cover a few round trips of the slowest link we expect.
        """
        options: list[tuple[str, Any]] = [
            ("grpc.keepalive_time_ms", max(1, int(keepalive_time * 1000))),
            ("grpc.keepalive_timeout_ms", max(1, int(keepalive_timeout * 1000))),
            # Recent gRPC cores time keepalive pings out with the generic ping timeout
            # (60 s by default), not keepalive_timeout_ms: set both.
            ("grpc.http2.ping_timeout_ms", max(1, int(keepalive_timeout * 1000))),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            # Our own loop decides when to reconnect; keep the channel's backoff short.
            ("grpc.initial_reconnect_backoff_ms", 200),
            # gRPC core uses this "minimum backoff" as the connect timeout of each attempt.
            ("grpc.min_reconnect_backoff_ms", max(100, int(connect_timeout * 1000))),
            # A channel of its own: no backoff inherited from an earlier channel's subchannel.
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.enable_retries", 0),
        ]
        if reconnect_backoff_max is not None:
            options.append(("grpc.max_reconnect_backoff_ms", int(reconnect_backoff_max * 1000)))
        options.extend(extra_options)
        if self.plaintext:
            return grpc.aio.insecure_channel(self.target, options=options)
        credentials = grpc.ssl_channel_credentials(root_certificates=self.root_certificates)
        return grpc.aio.secure_channel(self.target, credentials, options=options)


ENVIRONMENTS: Final[Mapping[str, Endpoint]] = MappingProxyType(
    {
        "eu": Endpoint("api.shamrock.wgtwo.com"),
        "us": Endpoint("api.oak.wgtwo.com"),
        "sakura": Endpoint("api.sakura.wgtwo.com"),
        "sandbox": Endpoint("sandbox.api.shamrock.wgtwo.com"),
    }
)


def _parse_port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidEndpointError("endpoint port is not a number") from None


# Every spelling of this machine; they name one server, so they get one identity.
_LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_LABEL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_TARGET_LENGTH: Final = 300


def normalize_target(target: str) -> str:
    """Return one ``host:port`` for every spelling of a server (its identity, not a dial string).

    Case, IDNA, leading zeros of the port and the loopback names (``localhost``,
    ``127.0.0.1``, ``::1``) would otherwise make one server look like several. Raises
    :class:`InvalidEndpointError` for anything malformed, including non-ASCII digits,
    which ``int()`` would silently accept.
    """
    text = target.strip()
    if not text or len(text) > _MAX_TARGET_LENGTH:
        raise InvalidEndpointError("endpoint is empty or too long")
    if any(c.isdigit() and not c.isascii() for c in text):
        raise InvalidEndpointError("endpoint contains non-ASCII digits")
    host, port_text = _split_target(text)
    port = DEFAULT_PORT if port_text is None else _ascii_port(port_text)
    host = _canonical_host(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _split_target(text: str) -> tuple[str, str | None]:
    """Split as :meth:`Endpoint.parse` does: ``host[:port]``, ``[v6][:port]`` or a bare v6."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or ":" not in host:
            raise InvalidEndpointError("malformed IPv6 endpoint")
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise InvalidEndpointError("malformed IPv6 endpoint")
        return host, rest[1:]
    if text.count(":") == 1:
        host, _, port_text = text.partition(":")
        return host, port_text
    return text, None


def _ascii_port(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise InvalidEndpointError("endpoint port is not a number")
    port = int(text)
    if not 0 < port < 65536:
        raise InvalidEndpointError("endpoint port out of range")
    return port


def _canonical_host(host: str) -> str:
    """Lowercase, IDNA-encoded host; one form per IP address; loopback as ``127.0.0.1``."""
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidEndpointError("endpoint host is not a valid name") from None
    host = host.lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        name = str(address)
        return "127.0.0.1" if name in _LOOPBACK_NAMES else name
    name = host.removesuffix(".")
    labels = name.split(".")
    if (
        len(name) > 253
        or any(
            not 0 < len(label) < 64
            or not set(label) <= _LABEL_CHARS
            or label.startswith("-")
            or label.endswith("-")
            for label in labels
        )
        # A numeric top label is a malformed address (127.0.0.01), not a name.
        or labels[-1].isdigit()
    ):
        raise InvalidEndpointError("endpoint host is not a valid name")
    return "127.0.0.1" if name in _LOOPBACK_NAMES else name
