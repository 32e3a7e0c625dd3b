"""rule trigger index: record rules are looked up by trigger in every transaction

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 11:35:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_base_automation_trigger"), ["trigger"], unique=False
        )


def downgrade():
    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_base_automation_trigger"))
