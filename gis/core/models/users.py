"""Who signs in (users, the grids a worker holds, their sessions, failed attempts) and the audit log."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gis.core.models.base import Base, check_in

ROLES = ("admin", "planner", "commander", "worker", "viewer", "department")  # department: issue 25
LANGS = ("zh", "en")  # the catalog's languages (webmap/catalog.py; tests/webmap/test_catalog.py checks they agree)


class User(Base):
    """A person or system that signs in: role, argon2 password hash, hashed API token."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(check_in("role", ROLES), name="role"),
                      CheckConstraint(check_in("lang", LANGS), name="lang"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)
    # sha256 of the bearer token: tokens are 256-bit random, so a fast hash is enough,
    # and every API request can be checked without argon2's deliberate slowness.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # The language they chose for pages, problems and messages; NULL follows the browser's Accept-Language.
    lang: Mapped[str | None] = mapped_column(String(2))
    # Issue 25: the department a member belongs to (role `department` sees and moves only its cases).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))


user_grids = Table(
    "user_grids",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("grid_code", ForeignKey("grid_codes.code", ondelete="CASCADE"), primary_key=True),
)


class UserSession(Base):
    """A signed-in browser: the sha256 of the id its cookie carries, when it began and was last seen."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # sha256 of the cookie's 256-bit random id, as for API tokens: a copy of the table signs no one in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column()
    last_seen_at: Mapped[dt.datetime] = mapped_column()
    address: Mapped[str | None] = mapped_column(Text)  # where it signed in from


class LoginThrottle(Base):
    """Failed attempts per key (an account `user:NAME` or a client `addr:ADDRESS`) and its lock, if any."""

    __tablename__ = "login_throttle"
    __table_args__ = (Index("ix_login_throttle_last_failure_at", "last_failure_at"),)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime] = mapped_column()
    locked_until: Mapped[dt.datetime | None] = mapped_column()


class AuditEntry(Base):
    """Who did what, when, from where, with the before and after state (gis.core.audit writes it)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"), Index("ix_audit_log_at", "at"),
                      # The residents' channel counts one address's reports of the last hour (migration 0016).
                      Index("ix_audit_log_resident_reports", "address", "at",
                            postgresql_where=text("action = 'resident.report'")))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
    actor: Mapped[str | None] = mapped_column(Text)  # the user's name then; kept when the user is gone
    via: Mapped[str | None] = mapped_column(String(16))  # token, session, cli, system
    address: Mapped[str | None] = mapped_column(Text)  # the client's address
    request_id: Mapped[str | None] = mapped_column(String(64))
