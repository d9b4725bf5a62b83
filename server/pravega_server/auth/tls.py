"""TLS settings of the server's two listeners (PEM files)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TlsConfig:
    cert_file: Path  # the server certificate (chain), PEM
    key_file: Path  # its private key, PEM
    #: CA certificate(s) client certificates must be signed by; None: no client certificates.
    client_ca_file: Path | None = None

    def validate(self) -> str | None:
        for name, path in (("certificate", self.cert_file), ("key", self.key_file), ("CA", self.client_ca_file)):
            if path is not None and not path.is_file():
                return f"the TLS {name} file {path} does not exist"
        try:
            self.ssl_context()
        except (ssl.SSLError, OSError, ValueError) as exc:
            return f"cannot load the TLS certificate/key: {exc}"
        return None

    def ssl_context(self) -> ssl.SSLContext:
        """For the segment store's TCP listener."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        if self.client_ca_file is not None:
            ctx.load_verify_locations(cafile=str(self.client_ca_file))
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def grpc_credentials(self) -> Any:
        """For the controller's gRPC port (``grpc.ServerCredentials``)."""
        import grpc

        ca = self.client_ca_file.read_bytes() if self.client_ca_file is not None else None
        return grpc.ssl_server_credentials(
            [(self.key_file.read_bytes(), self.cert_file.read_bytes())],
            root_certificates=ca,
            require_client_auth=ca is not None,
        )
