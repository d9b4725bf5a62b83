"""A secured server setup for tests: certificates, a password file and a token key.

>>> setup = make_security_setup(tmp, {"admin": ("pw", "prn::/,READ_UPDATE")})   # doctest: +SKIP
>>> ServerProcess(extra_args=setup.server_args()).start()                        # doctest: +SKIP
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from .certs import TestPki, make_test_pki


@dataclass(frozen=True)
class SecuritySetup:
    directory: Path
    pki: TestPki
    password_file: Path
    token_key_file: Path
    #: user -> (password, ACL)
    users: dict[str, tuple[str, str]] = field(default_factory=dict)

    def server_args(self, *, tls: bool = True, auth: bool = True, client_certs: bool = False) -> list[str]:
        """``pravega-server`` options; clients of the official client need ``localhost``
        as the advertised host (it verifies the segment store by host name)."""
        args = ["--advertised-host", "localhost"] if tls else []
        if tls:
            args += ["--tls-cert", str(self.pki.server_cert), "--tls-key", str(self.pki.server_key)]
        if client_certs:
            args += ["--tls-client-ca", str(self.pki.ca)]
        if auth:
            args += ["--auth-password-file", str(self.password_file)]
            args += ["--auth-token-key-file", str(self.token_key_file)]
        return args

    @property
    def trust_dir(self) -> Path:
        """A directory holding only the CA certificate (the official client's
        ``pravega_client_tls_cert_path`` reads every file in it)."""
        return self.pki.ca.parent / "trust"


def make_security_setup(directory: Path | str, users: dict[str, tuple[str, str]]) -> SecuritySetup:
    from pravega_server.auth.passwords import set_user

    d = Path(directory)
    pki = make_test_pki(d / "pki")
    password_file = d / "passwords"
    for user, (password, acl) in users.items():
        set_user(password_file, user, password, acl)
    key = d / "token.key"
    key.write_text(secrets.token_hex(32))
    setup = SecuritySetup(d, pki, password_file, key, dict(users))
    setup.trust_dir.mkdir(exist_ok=True)
    (setup.trust_dir / "ca.pem").write_bytes(pki.ca.read_bytes())
    return setup
