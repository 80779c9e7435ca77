"""Authentication as UiAuthenticator does it: X-User/X-Password, session cookie or token, superuser."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from tests.structr_emulator.context import SUPERUSER_NAME, Context
from tests.structr_emulator.store import hash_password

WRONG_CREDENTIALS = "Wrong username or password, or user is blocked. Check caps lock. Note: Username is case sensitive!"
SESSION_COOKIE = "JSESSIONID"

# ResourceAccess flag bits (Structr's UiAuthenticator): authenticated users, then anonymous (public) users.
METHOD_FLAGS = {
    "GET": (1, 16),
    "PUT": (2, 32),
    "POST": (4, 64),
    "DELETE": (8, 128),
    "OPTIONS": (256, 512),
    "HEAD": (1024, 2048),
}


class AuthFailed(Exception):
    """Wrong credentials (AuthenticationException, 401)."""


@dataclass(frozen=True)
class Principal:
    id: str | None
    name: str
    is_admin: bool
    superuser: bool = False

    @property
    def is_superuser(self) -> bool:
        """SecurityContext#isSuperUser: isAdmin=true or the configured SuperUser."""
        return self.superuser or self.is_admin


def check_password(node: Mapping[str, Any], password: str) -> bool:
    salt = node.get("salt")
    stored = node.get("password")
    if not isinstance(salt, str) or not isinstance(stored, str):
        return False
    return hmac.compare_digest(hash_password(password, salt), stored)


def find_user(ctx: Context, login: str) -> dict[str, Any] | None:
    """AuthHelper#getPrincipalForPassword: by name first, then by eMail."""
    users = [node for node in ctx.store.principals() if node.get("type") == "User"]
    for key in ("name", "eMail"):
        for node in users:
            if node.get(key) == login:
                return node
    return None


def login(ctx: Context, name: str, password: str) -> Principal:
    """Check credentials. Raises AuthFailed."""
    if ctx.superuser_password and name == SUPERUSER_NAME and hmac.compare_digest(password, ctx.superuser_password):
        return Principal(id=None, name=SUPERUSER_NAME, is_admin=True, superuser=True)
    node = find_user(ctx, name)
    if node is None or node.get("blocked") or not check_password(node, password):
        raise AuthFailed(WRONG_CREDENTIALS)
    return Principal(id=node["id"], name=str(node.get("name")), is_admin=bool(node.get("isAdmin")))


def principal_from_session(ctx: Context, session_id: str) -> Principal | None:
    principal_id = ctx.sessions.get(session_id)
    if principal_id is None:
        return None
    if principal_id == SUPERUSER_NAME:
        return Principal(id=None, name=SUPERUSER_NAME, is_admin=True, superuser=True)
    with ctx.store.lock:
        node = ctx.store.state["principals"]["nodes"].get(principal_id)
    if node is None:
        return None
    return Principal(id=node["id"], name=str(node.get("name")), is_admin=bool(node.get("isAdmin")))


def new_session(ctx: Context, principal: Principal) -> str:
    session_id = secrets.token_hex(16)
    ctx.sessions[session_id] = principal.id or SUPERUSER_NAME
    return session_id


def authenticate(ctx: Context, headers: Mapping[str, str]) -> Principal | None:
    """Return the request's principal, None for anonymous. Raises AuthFailed for wrong credentials."""
    user = headers.get("X-User")
    if user is not None:
        return login(ctx, user, headers.get("X-Password") or "")
    token = headers.get("X-StructrSessionToken")
    if token:
        return principal_from_session(ctx, token)
    cookie_header = headers.get("Cookie")
    if cookie_header:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(cookie_header)
        if SESSION_COOKIE in cookie:
            return principal_from_session(ctx, cookie[SESSION_COOKIE].value)
    return None


def has_grant(ctx: Context, signatures: tuple[str, ...], method: str, *, authenticated: bool) -> bool:
    """UiAuthenticator#checkResourceAccess: a ResourceAccess grant with the method's flag bit."""
    auth_bit, public_bit = METHOD_FLAGS.get(method, (0, 0))
    bit = auth_bit if authenticated else public_bit
    with ctx.store.lock:
        grants = list(ctx.store.state["app"]["grants"])
    return any(grant.get("signature") in signatures and int(grant.get("flags") or 0) & bit for grant in grants)
