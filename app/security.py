"""Password hashing (argon2id), session tokens, CSRF tokens and roles.

Sessions are server-side: the ``qtlens_session`` cookie holds 32 random bytes; the database holds
only their SHA-256, so a stolen database does not yield live sessions. CSRF protection binds a
token to the session (HMAC of the session token under the service's secret key); anonymous
pages (the login form) bind it to a random ``qtlens_anon`` cookie instead. Every state-changing
request must echo the token in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import Enum

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


def password_problem(password: str) -> str | None:
    """Why ``password`` is unacceptable, or ``None`` when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"password must have at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > 1024:
        return "password is too long"
    return None
