"""Domain errors: what went wrong and what to do about it, with no HTTP in them.

Titles are English and stable: api/errors.py sends each in the request's language through its entry in
webmap/messages/problems.json (tests/api/test_problem_titles.py checks every title the code raises has one).
"""
from __future__ import annotations

from typing import Any


class GridgovError(Exception):
    """Base of every error gridgov raises on purpose: a title and a detail saying what to fix."""

    title = "gridgov error"

    def __init__(self, title: str | None = None, detail: str = "", **extra: Any):
        super().__init__(title or self.title)
        if title:
            self.title = title
        self.detail = detail
        # Machine-readable extras (row errors, the current version, …) go out with the problem.
        self.extra = extra

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}" if self.detail else self.title


class InvalidInput(GridgovError):
    """A request or file that cannot be used as it is (the client must change it)."""

    title = "Invalid input"


class UnsupportedMedia(InvalidInput):
    """An upload whose content is not a kind of file accepted here (e.g. a text file named photo.jpg)."""

    title = "Unsupported file type"


class TooLarge(GridgovError):
    """An upload over the configured size or pixel limit; the detail names the limit."""

    title = "Too large"


class InvalidGeometry(InvalidInput):
    """A geometry that is not valid; the detail carries ST_IsValidReason / shapely's reason."""

    title = "Invalid geometry"


class NotFound(GridgovError):
    """The thing asked for does not exist."""

    title = "Not found"


class Conflict(GridgovError):
    """The change clashes with the current state (duplicate code, overlapping grid, …)."""

    title = "Conflict"


class PreconditionFailed(GridgovError):
    """An optimistic-locking check failed: somebody else changed the thing first."""

    title = "Precondition failed"


class Unauthenticated(GridgovError):
    """No valid credentials were given."""

    title = "Authentication required"


class Forbidden(GridgovError):
    """Credentials are valid but the role or scope does not allow this."""

    title = "Forbidden"


class TooManyAttempts(GridgovError):
    """Too many failed sign-ins or bad keys from this account or address: locked for retry_after_s seconds."""

    title = "Too many failed attempts"

    def __init__(self, title: str | None = None, detail: str = "", *, retry_after_s: int = 60, **extra: Any):
        super().__init__(title, detail, **extra)
        self.retry_after_s = max(1, int(retry_after_s))


class DatabaseUnavailable(GridgovError):
    """The database cannot be reached or is not ready."""

    title = "Database unavailable"


class AtCapacity(GridgovError):
    """The server has no room for this right now (e.g. every live-stream slot is taken); retry later."""

    title = "At capacity"
    retry_after_s = 60


class SetupRequired(GridgovError):
    """Something must be installed or configured first; the detail gives the exact command."""

    title = "Setup required"
