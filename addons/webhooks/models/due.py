"""The due-work table of timing and scheduled rules (``base_automation_due``)."""

from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder import Model

from nightpos_app.i18n import N_

#: Where a due run is: waiting for its time, being run by a scheduler, run, or failed.
DUE_STATES: dict[str, str] = {
    "pending": N_("Pending"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
}
#: The record id of a scheduled rule's one due row (it runs on no record).
SCHEDULE_RECORD = 0


class AutomationDue(Model):
    """Work a timing rule has to do at a time: one row per rule and record (a scheduled rule
    has one row, record 0, holding its next run).

    The record-trigger hooks keep it current (a record whose date changes gets the new time and
    is pending again; ``basis`` is the value the time was computed from, so each value runs
    once). The scheduler finds due rows through ``ix_base_automation_due_state_due_at`` and
    claims them (``claimed_by``/``claimed_until``: a lease that a dead scheduler's claim runs out
    of). Times are UTC.
    """

    __tablename__ = "base_automation_due"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "record_id", name="uq_base_automation_due_rule_record"),
        sa.Index("ix_base_automation_due_state_due_at", "state", "due_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    rule_id = sa.Column(
        sa.Integer, sa.ForeignKey("base_automation.id", ondelete="CASCADE"), nullable=False
    )
    record_id = sa.Column(sa.Integer, nullable=False)
    due_at = sa.Column(sa.DateTime, nullable=False)
    # The date value (or creation / update time) due_at was computed from, as ISO text.
    basis = sa.Column(sa.String(32))
    state = sa.Column(sa.String(16), nullable=False, default="pending")
    claimed_by = sa.Column(sa.String(64))
    claimed_until = sa.Column(sa.DateTime)
    last_run_at = sa.Column(sa.DateTime)
    last_error = sa.Column(sa.Text)
