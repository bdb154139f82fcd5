"""closed loop: case workflow columns, moves timeline, working-hours calendar, settings, assessment summary

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
import csv
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'  # re-chained after merging main (issues #5, #6)
branch_labels = None
depends_on = None

DATA = Path(__file__).resolve().parents[2] / "data"
OPEN = "('reported', 'registered', 'dispatched', 'in_progress', 'handled')"
# The partial index's predicate as = ANY(text[]): pg_get_indexdef returns it unchanged, so a bulk
# load that drops and rebuilds indexes from their definitions recreates exactly this one.
OPEN_INDEX = "status::text = ANY (ARRAY['reported', 'registered', 'dispatched', 'in_progress', 'handled']::text[])"
STATUSES = "'reported', 'registered', 'dispatched', 'in_progress', 'handled', 'closed', 'rejected'"
MOVES = ("'report', 'register', 'reject', 'merge', 'dispatch', 'start', 'handle', 'verify', 'rework', "
         "'postpone', 'escalate', 'deescalate', 'note', 'overdue'")
LEVELS = "'grid', 'community', 'street', 'district'"
KEY = ("day", "district_id", "street_id", "community_id", "grid_id", "urgent")


def _key_columns():
    return [sa.Column('day', sa.Date(), nullable=False),
            sa.Column('district_id', sa.Integer(), nullable=False),
            sa.Column('street_id', sa.Integer(), nullable=False),
            sa.Column('community_id', sa.Integer(), nullable=False),
            sa.Column('grid_id', sa.Integer(), nullable=False),
            sa.Column('urgent', sa.Boolean(), nullable=False)]


COUNTERS_VIEW = f"""
    CREATE MATERIALIZED VIEW case_counters AS
    WITH zone AS (SELECT coalesce((SELECT value #>> '{{}}' FROM workflow_settings WHERE key = 'timezone'),
                                  'Asia/Shanghai') AS tz),
    today AS (SELECT (now() AT TIME ZONE zone.tz)::date AS d FROM zone),
    recent AS (
        SELECT coalesce(sum(due), 0)::int AS due, coalesce(sum(postponed), 0)::int AS postponed,
               coalesce(sum(closed), 0)::int AS closed, coalesce(sum(closed_on_time), 0)::int AS closed_on_time
        FROM case_stats_daily, today WHERE day > today.d - 30 AND day <= today.d)
    SELECT 1 AS id, now() AS refreshed_at,
           (SELECT count(*) FROM events WHERE status IN {OPEN})::int AS open,
           (SELECT count(*) FROM events WHERE status IN {OPEN} AND deadline_at < now())::int AS overdue,
           recent.due AS due_30d, recent.postponed AS postponed_30d, recent.closed AS closed_30d,
           recent.closed_on_time AS closed_on_time_30d
    FROM recent
"""


OPEN_FUNCTION = """
CREATE OR REPLACE FUNCTION event_is_open(status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT status NOT IN ({closed}) $$
"""


def _count_columns():
    counts = ('registered', 'due', 'postponed', 'closed', 'closed_on_time', 'dispatched', 'reworked', 'closed_all')
    return [*(sa.Column(c, sa.Integer(), server_default='0', nullable=False) for c in counts),
            sa.Column('handling_hours', postgresql.ARRAY(sa.Float()), server_default='{}', nullable=False),
            sa.Column('refreshed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)]


def upgrade() -> None:
    # -- events: a 'merged' status and the case's workflow facts ------------------------------
    op.drop_constraint(op.f('ck_events_status'), 'events', type_='check')
    op.create_check_constraint(op.f('ck_events_status'), 'events', f"status IN ({STATUSES}, 'merged')")
    op.add_column('events', sa.Column('level', sa.String(length=16), server_default='grid', nullable=False))
    op.add_column('events', sa.Column('handler_id', sa.Integer(), nullable=True))
    for name in ('registered_at', 'dispatched_at', 'handled_at', 'closed_at', 'first_deadline_at',
                 'deadline_at', 'overdue_since'):
        op.add_column('events', sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.add_column('events', sa.Column('postponed_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('events', sa.Column('rework_count', sa.Integer(), server_default='0', nullable=False))
    op.add_column('events', sa.Column('merged_into_id', sa.BigInteger(), nullable=True))
    op.add_column('events', sa.Column('handling_work_hours', sa.Float(), nullable=True))
    op.create_foreign_key(op.f('fk_events_handler_id_users'), 'events', 'users', ['handler_id'], ['id'],
                          ondelete='SET NULL')
    op.create_foreign_key(op.f('fk_events_merged_into_id_events'), 'events', 'events', ['merged_into_id'], ['id'])
    op.create_check_constraint(op.f('ck_events_level'), 'events', f"level IN ({LEVELS})")
    op.create_check_constraint(op.f('ck_events_counts_nonnegative'), 'events',
                               'postponed_count >= 0 AND rework_count >= 0')
    op.create_check_constraint(op.f('ck_events_merged_has_target'), 'events',
                               "(status = 'merged') = (merged_into_id IS NOT NULL)")
    op.create_check_constraint(op.f('ck_events_not_merged_into_itself'), 'events',
                               'merged_into_id IS NULL OR merged_into_id <> id')
    op.create_index('ix_events_open_deadline', 'events', ['deadline_at'], unique=False,
                    postgresql_where=sa.text(OPEN_INDEX))
    op.create_index('ix_events_grid_id_registered_at', 'events', ['grid_id', 'registered_at'], unique=False)
    op.create_index('ix_events_first_deadline_at', 'events', ['first_deadline_at'], unique=False)
    op.create_index('ix_events_reported_at', 'events', ['reported_at'], unique=False)
    op.create_index('ix_events_merged_into_id', 'events', ['merged_into_id'], unique=False)

    # -- the timeline --------------------------------------------------------------------------
    op.create_table('event_moves',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('move', sa.String(length=16), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=False),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('from_level', sa.String(length=16), nullable=True),
    sa.Column('to_level', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('photo_ref', sa.Text(), nullable=True),
    sa.Column('handler_id', sa.Integer(), nullable=True),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint(f"move IN ({MOVES})", name=op.f('ck_event_moves_move')),
    sa.CheckConstraint(f"from_status IN ({STATUSES}, 'merged')", name=op.f('ck_event_moves_from_status')),
    sa.CheckConstraint(f"to_status IN ({STATUSES}, 'merged')", name=op.f('ck_event_moves_to_status')),
    sa.CheckConstraint(f"from_level IS NULL OR from_level IN ({LEVELS})", name=op.f('ck_event_moves_from_level')),
    sa.CheckConstraint(f"to_level IS NULL OR to_level IN ({LEVELS})", name=op.f('ck_event_moves_to_level')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_event_moves_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_moves_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['handler_id'], ['users.id'], name=op.f('fk_event_moves_handler_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_moves'))
    )
    op.create_index('ix_event_moves_event_id_at', 'event_moves', ['event_id', 'at'], unique=False)

    # -- calendar and settings -----------------------------------------------------------------
    op.create_table('work_calendar',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('workday', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_work_calendar'))
    )
    op.create_table('workflow_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_workflow_settings'))
    )

    # -- the assessment summary ----------------------------------------------------------------
    op.create_table('case_stats_daily', *_key_columns(), *_count_columns(),
    sa.PrimaryKeyConstraint(*KEY, name=op.f('pk_case_stats_daily'))
    )
    op.create_index('ix_case_stats_daily_grid_id_day', 'case_stats_daily', ['grid_id', 'day'], unique=False)
    month_key = _key_columns()
    month_key[0] = sa.Column('month', sa.Date(), nullable=False)
    op.create_table('case_stats_monthly', *month_key, *_count_columns(),
    sa.PrimaryKeyConstraint('month', *KEY[1:], name=op.f('pk_case_stats_monthly'))
    )
    op.create_table('case_stats_dirty', *_key_columns(),
    sa.PrimaryKeyConstraint(*KEY, name=op.f('pk_case_stats_dirty'))
    )
    # Any write to registered cases — a workflow move, a bulk reassignment, an import — marks the
    # summary keys it touches (before and after) dirty, so no writer can leave the summary stale.
    # Statement-level with transition tables: one INSERT per statement, not one per row.
    op.execute(f"""
        CREATE FUNCTION case_stats_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            zone text := coalesce((SELECT value #>> '{{}}' FROM workflow_settings WHERE key = 'timezone'),
                                  'Asia/Shanghai');
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                INSERT INTO case_stats_dirty ({', '.join(KEY)})
                SELECT DISTINCT (o.registered_at AT TIME ZONE zone)::date, coalesce(o.district_id, 0),
                       coalesce(o.street_id, 0), coalesce(o.community_id, 0), coalesce(o.grid_id, 0),
                       coalesce(c.urgent, false)
                FROM old_rows o LEFT JOIN categories c ON c.code = o.category
                WHERE o.registered_at IS NOT NULL
                ORDER BY 1, 2, 3, 4, 5, 6
                ON CONFLICT DO NOTHING;
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                INSERT INTO case_stats_dirty ({', '.join(KEY)})
                SELECT DISTINCT (n.registered_at AT TIME ZONE zone)::date, coalesce(n.district_id, 0),
                       coalesce(n.street_id, 0), coalesce(n.community_id, 0), coalesce(n.grid_id, 0),
                       coalesce(c.urgent, false)
                FROM new_rows n LEFT JOIN categories c ON c.code = n.category
                WHERE n.registered_at IS NOT NULL
                ORDER BY 1, 2, 3, 4, 5, 6
                ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END $$
    """)
    op.execute("""CREATE TRIGGER events_stats_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION case_stats_mark_dirty()""")
    op.execute("""CREATE TRIGGER events_stats_update AFTER UPDATE ON events
                  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION case_stats_mark_dirty()""")
    op.execute("""CREATE TRIGGER events_stats_delete AFTER DELETE ON events REFERENCING OLD TABLE AS old_rows
                  FOR EACH STATEMENT EXECUTE FUNCTION case_stats_mark_dirty()""")

    # A merged report is part of another case: it is not open (issue #5's one definition of "open").
    # The partial index built on the function is rebuilt, since its rows were chosen by the old one.
    op.execute(OPEN_FUNCTION.format(closed="'closed', 'rejected', 'merged'"))
    op.execute("REINDEX INDEX ix_events_open_grid_id")

    # The command-center counters, read on every /map refresh: one row, refreshed by the tick
    # (CONCURRENTLY, so readers never wait), instead of counting on each page view.
    op.execute(COUNTERS_VIEW)
    op.execute("CREATE UNIQUE INDEX uq_case_counters_id ON case_counters (id)")

    # -- seed data: the holiday calendar and the default settings ------------------------------
    with (DATA / "calendar.csv").open(encoding="utf-8") as f:
        days = [{"day": r["date"], "workday": r["workday"] == "true", "note": r["note"]} for r in csv.DictReader(f)]
    op.bulk_insert(sa.table("work_calendar", sa.column("day", sa.Date), sa.column("workday"), sa.column("note")),
                   days)
    settings = json.loads((DATA / "workflow_settings.json").read_text(encoding="utf-8"))
    op.bulk_insert(sa.table("workflow_settings", sa.column("key"), sa.column("value", postgresql.JSONB)),
                   [{"key": k, "value": v} for k, v in settings.items()])


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW case_counters")
    op.execute("DROP TRIGGER events_stats_delete ON events")
    op.execute("DROP TRIGGER events_stats_update ON events")
    op.execute("DROP TRIGGER events_stats_insert ON events")
    op.execute("DROP FUNCTION case_stats_mark_dirty()")
    op.drop_table('case_stats_dirty')
    op.drop_table('case_stats_monthly')
    op.drop_index('ix_case_stats_daily_grid_id_day', table_name='case_stats_daily')
    op.drop_table('case_stats_daily')
    op.drop_table('workflow_settings')
    op.drop_table('work_calendar')
    op.drop_index('ix_event_moves_event_id_at', table_name='event_moves')
    op.drop_table('event_moves')
    op.drop_index('ix_events_merged_into_id', table_name='events')
    op.drop_index('ix_events_reported_at', table_name='events')
    op.drop_index('ix_events_first_deadline_at', table_name='events')
    op.drop_index('ix_events_grid_id_registered_at', table_name='events')
    op.drop_index('ix_events_open_deadline', table_name='events', postgresql_where=sa.text(OPEN_INDEX))
    for name in ('not_merged_into_itself', 'merged_has_target', 'counts_nonnegative', 'level'):
        op.drop_constraint(op.f(f'ck_events_{name}'), 'events', type_='check')
    op.drop_constraint(op.f('fk_events_merged_into_id_events'), 'events', type_='foreignkey')
    op.drop_constraint(op.f('fk_events_handler_id_users'), 'events', type_='foreignkey')
    for name in ('handling_work_hours', 'merged_into_id', 'rework_count', 'postponed_count', 'overdue_since',
                 'deadline_at', 'first_deadline_at', 'closed_at', 'handled_at', 'dispatched_at',
                 'registered_at', 'handler_id', 'level'):
        op.drop_column('events', name)
    op.execute(OPEN_FUNCTION.format(closed="'closed', 'rejected'"))
    op.execute("REINDEX INDEX ix_events_open_grid_id")
    # A merged report becomes a rejected one: the old schema has no way to say "joined another case".
    op.drop_constraint(op.f('ck_events_status'), 'events', type_='check')
    op.execute("UPDATE events SET status = 'rejected' WHERE status = 'merged'")
    op.create_check_constraint(op.f('ck_events_status'), 'events', f"status IN ({STATUSES})")
