"""call replays and delivery rounds: a call answered from the idempotency store is logged as a
replay; a message counts all its attempts and those of its current round apart

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("base_automation_call", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("replayed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("round_attempt_count", sa.Integer(), server_default="0", nullable=False)
        )
    # Until now attempt_count was reset by a manual retry (it counted the round): the round's
    # count is that, and the total is the attempts the message really had.
    op.execute("UPDATE webhook_delivery SET round_attempt_count = attempt_count")
    op.execute(
        "UPDATE webhook_delivery SET attempt_count = (SELECT count(*) FROM "
        "webhook_delivery_attempt WHERE webhook_delivery_attempt.delivery_id = webhook_delivery.id)"
    )


def downgrade():
    op.execute("UPDATE webhook_delivery SET attempt_count = round_attempt_count")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_column("round_attempt_count")
    with op.batch_alter_table("base_automation_call", schema=None) as batch_op:
        batch_op.drop_column("replayed")
