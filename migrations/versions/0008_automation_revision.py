"""automation revision: a counter bumped by every change of rules and actions

Webhook calls and record triggers cache what they read from rules per process, keyed by this
counter (addons/webhooks/rules/revision.py).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 13:35:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "base_automation_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "revision": 0}])


def downgrade():
    op.drop_table("base_automation_revision")
