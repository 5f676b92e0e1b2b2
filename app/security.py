"""Password hashing (argon2id), session tokens, CSRF tokens and roles.

Sessions are server-side: the ``qtlens_session`` cookie holds 32 random bytes; the database holds
only their SHA-256, so a stolen database does not yield live sessions. CSRF protection binds a
token to the session (HMAC of the session token under the service's secret key); anonymous
pages (the login form) bind it to a random ``qtlens_anon`` cookie instead. Every state-changing
request must echo the token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from enum import Enum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SESSION_COOKIE = "qtlens_session"
ANON_COOKIE = "qtlens_anon"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FORM_FIELD = "csrf_token"

_HASHER = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults


class Role(str, Enum):
    """What a user may do. Admins may do everything; researchers read and export."""

    CLINICIAN = "clinician"
    RESEARCHER = "researcher"
    ADMIN = "admin"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted, encoded with its parameters)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (constant-time, never raises)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A fresh random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of a session token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token_for(secret_key: str, binding: str) -> str:
    """The CSRF token bound to a session or anonymous cookie value."""
    return hmac.new(secret_key.encode("utf-8"), b"csrf:" + binding.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def csrf_token_valid(secret_key: str, binding: str | None, presented: str | None) -> bool:
    """Whether ``presented`` is the CSRF token for ``binding`` (constant-time comparison)."""
    if not binding or not presented:
        return False
    return hmac.compare_digest(csrf_token_for(secret_key, binding), presented)


MIN_PASSWORD_LENGTH = 10
#: The bundled list of common passwords (source and licence in its header).
COMMON_PASSWORDS_FILE = Path(__file__).resolve().with_name("common_passwords.txt")
#: Usernames: letters, digits and ``_ . @ -``, 1 to 64 of them (no markup, spaces or newlines).
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
#: A username this short may well occur in a good password by chance; not checked below it.
MIN_USERNAME_IN_PASSWORD = 3


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled common passwords, case-folded."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.casefold() for line in lines if line and not line.startswith("#"))


def username_problem(username: str) -> str | None:
    """Why ``username`` is unacceptable, or ``None`` (the API and the CLI both ask this)."""
    if USERNAME_PATTERN.fullmatch(username) is None:
        return ("username must be 1 to 64 letters, digits or the characters _ . @ - "
                "(no spaces, markup or line breaks)")
    return None


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why ``password`` is unacceptable for ``username``, or ``None`` when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 1024:
        return "password is too long"
    if not password.strip():
        return "password must not be only whitespace"
    if len(set(password)) == 1:
        return "password must not be one repeated character"
    if (username and len(username) >= MIN_USERNAME_IN_PASSWORD
            and username.casefold() in password.casefold()):
        return "password contains the username"
    if password.casefold() in common_passwords():
        return "password is on the list of common passwords; choose another"
    return None
