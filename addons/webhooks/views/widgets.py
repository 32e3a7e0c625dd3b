"""Form widgets the webhook screens add to FAB's Bootstrap 3 ones."""

from __future__ import annotations

from typing import Any

from wtforms import Field
from wtforms.widgets import TextArea

try:  # WTForms >= 3.3
    from wtforms.fields.choices import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None  # type: ignore[assignment,misc]


def choices(pairs: list[tuple[str, str]]) -> list[Any]:
    """Choices for a ``SelectField``: WTForms 3.3 deprecates (value, label) tuples in favour
    of ``SelectChoice``, which the older WTForms that pyproject allows does not have."""
    if SelectChoice is None:
        return pairs
    return [SelectChoice(value, label) for value, label in pairs]


class CodeAreaWidget(TextArea):
    """A Bootstrap textarea for Python source: monospace, no spell check, tab-friendly size."""

    def __init__(self, rows: int = 6) -> None:
        self.rows = rows

    def __call__(self, field: Field, **kwargs: Any) -> Any:
        kwargs.setdefault("rows", self.rows)
        kwargs["class"] = "form-control webhook-code"
        kwargs.setdefault("spellcheck", "false")
        kwargs.setdefault("style", "font-family: monospace")
        return super().__call__(field, **kwargs)
