"""call inbox: Respond at once, ordered rules, payloads kept for replay, call states

A rule may answer its webhook at once (202) and have a worker run the call; the call-log row
is the inbox entry (addons/webhooks/incoming/inbox.py). The call log gains the states accepted
and running, attempts, a worker's claim, the payload to run, and the call a replay replays.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:50:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_STATUS = "base_automation_call_status"
_OLD = sa.Enum(
    "ok", "error", name=_STATUS, native_enum=False, create_constraint=True, length=8
)
_NEW = sa.Enum(
    "accepted",
    "running",
    "ok",
    "error",
    name=_STATUS,
    native_enum=False,
    create_constraint=True,
    length=8,
)
_UNFINISHED = "status IN ('accepted', 'running')"


def _rule_columns() -> list[sa.Column]:
    return [
        sa.Column("respond", sa.String(16), nullable=False, server_default="after_run"),
        sa.Column("ordered", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("keep_payloads", sa.Boolean(), nullable=False, server_default=sa.false()),
    ]


def _call_columns() -> list[sa.Column]:
    return [
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("attempt_log", sa.JSON(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("run_payload", sa.Text(), nullable=True),
        sa.Column("replay_of", sa.Integer(), nullable=True),
    ]


def upgrade():
    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        for column in _rule_columns():
            batch_op.add_column(column)
    sqlite = op.get_bind().dialect.name == "sqlite"
    if not sqlite:
        # The status's CHECK constraint takes the two new states.
        op.drop_constraint(_STATUS, "base_automation_call", type_="check")
        op.create_check_constraint(
            _STATUS, "base_automation_call", "status IN ('accepted', 'running', 'ok', 'error')"
        )
    # SQLite cannot change a CHECK constraint: the table is rebuilt with the new one.
    with op.batch_alter_table(
        "base_automation_call", schema=None, recreate="always" if sqlite else "auto"
    ) as batch_op:
        for column in _call_columns():
            batch_op.add_column(column)
        if sqlite:
            batch_op.alter_column("status", existing_type=_OLD, type_=_NEW, nullable=False)
    op.create_index(
        "ix_base_automation_call_unfinished",
        "base_automation_call",
        ["rule_id", "id"],
        unique=False,
        sqlite_where=sa.text(_UNFINISHED),
        postgresql_where=sa.text(_UNFINISHED),
    )


def downgrade():
    op.drop_index("ix_base_automation_call_unfinished", table_name="base_automation_call")
    # Calls not run yet cannot be kept by the old schema.
    op.execute("DELETE FROM base_automation_call WHERE status IN ('accepted', 'running')")
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "base_automation_call", schema=None, recreate="always" if sqlite else "auto"
    ) as batch_op:
        for column in reversed(_call_columns()):
            batch_op.drop_column(column.name)
        if sqlite:
            batch_op.alter_column("status", existing_type=_NEW, type_=_OLD, nullable=False)
    if not sqlite:
        op.drop_constraint(_STATUS, "base_automation_call", type_="check")
        op.create_check_constraint(_STATUS, "base_automation_call", "status IN ('ok', 'error')")
    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        for column in reversed(_rule_columns()):
            batch_op.drop_column(column.name)
