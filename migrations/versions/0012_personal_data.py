"""personal data: the public channel of a report, its publication and public reply; masking phones and IDs in SQL

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The same three patterns and replacements as gis/core/personal.py (ID numbers first, then mobiles,
# then landlines); tests/gis/core/test_personal.py checks both mask alike. Layers and tiles select
# free text through this function, so a map never shows a phone number written into a report.
ID_NUMBER = (r"(?<![0-9])([1-9][0-9]{3})[0-9]{2}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
             r"([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
MOBILE = r"(?<![0-9])(1[3-9][0-9])[ -]?[0-9]{4}[ -]?([0-9]{4})(?![0-9])"
LANDLINE = r"(?<![0-9.])(0[1-9][0-9]{1,2})[ -]?[0-9]{3,4}[ -]?([0-9]{4})(?![0-9])"


def _quoted(value: str) -> str:
    # A SQL literal, its colons escaped: op.execute reads ":name" as a bind parameter.
    return "'" + value.replace("'", "''").replace(":", "\\:") + "'"


def upgrade() -> None:
    # Which channel a report came in by: 'staff' (the API, imports, the demo) or 'open311' (the public one).
    op.add_column("events", sa.Column("channel", sa.String(length=16), server_default="staff", nullable=False))
    op.create_check_constraint(op.f("ck_events_channel"), "events", "channel IN ('staff', 'open311')")
    # Set by a commander's publish: the description (masked) and photo of a public report become public.
    op.add_column("events", sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("events", sa.Column("public_reply", sa.Text(), nullable=True))
    op.execute(f"""
        CREATE FUNCTION gridgov_mask_personal(value text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
          SELECT regexp_replace(regexp_replace(regexp_replace(value,
            {_quoted(ID_NUMBER)}, '\\1**********\\2', 'g'),
            {_quoted(MOBILE)}, '\\1****\\2', 'g'),
            {_quoted(LANDLINE)}, '\\1-****\\2', 'g')
        $$
    """)


def downgrade() -> None:
    op.execute("DROP FUNCTION gridgov_mask_personal(text)")
    op.drop_column("events", "public_reply")
    op.drop_column("events", "published_at")
    op.drop_constraint(op.f("ck_events_channel"), "events", type_="check")
    op.drop_column("events", "channel")
