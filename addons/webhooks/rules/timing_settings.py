"""Checks of the settings of Values set, the timing triggers and scheduled rules (the form and
the REST API both use them)."""

from __future__ import annotations

from typing import Any

from addons.webhooks.models import (
    DELAY_UNITS,
    INTERVAL_UNITS,
    MAX_DELAY,
    SCHEDULE_TRIGGER,
    TIMING_TRIGGERS,
)
from nightpos_app.orm.registry import ModelEntry

#: The columns each trigger uses beyond the common ones.
TIMING_COLUMNS: dict[str, tuple[str, ...]] = {
    "trg_selection_field": ("on_value_set",),
    "trg_selection_value": ("on_value_set",),
    "trg_date_field": ("on_time",),
    "trg_date_range": tuple(TIMING_TRIGGERS),
    "trg_date_range_type": tuple(TIMING_TRIGGERS),
    "interval_number": (SCHEDULE_TRIGGER,),
    "interval_type": (SCHEDULE_TRIGGER,),
}


def timing_problems(entry: ModelEntry, trigger: str, values: dict[str, Any]) -> dict[str, str]:
    """Why a rule's Values set, timing or schedule settings cannot be saved, by column name.

    ``values`` holds the columns (``trg_selection_field``, ``trg_date_range``...) as given; the
    ones the trigger does not use are not looked at.
    """
    problems: dict[str, str] = {}
    if trigger == "on_value_set":
        name = values.get("trg_selection_field") or ""
        fld = entry.fields.get(name)
        if fld is None or fld.type != "selection":
            problems["trg_selection_field"] = f"Choose a selection field of {entry.name}."
        elif values.get("trg_selection_value") not in {key for key, _label in fld.selection}:
            allowed = ", ".join(key for key, _label in fld.selection)
            problems["trg_selection_value"] = f"Choose one of {allowed}."
    if trigger == "on_time":
        fld = entry.fields.get(values.get("trg_date_field") or "")
        if fld is None or fld.type not in ("date", "datetime"):
            problems["trg_date_field"] = f"Choose a date or datetime field of {entry.name}."
    if trigger in TIMING_TRIGGERS:
        most = max_amount(values.get("trg_date_range_type"))
        # Before a date, yes; before a record's creation or last update is no time at all (it
        # ran every record at once).
        least = -most if trigger == "on_time" else 0
        if not _bounded_int(values.get("trg_date_range"), least, most):
            problems["trg_date_range"] = f"A whole number between {least} and {most}."
        if values.get("trg_date_range_type") not in DELAY_UNITS:
            problems["trg_date_range_type"] = f"Choose one of {', '.join(DELAY_UNITS)}."
    if trigger == SCHEDULE_TRIGGER:
        most = max_amount(values.get("interval_type"))
        if not _bounded_int(values.get("interval_number"), 1, most):
            problems["interval_number"] = f"A whole number between 1 and {most}."
        if values.get("interval_type") not in INTERVAL_UNITS:
            problems["interval_type"] = f"Choose one of {', '.join(INTERVAL_UNITS)}."
    return problems


#: Minutes in each unit of a delay or period (a month as its shortest, 28 days: the bound is
#: about ten years whatever the unit).
_UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": 1440, "weeks": 10080, "months": 28 * 1440}


def max_amount(unit: Any) -> int:
    """The largest delay or period in ``unit``: about ten years (:data:`MAX_DELAY` minutes).

    A bound in minutes whatever the unit once let "5,256,000 months" through: its time is past
    year 9999, and every write of the rule's model failed with a server error.
    """
    per = _UNIT_MINUTES.get(unit if isinstance(unit, str) else "", 1)
    return MAX_DELAY // per


def _bounded_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
