"""The password file, in Pravega's format: one line per user, ``user:hashed-password:acl``.

Passwords are stored as ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` (base64, no ``:``
inside), so the ACL is everything after the second ``:``. Blank lines and lines
starting with ``#`` are ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from .acl import Acl, AclError

SCHEME = "pbkdf2_sha256"
ITERATIONS = 200_000


class PasswordFileError(ValueError):
    """The password file cannot be read or has a malformed line."""


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class UserEntry:
    name: str
    password_hash: str
    acl: Acl


def parse_line(line: str, where: str = "") -> UserEntry | None:
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    user, sep1, rest = line.partition(":")
    hashed, sep2, acl = rest.partition(":")
    if not (sep1 and sep2 and user and hashed):
        raise PasswordFileError(f"{where}: expected 'user:hashed-password:acl'")
    try:
        return UserEntry(user, hashed, Acl.parse(acl))
    except AclError as exc:
        raise PasswordFileError(f"{where}: user {user!r}: {exc}") from None


def load(path: Path) -> dict[str, UserEntry]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise PasswordFileError(f"cannot read the password file {path}: {exc}") from None
    users: dict[str, UserEntry] = {}
    for number, line in enumerate(text.splitlines(), 1):
        entry = parse_line(line, f"{path}:{number}")
        if entry is not None:
            users[entry.name] = entry
    return users


def set_user(path: Path, user: str, password: str, acl: str) -> None:
    """Add ``user`` to the file or replace its line (the file is created if missing)."""
    if not user or ":" in user or any(ch.isspace() for ch in user):
        raise PasswordFileError(f"a user name has no ':' or spaces and is not empty: {user!r}")
    Acl.parse(acl)  # refuse a bad ACL before writing anything
    line = f"{user}:{hash_password(password)}:{acl}"
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [existing for existing in lines if existing.partition(":")[0].strip() != user]
    kept.append(line)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(kept) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class PasswordFile:
    """The users of a password file; a successful check is cached (PBKDF2 is slow on
    purpose, and clients send the credentials with every controller call)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.users = load(path)
        self._verified: dict[tuple[str, bytes], str] = {}
        self._lock = threading.Lock()

    def check(self, user: str, password: str) -> UserEntry | None:
        entry = self.users.get(user)
        if entry is None:
            return None
        key = (user, hashlib.sha256(password.encode()).digest())
        with self._lock:
            if self._verified.get(key) == entry.password_hash:
                return entry
        if not verify_password(password, entry.password_hash):
            return None
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[key] = entry.password_hash
        return entry
