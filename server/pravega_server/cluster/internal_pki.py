"""The controller's client certificate towards its own containers.

Where clients must present a certificate (``--tls-client-ca``), the containers demand one
from the controller too. The supervisor makes a private CA for its lifetime (a fresh
key pair in a directory only it can read), issues the controller a client certificate
from it, and tells the containers to trust that CA beside the operator's client CA. The
operator's CA never has to sign anything for the server, and the key never leaves the
host. Needs the ``cryptography`` package.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class InternalPki:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_internal_pki(directory: Path) -> InternalPki:
    """Write a CA certificate and a client certificate + key signed by it into ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def issue(subject: str, public_key: Any, issuer: x509.Name, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        )
        if ca:
            usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
            builder = builder.add_extension(usage, critical=True)
        else:
            builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pravega-native internal CA")])
    ca = issue("pravega-native internal CA", ca_key.public_key(), ca_name, ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue("pravega-native controller", key.public_key(), ca_name, ca_key, False)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    pki = InternalPki(directory / "internal-ca.pem", directory / "controller.pem", directory / "controller-key.pem")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.touch(mode=0o600)
    pki.key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return pki
