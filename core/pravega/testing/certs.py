"""Throw-away certificates for tests and local TLS setups (needs ``cryptography``).

>>> paths = make_test_pki(tmp_dir)              # doctest: +SKIP
>>> paths.ca, paths.server_cert, paths.server_key, paths.client_cert, paths.client_key
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TestPki:
    ca: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _write_key(key: Any, path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _cert(subject: str, key: Any, issuer: Any, issuer_key: Any, *, ca: bool, server: bool, names: list[str]) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer is not None else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        alt: list[Any] = []
        for n in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                alt.append(x509.DNSName(n))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def make_test_pki(directory: Path | str, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> TestPki:
    """A CA, a server certificate for ``hosts`` and a client certificate, as PEM files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    paths = TestPki(
        d / "ca.pem", d / "ca-key.pem", d / "server.pem", d / "server-key.pem", d / "client.pem", d / "client-key.pem"
    )
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("pravega-test-ca", ca_key, None, None, ca=True, server=False, names=[])
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert(hosts[0], server_key, ca, ca_key, ca=False, server=True, names=list(hosts))
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("pravega-test-client", client_key, ca, ca_key, ca=False, server=False, names=["client"])
    pem = serialization.Encoding.PEM
    paths.ca.write_bytes(ca.public_bytes(pem))
    paths.server_cert.write_bytes(server.public_bytes(pem))
    paths.client_cert.write_bytes(client.public_bytes(pem))
    _write_key(ca_key, paths.ca_key)
    _write_key(server_key, paths.server_key)
    _write_key(client_key, paths.client_key)
    return paths
