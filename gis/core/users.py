"""Users, roles, passwords (argon2) and API tokens (sha256 of a random secret)."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from gis.core import audit
from gis.core.errors import Conflict, InvalidInput, NotFound
from gis.core.models import LANGS, ROLES, User, grid_codes, user_grids
from gis.core.sessions import revoke_all

TOKEN_PREFIX = "gg_"
_hasher = PasswordHasher()


def hash_token(token: str) -> str:
    """The stored form of a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh 256-bit bearer token, recognisable by its prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_user(session: Session, name: str, role: str, *, grids: Iterable[str] = (),
                password: str | None = None, display_name: str | None = None) -> tuple[User, str]:
    """Add a user and return it with its bearer token (shown once, stored hashed)."""
    for value, what in ((name, "name"), (role, "role"), (password, "password"), (display_name, "display_name")):
        if value is not None and not isinstance(value, str):
            raise InvalidInput(f"Invalid {what}", f"`{what}` must be text.")
    grids = list(grids) if isinstance(grids, Iterable) and not isinstance(grids, (str, bytes, dict)) else None
    if grids is None or not all(isinstance(g, str) for g in grids):
        raise InvalidInput("Invalid grids", "`grids` must be a list of 15-digit grid codes.")
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise InvalidInput("Invalid user name", "Give a name of 1 to 64 characters.")
    if role not in ROLES:
        raise InvalidInput("Unknown role", f"Role must be one of: {', '.join(ROLES)}.")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict("User exists", f"A user named {name!r} already exists; pick another name.")
    token = new_token()
    user = User(name=name, role=role, display_name=display_name, token_hash=hash_token(token),
                password_hash=_hasher.hash(password) if password else None)
    session.add(user)
    session.flush()
    set_user_grids(session, user, grids, audited=False)
    audit.record(session, "user.create", "user", user.name,
                 after={"role": role, "display_name": display_name, "grids": sorted(set(grids)),
                        "password": bool(password), "token": "issued"})
    return user, token


def set_user_grids(session: Session, user: User, grids: Iterable[str], *, audited: bool = True) -> None:
    """Scope a user (a grid worker) to these grid codes, replacing the previous scope (audited unless told)."""
    codes = sorted(set(grids))
    if codes:
        known = set(session.scalars(select(grid_codes.c.code).where(grid_codes.c.code.in_(codes))))
        missing = [c for c in codes if c not in known]
        if missing:
            raise InvalidInput("Unknown grid code", f"No grid has code {', '.join(missing)}.",
                               codes=missing)
    if audited:
        audit.record(session, "user.grids", "user", user.name, before={"grids": user_grid_codes(session, user.id)},
                     after={"grids": codes})
    session.execute(delete(user_grids).where(user_grids.c.user_id == user.id))
    if codes:
        session.execute(insert(user_grids), [{"user_id": user.id, "grid_code": c} for c in codes])


def user_grid_codes(session: Session, user_id: int) -> list[str]:
    """The grid codes a user is scoped to (empty: no grid scope)."""
    return list(session.scalars(select(user_grids.c.grid_code)
                                .where(user_grids.c.user_id == user_id)
                                .order_by(user_grids.c.grid_code)))


def rotate_token(session: Session, name: str) -> str:
    """Replace a user's token; the old one stops working at once."""
    user = get_user(session, name)
    token = new_token()
    user.token_hash = hash_token(token)
    audit.record(session, "token.issue", "user", user.name, after={"token": "issued; the previous one revoked"})
    return token


def set_password(session: Session, name: str, password: str) -> None:
    """Set (or replace) a user's login password; their signed-in sessions end."""
    if len(password) < 8:
        raise InvalidInput("Password too short", "Use at least 8 characters.")
    user = get_user(session, name)
    user.password_hash = _hasher.hash(password)
    revoke_all(session, user.id)
    audit.record(session, "user.password", "user", name, after={"password": "set"})


def set_role(session: Session, name: str, role: str) -> User:
    """Give a user another role; their signed-in sessions end (a session must not outlive its rights)."""
    if role not in ROLES:
        raise InvalidInput("Unknown role", f"Role must be one of: {', '.join(ROLES)}.")
    user = get_user(session, name)
    if user.role != role:
        audit.record(session, "user.role", "user", name, before={"role": user.role}, after={"role": role})
        user.role = role
        revoke_all(session, user.id)
    return user


def sign_out_everywhere(session: Session, name: str) -> int:
    """End every signed-in session of a user (their token stays), audited; how many ended."""
    user = get_user(session, name)
    ended = revoke_all(session, user.id)
    audit.record(session, "signout_everywhere", "user", user.name, after={"sessions_ended": ended})
    return ended


def set_active(session: Session, name: str, active: bool) -> User:
    """Enable or disable a user; disabling ends their signed-in sessions (tokens stop: inactive users are no one)."""
    user = get_user(session, name)
    if user.active != active:
        audit.record(session, "user.active", "user", name, before={"active": user.active}, after={"active": active})
    user.active = active
    if not active:
        revoke_all(session, user.id)
    return user


def set_lang(session: Session, name: str, lang: str | None) -> User:
    """Set the language a user reads gridgov in (zh or en; None follows their browser), audited."""
    if lang is not None and lang not in LANGS:
        raise InvalidInput("Invalid lang", f"`lang` is one of {', '.join(LANGS)}, or null to follow the browser.",
                           parameter="lang")
    user = get_user(session, name)
    if user.lang != lang:
        audit.record(session, "user.lang", "user", name, before={"lang": user.lang}, after={"lang": lang})
        user.lang = lang
    return user


def get_user(session: Session, name: str) -> User:
    """The user with this name, or NotFound."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound("No such user", f"There is no user named {name!r}.")
    return user


def user_by_token(session: Session, token: str) -> User | None:
    """The active user holding this bearer token."""
    if not token:
        return None
    return session.scalar(select(User).where(User.token_hash == hash_token(token), User.active))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, as the API authenticates them: an active user's plain values (immutable, shareable)."""

    id: int
    name: str
    display_name: str | None
    role: str
    active: bool
    lang: str | None = None
    department_id: int | None = None  # issue 25: a department member's department


def principal_by_token(session: Session, token: str) -> Principal | None:
    """The active user holding this API token, as a Principal (cacheable across requests), or None."""
    if not token:
        return None
    row = session.execute(select(User.id, User.name, User.display_name, User.role, User.active, User.lang,
                                 User.department_id)
                          .where(User.token_hash == hash_token(token), User.active)).first()
    return Principal(*row) if row else None


def user_by_password(session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, else None."""
    user = session.scalar(select(User).where(User.name == name, User.active))
    if user is None or not user.password_hash:
        _hasher.hash(password)  # spend the same time whether or not the user exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def find_user(session: Session, name: str) -> User | None:
    """The user with this name, active or not, or None."""
    return session.scalar(select(User).where(User.name == name))


def active_user(session: Session, user_id: int) -> User | None:
    """The user with this id if they are active; a disabled user is no one."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def list_users(session: Session) -> list[tuple[User, list[str]]]:
    """Every user by name, with the grid codes each is scoped to."""
    return [(user, user_grid_codes(session, user.id)) for user in session.scalars(select(User).order_by(User.name))]
