"""rule cpu budget and secret grace: a rule's CPU Time Limit, the previous secret's grace period

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    # All nullable, no default: existing rules keep the global CPU default and no grace period.
    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("previous_secret_digest", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("previous_secret_expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("cpu_seconds", sa.Float(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_base_automation_previous_secret_digest"),
            ["previous_secret_digest"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_base_automation_previous_secret_digest"))
        batch_op.drop_column("cpu_seconds")
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret_digest")
