"""A real redis-server with TLS and AUTH for tests, on certificates made here.

``TestCertificates.generate(directory)`` writes a CA, a server certificate for 127.0.0.1 and
localhost (subject alternative names) and a client certificate, all signed by that CA (EC
P-256 keys: quick to make).
``TLSRedisServer`` serves TLS only (``--port 0``) on a free port, requires a password, and asks
for client certificates (``client_auth="optional"``) or insists on them (``"yes"``).
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bench.redis_server import BenchRedis

ClientAuth = Literal["optional", "yes", "no"]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _general_name(name: str) -> x509.GeneralName:
    """A subject alternative name: an IP address entry for an address, else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    usage: list[x509.ObjectIdentifier] | None = None,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """A certificate for ``subject``: a self-signed CA when ``issuer`` is None, else a leaf."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signing_key = issuer if issuer is not None else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        usage_flags = {"key_cert_sign": True, "crl_sign": True, "digital_signature": False}
    else:
        usage_flags = {"key_cert_sign": False, "crl_sign": False, "digital_signature": True}
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage_flags,
        ),
        critical=True,
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usage), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@dataclass(frozen=True)
class TestCertificates:
    """PEM files of a test CA and the server and client certificates it signed."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    client_cert_file: Path
    client_key_file: Path

    __test__ = False  # not a pytest test class, whatever its name

    @classmethod
    def generate(
        cls, directory: Path, server_names: tuple[str, ...] = ("127.0.0.1", "localhost")
    ) -> TestCertificates:
        """Write the PEM files into ``directory``; the server certificate names ``server_names``."""
        directory.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("recsys test CA", ca_key, None)
        issuer = (ca.subject, ca_key)
        server_key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate(
            "recsys test redis",
            server_key,
            issuer,
            usage=[ExtendedKeyUsageOID.SERVER_AUTH],
            names=[_general_name(name) for name in server_names],
        )
        client_key = ec.generate_private_key(ec.SECP256R1())
        client = _certificate(
            "recsys test client", client_key, issuer, usage=[ExtendedKeyUsageOID.CLIENT_AUTH]
        )
        made = cls(
            ca_file=directory / "ca.crt",
            server_cert_file=directory / "server.crt",
            server_key_file=directory / "server.key",
            client_cert_file=directory / "client.crt",
            client_key_file=directory / "client.key",
        )
        made.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        made.server_cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        made.client_cert_file.write_bytes(client.public_bytes(serialization.Encoding.PEM))
        _write_key(server_key, made.server_key_file)
        _write_key(client_key, made.client_key_file)
        return made


class TLSRedisServer(BenchRedis):
    """``with TLSRedisServer(workdir) as server: server.client()``: TLS only, password required.

    The password is random per server ("redis-auth-" and 32 hex digits), so a test can look
    for it in logs. Nothing is persisted; ``stop()`` ends the process.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        client_auth: ClientAuth = "optional",
        certificates: TestCertificates | None = None,
    ) -> None:
        self.client_auth = client_auth
        self.certificates = certificates or TestCertificates.generate(workdir / "tls")
        self.password = f"redis-auth-{secrets.token_hex(16)}"
        super().__init__(workdir)

    def _listen_args(self) -> list[str]:
        certs = self.certificates
        return [
            *("--port", "0", "--tls-port", str(self.port)),
            *("--tls-cert-file", str(certs.server_cert_file)),
            *("--tls-key-file", str(certs.server_key_file)),
            *("--tls-ca-cert-file", str(certs.ca_file)),
            *("--tls-auth-clients", self.client_auth),
            *("--requirepass", self.password),
        ]

    def _ping(self) -> bool:
        # No hostname check: a test may give the server a certificate for another name.
        with self.client(ssl_check_hostname=False) as client:
            return bool(client.ping())

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def env(self, *, client_certificate: bool = True) -> dict[str, str]:
        """The ``RECSYS_REDIS_*`` variables that reach this server."""
        env = {
            "RECSYS_REDIS_URL": self.url,
            "RECSYS_REDIS_PASSWORD": self.password,
            "RECSYS_REDIS_TLS_CA_FILE": str(self.certificates.ca_file),
        }
        if client_certificate:
            env["RECSYS_REDIS_TLS_CERT_FILE"] = str(self.certificates.client_cert_file)
            env["RECSYS_REDIS_TLS_KEY_FILE"] = str(self.certificates.client_key_file)
        return env

    def client(self, **options: Any) -> redis.Redis:
        """A client with the password, the CA and the client certificate (for setting up tests);
        ``options``: further redis-py keywords."""
        return redis.Redis.from_url(
            self.url,
            password=self.password,
            ssl_ca_certs=str(self.certificates.ca_file),
            ssl_certfile=str(self.certificates.client_cert_file),
            ssl_keyfile=str(self.certificates.client_key_file),
            **options,
        )
