"""TLS: the client checks the server's certificate; plaintext is for loopback only.

The sandbox is served over TLS with a certificate signed by a CA made for the test (the
name 127.0.0.1 / localhost, on loopback). The client reaches it only when it trusts that
CA and the certificate names the host it dials.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from custom_components.wgtwo.client import (
    CannotConnectError,
    ConnectionState,
    Endpoint,
    EventType,
    InvalidEndpointError,
    async_check_subscription,
)
from tests.sandbox_fixtures import MakeSandbox
from wgtwo_sandbox import SandboxServer

from .helpers import Recorder, fast_config, publish, running


class Pki(NamedTuple):
    """A CA (PEM) and the server credentials of a certificate it signed."""

    ca_pem: bytes
    server_credentials: grpc.ServerCredentials


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_pki(names: x509.SubjectAlternativeName) -> Pki:
    """A self-signed CA and a server certificate for ``names``, valid for a day."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wgtwo test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wgtwo sandbox")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(names, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    credentials = grpc.ssl_server_credentials(
        [(_pem_key(server_key), server_cert.public_bytes(serialization.Encoding.PEM))]
    )
    return Pki(ca_cert.public_bytes(serialization.Encoding.PEM), credentials)


LOOPBACK_NAMES = x509.SubjectAlternativeName(
    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
)
TYPES = (EventType.VOICE_EVENT,)


@pytest.fixture
async def tls_sandbox(make_sandbox: MakeSandbox) -> tuple[SandboxServer, bytes]:
    """A sandbox served over TLS, and the CA (PEM) that signed its certificate."""
    pki = make_pki(LOOPBACK_NAMES)
    return await make_sandbox(server_credentials=pki.server_credentials), pki.ca_pem


def tls_endpoint(server: SandboxServer, ca_pem: bytes | None = None) -> Endpoint:
    """The sandbox's address over TLS, trusting ``ca_pem`` (the system's CAs when None)."""
    return dataclasses.replace(Endpoint.parse(server.grpc_target), root_certificates=ca_pem)


async def test_a_server_signed_by_an_unknown_ca_is_refused(
    tls_sandbox: tuple[SandboxServer, bytes],
) -> None:
    server, _ = tls_sandbox
    with pytest.raises(CannotConnectError, match="connection failed"):
        await async_check_subscription(tls_endpoint(server), TYPES, None, timeout=30)
    assert server.stats["streams_opened"] == 0


async def test_a_server_signed_by_the_trusted_ca_is_accepted(
    tls_sandbox: tuple[SandboxServer, bytes],
) -> None:
    server, ca_pem = tls_sandbox
    await async_check_subscription(tls_endpoint(server, ca_pem), TYPES, None, timeout=30)
    assert server.stats["streams_opened"] == 1


async def test_events_arrive_over_tls(tls_sandbox: tuple[SandboxServer, bytes]) -> None:
    server, ca_pem = tls_sandbox
    recorder = Recorder()
    async with running(tls_endpoint(server, ca_pem), fast_config(*TYPES), recorder) as (sub, _):
        assert sub.status.state is ConnectionState.CONNECTED
        sequences = await publish(server, "voice")
        await recorder.wait_events(1, timeout=30)
    assert recorder.sequences == sequences


async def test_a_certificate_for_another_host_is_refused(make_sandbox: MakeSandbox) -> None:
    """Trusting the CA is not enough: the certificate must name the host dialled."""
    pki = make_pki(x509.SubjectAlternativeName([x509.DNSName("api.example.test")]))
    server = await make_sandbox(server_credentials=pki.server_credentials)
    with pytest.raises(CannotConnectError, match="connection failed"):
        await async_check_subscription(tls_endpoint(server, pki.ca_pem), TYPES, None, timeout=30)
    assert server.stats["streams_opened"] == 0


@pytest.mark.parametrize("host", ["10.0.0.1", "api.shamrock.wgtwo.com", "localhost.example.com"])
def test_plaintext_to_another_machine_is_refused_wherever_the_endpoint_comes_from(
    host: str,
) -> None:
    """Built, parsed or copied from a TLS endpoint: no plaintext endpoint to a remote host."""
    with pytest.raises(InvalidEndpointError, match="loopback"):
        Endpoint(host, 443, plaintext=True)
    with pytest.raises(InvalidEndpointError, match="loopback"):
        Endpoint.parse(f"{host}:8443", plaintext=True)
    with pytest.raises(InvalidEndpointError, match="loopback"):
        dataclasses.replace(Endpoint(host), plaintext=True)


def test_a_private_ca_needs_tls() -> None:
    with pytest.raises(InvalidEndpointError, match="TLS"):
        Endpoint("127.0.0.1", 1, plaintext=True, root_certificates=b"pem")
