"""Personal data as a kind of field: which columns are personal, who may read them, and masking of free text."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from gis.core import audit

KINDS = ("contact", "id_number", "name", "phone", "location")
# The roles that dispatch and follow up a resident's report; a later issue may add party organisers.
STAFF = ("admin", "commander")
# Where a personal field may appear at all, for the roles allowed to read it. Public outputs (the
# Open311 anonymous view, layers and tiles) are never among them: a map has no use for a phone.
# "photo" is the bytes of a photo: the original keeps its EXIF, the public variant has no GPS.
OUTPUTS = ("event_json", "timeline", "open311", "layer", "export", "photo")


@dataclass(frozen=True)
class PersonalField:
    """One personal column: its table, its kind, who may read it unmasked and in which outputs."""

    table: str
    column: str
    kind: str
    readers: tuple[str, ...] = STAFF
    outputs: tuple[str, ...] = ()
    # Stored as ciphertext (gis.core.crypto.EncryptedText): every id_number must be.
    encrypted: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.table}.{self.column}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.kind == "id_number" and not self.encrypted:
            raise ValueError(f"{self.table}.{self.column}: ID numbers are stored encrypted (encrypted=True)")
        unknown = [o for o in self.outputs if o not in OUTPUTS or o == "layer"]
        if unknown:
            raise ValueError(f"{self.table}.{self.column}: outputs {unknown} are not allowed "
                             f"(one of {OUTPUTS}, never a layer)")


# The one declaration. Residents' fields of a later issue are one line each here, e.g.
# PersonalField("residents", "id_number", "id_number", encrypted=True, outputs=("export",)).
PERSONAL_FIELDS: tuple[PersonalField, ...] = (
    PersonalField("events", "contact", "contact", outputs=("event_json",)),
    PersonalField("cadres", "phone", "phone", outputs=("export",)),
    # Issue 18: where a photo was taken, from its EXIF GPS (often a resident's door). Its readers get the
    # position in the attachment list and the original bytes; everyone else the variant without GPS.
    PersonalField("attachments", "taken_lon", "location", outputs=("event_json", "photo")),
    PersonalField("attachments", "taken_lat", "location", outputs=("event_json", "photo")),
)

# Free text people write (descriptions, notes): phone and ID numbers inside it are masked for
# roles without personal-data access, in every output.
FREE_TEXT = (("events", "title"), ("events", "description"), ("event_moves", "note"))


def fields_of(table: str) -> list[PersonalField]:
    """The personal fields declared on `table`."""
    return [f for f in PERSONAL_FIELDS if f.table == table]


def field(table: str, column: str) -> PersonalField | None:
    """The declaration of table.column, or None when it is not personal."""
    return next((f for f in PERSONAL_FIELDS if f.table == table and f.column == column), None)


def may_read(role: str | None, table: str, column: str) -> bool:
    """Whether `role` (None: anonymous) may read table.column unmasked (always, when it is not personal)."""
    declared = field(table, column)
    return declared is None or (role is not None and role in declared.readers)


def sees_personal(role: str | None) -> bool:
    """Whether `role` reads free text unmasked (the roles allowed to read every declared field)."""
    return role is not None and all(role in f.readers for f in PERSONAL_FIELDS)


def photo_variant(role: str | None) -> str:
    """Which bytes of a photo `role` receives: "original" (EXIF GPS kept) for its position's readers, else "public"."""
    declared = [f for f in fields_of("attachments") if "photo" in f.outputs]
    return "original" if declared and all(may_read(role, f.table, f.column) for f in declared) else "public"


def personal_columns(table: str, columns: Iterable[str]) -> list[str]:
    """Those of `columns` that are declared personal on `table`."""
    return [c for c in columns if field(table, c) is not None]


# -- masking of free text -------------------------------------------------------------------
# The patterns use only what PostgreSQL's regular expressions also know (lookbehind, [0-9]):
# migration 0012 writes the same three as the SQL function gridgov_mask_personal, which the
# layers and tiles use, and tests/gis/core/test_personal.py checks both mask alike.
# Digits next to digits are never a phone or ID: a 15-digit grid code or a 20-digit building
# code is left alone, and so is a timestamp (its parts are at most 4 digits long).
ID_NUMBER = (r"(?<![0-9])([1-9][0-9]{3})[0-9]{2}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
             r"([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
MOBILE = r"(?<![0-9])(1[3-9][0-9])[ -]?[0-9]{4}[ -]?([0-9]{4})(?![0-9])"
# Area code 0xx or 0xxx and a 7- or 8-digit number; not after a decimal point (0.0123456789).
LANDLINE = r"(?<![0-9.])(0[1-9][0-9]{1,2})[ -]?[0-9]{3,4}[ -]?([0-9]{4})(?![0-9])"
ID_MASK, MOBILE_MASK, LANDLINE_MASK = r"\1**********\2", r"\1****\2", r"\1-****\2"
_RULES = ((re.compile(ID_NUMBER), ID_MASK), (re.compile(MOBILE), MOBILE_MASK),
          (re.compile(LANDLINE), LANDLINE_MASK))


def mask_text(value: str | None) -> str | None:
    """Free text with ID numbers as 1101**********1234, mobiles as 138****5678, landlines as 010-****5678."""
    if not value:
        return value
    for pattern, replacement in _RULES:
        value = pattern.sub(replacement, value)
    return value


def text_for(role: str | None, value: str | None) -> str | None:
    """Free text as `role` may read it: unmasked for staff, masked for everyone else."""
    return value if sees_personal(role) else mask_text(value)


def mask_value(kind: str, value) -> str | None:
    """A personal value shown masked (a phone's first 3 and last 4 digits, an ID's first and last 4)."""
    if value is None:
        return None
    raw = str(value)
    if kind in ("phone", "id_number"):
        masked = mask_text(raw)
        return masked if masked != raw else "****"
    return "****"


# -- reading declared fields ----------------------------------------------------------------
def shown_columns(role: str | None, table: str, output: str) -> list[str]:
    """The personal columns of `table` that `output` shows to `role` (its readers, where declared)."""
    return [f.column for f in fields_of(table) if output in f.outputs and may_read(role, table, f.column)]


def shown(role: str | None, table: str, output: str, row) -> dict:
    """The personal values of `row` that `output` shows to `role`, by column."""
    return {column: getattr(row, column) for column in shown_columns(role, table, output)}


def record_read(session: Session, role: str | None, table: str, output: str, rows) -> None:
    """Audit that `role` received unmasked personal fields: one row per request, listing the ids."""
    columns = shown_columns(role, table, output)
    ids = [row.id for row in rows if any(getattr(row, c, None) is not None for c in columns)]
    if ids:
        audit.record(session, "read", table, ids[0] if len(ids) == 1 else None,
                     after={"fields": columns, "ids": ids, "output": output})
