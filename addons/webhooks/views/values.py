"""A field's value on a form: which input shows it, and how the posted text becomes the value.

``Update Record`` sets a field of the rule's model to a fixed value; the input follows the
field's type (a many-to-one is chosen from the related records, a selection from its options,
a boolean is Yes/No, numbers and dates get their HTML inputs). The posted text is turned into
the JSON value the action stores and the record API accepts (an id for a many-to-one, ISO text
for a date), and the action type validates the result.

What the person reads (labels, notes, messages) is in their language; values never are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nightpos_app.i18n import translate
from nightpos_app.orm import Environment
from nightpos_app.orm.fields import FieldInfo

#: A drop-down of related records stops here; beyond it the id is typed in.
MAX_RECORD_CHOICES = 500

TRUE_TEXT = ("true", "1", "yes", "y", "on")
FALSE_TEXT = ("false", "0", "no", "n", "off")


class BadInput(ValueError):
    """Posted text that cannot be the field's value; the message is for the form."""


@dataclass
class ValueInput:
    """How to render the value of one field: an HTML input kind and, for lists, the options."""

    kind: (
        str  # "select" | "number" | "integer" | "date" | "datetime" | "text" | "textarea" | "json"
    )
    choices: list[tuple[str, str]] = field(default_factory=list)
    #: A many-to-one with too many records for a drop-down: the id is typed.
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "choices": [list(c) for c in self.choices], "note": self.note}


def value_input(env: Environment, fld: FieldInfo | None) -> ValueInput:
    """The input for a value of ``fld`` (a plain text input when no field is chosen yet)."""
    if fld is None:
        return ValueInput("text")
    if fld.type == "many2one":
        records = env[str(fld.comodel)].search([], limit=MAX_RECORD_CHOICES + 1)
        if len(records) > MAX_RECORD_CHOICES:
            return ValueInput(
                "integer",
                note=translate("Type the id of the %(label)s record.", label=translate(fld.label)),
            )
        choices = [(str(r.id), str(r.display_name)) for r in records]
        return ValueInput("select", [("", ""), *choices])
    if fld.type == "selection":
        return ValueInput(
            "select", [("", ""), *((value, translate(label)) for value, label in fld.selection)]
        )
    if fld.type == "boolean":
        return ValueInput("select", [("true", translate("Yes")), ("false", translate("No"))])
    if fld.type in ("integer", "date", "datetime", "json"):
        return ValueInput(fld.type)
    if fld.type == "float":
        return ValueInput("number")
    if fld.type == "text":
        return ValueInput("textarea")
    return ValueInput("text")


def parse_value(fld: FieldInfo | None, text: str) -> Any:
    """The stored value for posted ``text``; empty text clears the field (None)."""
    if fld is None:
        return text
    if text == "" and fld.type not in ("char", "text"):
        return None
    if fld.type in ("many2one", "integer"):
        try:
            return int(text)
        except ValueError:
            raise BadInput(translate("%(text)s is not a whole number.", text=repr(text))) from None
    if fld.type == "float":
        try:
            number = float(text)
        except ValueError:
            raise BadInput(translate("%(text)s is not a number.", text=repr(text))) from None
        # JSON keeps 2 as 2, not 2.0; the record API accepts either.
        return int(number) if number.is_integer() and "." not in text else number
    if fld.type == "boolean":
        lowered = text.strip().lower()
        if lowered in TRUE_TEXT:
            return True
        if lowered in FALSE_TEXT:
            return False
        raise BadInput(translate("%(text)s is neither yes nor no.", text=repr(text)))
    if fld.type == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise BadInput(translate("Not valid JSON: %(error)s", error=exc)) from None
    return text  # char, text, selection, date, datetime: the record API checks them


def format_value(fld: FieldInfo | None, value: Any) -> str:
    """The text an input shows for a stored value (the inverse of :func:`parse_value`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if fld is not None and fld.type == "json":
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def display_value(env: Environment, fld: FieldInfo | None, value: Any) -> str:
    """How people read a stored value: the related record's name, a selection's label."""
    if value is None:
        return translate("(empty)")
    if fld is None:
        return format_value(None, value)
    if fld.type == "many2one" and isinstance(value, int) and not isinstance(value, bool):
        record = env[str(fld.comodel)].browse(value).exists()
        return str(record.display_name) if record else translate("#%(id)s (missing)", id=value)
    if fld.type == "selection":
        labels = dict(fld.selection)
        return (
            translate(labels[value]) if isinstance(value, str) and value in labels else str(value)
        )
    if fld.type == "boolean":
        return translate("Yes") if value else translate("No")
    return format_value(fld, value)
