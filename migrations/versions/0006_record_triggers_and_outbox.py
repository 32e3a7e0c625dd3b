"""record triggers and outgoing webhooks: rule filters, action signing secrets, the outbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:20:36

"""

import base64
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "sending",
                "delivered",
                "failed",
                "dead",
                name="webhook_delivery_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["action_id"], ["ir_actions_server.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["base_automation.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_action_id"), ["action_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index("ix_webhook_delivery_rule_id_id", ["rule_id", "id"], unique=False)
        batch_op.create_index(
            "ix_webhook_delivery_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "webhook_delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_delivery.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_delivery_attempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_delivery_attempt_delivery_id"), ["delivery_id"], unique=False
        )

    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("filter_domain", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("filter_pre_domain", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("trigger_fields", sa.Text(), nullable=True))

    with op.batch_alter_table("ir_actions_server", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(sa.Column("signing_secret", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("previous_signing_secret", sa.String(length=128), nullable=True)
        )
        batch_op.add_column(
            sa.Column("previous_signing_secret_expires_at", sa.DateTime(), nullable=True)
        )

    # Existing actions get a secret of their own each (as new ones do), then the column is
    # made NOT NULL.
    actions = sa.table("ir_actions_server", sa.column("id"), sa.column("signing_secret"))
    connection = op.get_bind()
    for (action_id,) in connection.execute(sa.select(actions.c.id)).all():
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        connection.execute(
            actions.update().where(actions.c.id == action_id).values(signing_secret=secret)
        )
    with op.batch_alter_table("ir_actions_server", schema=None) as batch_op:
        batch_op.alter_column("signing_secret", existing_type=sa.String(length=128), nullable=False)


def downgrade():
    with op.batch_alter_table("ir_actions_server", schema=None) as batch_op:
        batch_op.drop_column("previous_signing_secret_expires_at")
        batch_op.drop_column("previous_signing_secret")
        batch_op.drop_column("signing_secret")
        batch_op.drop_column("active")

    with op.batch_alter_table("base_automation", schema=None) as batch_op:
        batch_op.drop_column("trigger_fields")
        batch_op.drop_column("filter_pre_domain")
        batch_op.drop_column("filter_domain")

    with op.batch_alter_table("webhook_delivery_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_attempt_delivery_id"))

    op.drop_table("webhook_delivery_attempt")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_delivery_state_next_attempt_at")
        batch_op.drop_index("ix_webhook_delivery_rule_id_id")
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_created_at"))
        batch_op.drop_index(batch_op.f("ix_webhook_delivery_action_id"))

    op.drop_table("webhook_delivery")
