"""partial rule indexes: record rules by trigger, previous secrets by digest

Both columns are nearly always the same value ("on_webhook", NULL): full indexes on them make
SQLite's planner scan the table once ANALYZE has counted the rows. Partial indexes hold only
the rows the look-ups want.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 11:35:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NOT_WEBHOOK = sa.text("\"trigger\" <> 'on_webhook'")
HAS_PREVIOUS = sa.text("previous_secret_digest IS NOT NULL")


def upgrade():
    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        batch_op.drop_index("ix_base_automation_previous_secret_digest")
        batch_op.create_index(
            "ix_base_automation_previous_secret_digest",
            ["previous_secret_digest"],
            unique=False,
            sqlite_where=HAS_PREVIOUS,
            postgresql_where=HAS_PREVIOUS,
        )
        batch_op.create_index(
            "ix_base_automation_record_trigger",
            ["trigger"],
            unique=False,
            sqlite_where=NOT_WEBHOOK,
            postgresql_where=NOT_WEBHOOK,
        )


def downgrade():
    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        batch_op.drop_index("ix_base_automation_record_trigger")
        batch_op.drop_index("ix_base_automation_previous_secret_digest")
        batch_op.create_index(
            "ix_base_automation_previous_secret_digest", ["previous_secret_digest"], unique=False
        )
