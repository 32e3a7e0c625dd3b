"""timing triggers and scheduled actions: the rules' timing settings and the due-work table

Rules gain Values set (a selection field and its value), the timing triggers' date field and
delay, and a scheduled rule's period. ``base_automation_due`` holds the work timing rules have
to do at a time, one row per rule and record, found by the scheduler through its
(state, due_at) index (addons/webhooks/timing).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_RULE_COLUMNS = (
    ("trg_selection_field", sa.String(length=64)),
    ("trg_selection_value", sa.String(length=64)),
    ("trg_date_field", sa.String(length=64)),
    ("trg_date_range", sa.Integer()),
    ("trg_date_range_type", sa.String(length=16)),
    ("interval_number", sa.Integer()),
    ("interval_type", sa.String(length=16)),
)


def upgrade():
    with op.batch_alter_table("base_automation") as batch:
        for name, kind in _RULE_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "base_automation_due",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("basis", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["rule_id"], ["base_automation.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_id", "record_id", name="uq_base_automation_due_rule_record"),
    )
    op.create_index(
        "ix_base_automation_due_state_due_at", "base_automation_due", ["state", "due_at"]
    )


def downgrade():
    op.drop_index("ix_base_automation_due_state_due_at", table_name="base_automation_due")
    op.drop_table("base_automation_due")
    with op.batch_alter_table("base_automation") as batch:
        for name, _kind in reversed(_RULE_COLUMNS):
            batch.drop_column(name)
