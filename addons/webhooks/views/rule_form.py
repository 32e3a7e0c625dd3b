"""The automation rule form (name, Model, Trigger, Target Record, Log Calls...).

The form depends on who opens it and from where: the Model is a drop-down in developer mode
("Sales Order (sale.order)") and when the screens were opened without an app (labels only);
opened from an app without developer mode, it is a hidden field holding the app's model, as
the specification asks ("the rule targets the current model by default").

Labels and descriptions are lazy translations (the form classes are built once); the Trigger's
choices and the validators' messages are translated per request.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flask_appbuilder.fieldwidgets import (
    BS3TextAreaFieldWidget,
    BS3TextFieldWidget,
    Select2ManyWidget,
    Select2Widget,
)
from flask_appbuilder.forms import DynamicForm
from markupsafe import escape
from wtforms import (
    BooleanField,
    FloatField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, Regexp, ValidationError

from addons.webhooks.incoming.guards import parse_allowlist, parse_rate_limit
from addons.webhooks.models import (
    AUTH_SCHEMES,
    DEFAULT_TARGET_RECORD,
    DELAY_UNITS,
    INTERVAL_UNITS,
    RESPOND_MODES,
    SCHEDULE_TRIGGER,
    TIMING_TRIGGERS,
    TRIGGERS,
)
from addons.webhooks.rules.record_filters import filter_problems
from addons.webhooks.rules.state import get_webhooks
from addons.webhooks.rules.timing_settings import TIMING_COLUMNS, timing_problems
from addons.webhooks.settings import cpu_limit_problem
from addons.webhooks.views.naming import model_choices
from addons.webhooks.views.rule_fields import (
    PICKER_COLUMNS,
    FieldNamesField,
    field_problems,
    set_picker_choices,
)
from addons.webhooks.views.widgets import CodeAreaWidget, choices
from nightpos_app.i18n import lazy, translate
from nightpos_app.state import get_env, get_state

#: Admin code is bounded like any input (the column is TEXT).
MAX_TARGET_LENGTH = 64 * 1024


def _problem(message: str) -> ValidationError:
    """A form error, HTML-escaped here: FAB shows field errors through ``_()``, which Flask-Babel
    marks safe without escaping, and these messages quote what the person typed."""
    return ValidationError(str(escape(message)))


def no_nul(_form: Any, field: Any) -> None:
    """PostgreSQL cannot store NUL characters; say so on the form rather than fail the save."""
    if isinstance(field.data, str) and "\x00" in field.data:
        raise ValidationError(translate("Text cannot contain NUL characters."))


def registered_model(_form: Any, field: Any) -> None:
    """The Model must be a registered technical name (a hidden field can be tampered with)."""
    if field.data not in get_state().registry:
        if not field.data:
            raise _problem(translate("Choose a model."))
        raise _problem(translate("Unknown model %(model)s.", model=repr(field.data)))


def compiles_as_expression(_form: Any, field: Any) -> None:
    """The Target Record must compile in the sandbox, or the rule could never run."""
    problem = get_webhooks().sandbox.check(field.data or "", "eval")
    if problem:
        raise _problem(problem)


def valid_allowlist(_form: Any, field: Any) -> None:
    """Every line of the IP allowlist must be an address or a CIDR network."""
    try:
        parse_allowlist(field.data or "")
    except ValueError as exc:
        raise _problem(translate("Allowed IP Addresses: %(problem)s", problem=str(exc))) from None


def valid_rate_limit(_form: Any, field: Any) -> None:
    """The rate limit must read as a number of calls per period (``60/minute``)."""
    if (field.data or "").strip():
        try:
            parse_rate_limit(field.data)
        except ValueError as exc:
            raise _problem(str(exc)) from None


def valid_cpu_limit(_form: Any, field: Any) -> None:
    """The CPU Time Limit must be above 0 and at most the ceiling the server sets."""
    problem = cpu_limit_problem(field.data)
    if problem:
        raise _problem(problem)


def header_name_if_used(form: Any, field: Any) -> None:
    """The Secret Header Name is needed only when a shared secret header is the
    authentication; otherwise it may be empty (the form hides it)."""
    if form.auth_scheme.data == "header" and not (field.data or "").strip():
        raise ValidationError(translate("Give the name of the header that carries the secret."))


#: An HTTP header name (RFC 9110 token characters).
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"


class RuleForm(DynamicForm):
    """An automation rule, with the Model as a drop-down."""

    name = StringField(
        lazy("Name"),
        validators=[InputRequired(), Length(max=256), no_nul],
        description=lazy("Say what the rule is for, e.g. “Set orders to USD”."),
        widget=BS3TextFieldWidget(),
    )
    model = SelectField(
        lazy("Model"), validators=[registered_model], widget=Select2Widget(), validate_choice=False
    )
    trigger = SelectField(
        lazy("Trigger"),
        # Translated per request by rule_form(); these are the fallback.
        choices=choices(list(TRIGGERS.items())),
        default="on_webhook",
        validators=[InputRequired()],
        widget=Select2Widget(),
    )
    active = BooleanField(lazy("Active"), default=True)
    log_calls = BooleanField(
        lazy("Log Calls"),
        description=lazy("Keep a history of the requests made to the URL, for troubleshooting."),
    )
    # Respond at once (addons/webhooks/incoming/inbox.py); docs/webhooks-inbox.md says when.
    respond = SelectField(
        lazy("Respond"),
        choices=choices(list(RESPOND_MODES.items())),
        default="after_run",
        # Not required: a form posted without it (a script) keeps today's behaviour.
        validators=[Optional()],
        description=lazy(
            "After running: the caller waits for the rule and gets its outcome. At once: the "
            "call is checked, kept and answered 202 at once; a worker runs it and retries it "
            "if the database or a runner fails."
        ),
        widget=Select2Widget(),
    )
    ordered = BooleanField(
        lazy("One Call at a Time, in Order"),
        description=lazy(
            "Respond at once: run this rule's calls one after the other, in the order they "
            "arrived (for senders whose events must apply in sequence)."
        ),
    )
    keep_payloads = BooleanField(
        lazy("Keep Payloads for Replay"),
        description=lazy(
            "The call log keeps each payload whole (masked keys stay masked), so that calls "
            "can be replayed from the Logs."
        ),
    )
    target_record = TextAreaField(
        lazy("Target Record"),
        default=DEFAULT_TARGET_RECORD,
        validators=[InputRequired(), Length(max=MAX_TARGET_LENGTH), no_nul, compiles_as_expression],
        description=lazy(
            "Python expression that finds the record(s) to act on, from payload, model and env. "
            "The default reads _model and _id, as another NightPOS sends them."
        ),
        widget=CodeAreaWidget(rows=2),
    )
    cpu_seconds = FloatField(
        lazy("CPU Time Limit (s)"),
        validators=[Optional(), valid_cpu_limit],
        description=lazy("CPU seconds the rule's code may use per step. Empty: the default."),
        widget=BS3TextFieldWidget(),
    )
    description = TextAreaField(
        lazy("Description"),
        validators=[Optional(), Length(max=MAX_TARGET_LENGTH), no_nul],
        widget=BS3TextAreaFieldWidget(),
    )
    # Request guards (addons/webhooks/incoming/guards.py), all off by default.
    auth_scheme = SelectField(
        lazy("Request Authentication"),
        choices=choices(list(AUTH_SCHEMES.items())),
        default="none",
        validators=[InputRequired()],
        description=lazy(
            "Besides the URL, callers must prove they know the rule's signing secret."
        ),
        widget=Select2Widget(),
    )
    auth_header = StringField(
        lazy("Secret Header Name"),
        default="X-Webhook-Token",
        validators=[header_name_if_used, Optional(), Length(max=64), Regexp(HEADER_NAME)],
        description=lazy("The header that carries the secret."),
        widget=BS3TextFieldWidget(),
    )
    ip_allowlist = TextAreaField(
        lazy("Allowed IP Addresses"),
        validators=[Optional(), Length(max=MAX_TARGET_LENGTH), no_nul, valid_allowlist],
        description=lazy("One address or CIDR network a line (IPv4 or IPv6). Empty: any address."),
        widget=BS3TextAreaFieldWidget(),
    )
    rate_limit = StringField(
        lazy("Rate Limit"),
        validators=[Optional(), Length(max=64), no_nul, valid_rate_limit],
        description=lazy("Calls allowed per period, e.g. 60/minute. Empty: no limit."),
        widget=BS3TextFieldWidget(),
    )
    idempotency = BooleanField(
        lazy("Idempotency Keys"),
        description=lazy(
            "A request repeating an Idempotency-Key header within 24 hours gets the first "
            "answer again, without running the rule."
        ),
    )
    # Record triggers (addons/webhooks/rules/triggers.py); checked together in validate().
    filter_domain = TextAreaField(
        lazy("Apply On"),
        validators=[Optional(), Length(max=MAX_TARGET_LENGTH), no_nul],
        description=lazy(
            "Record triggers: only records matching this domain, e.g. [('state', '=', 'sale')]. "
            "Empty: every record."
        ),
        widget=CodeAreaWidget(rows=2),
    )
    filter_pre_domain = TextAreaField(
        lazy("Before Update Domain"),
        validators=[Optional(), Length(max=MAX_TARGET_LENGTH), no_nul],
        description=lazy("On update: only records that matched this domain before the change."),
        widget=CodeAreaWidget(rows=2),
    )
    trigger_fields = FieldNamesField(
        lazy("Trigger Fields"),
        validators=[Optional(), Length(max=MAX_TARGET_LENGTH), no_nul],
        description=lazy("On update: only when one of these fields changes. Empty: any field."),
        widget=Select2ManyWidget(),
    )

    # Values set and the timing triggers (addons/webhooks/rules/due.py); checked in validate().
    # The pickers' choices are the chosen model's fields (views/rule_fields.py).
    trg_selection_field = SelectField(
        lazy("Field"),
        validators=[Optional(), Length(max=64), no_nul],
        description=lazy("Values set: the selection field, e.g. Status."),
        widget=Select2Widget(),
        validate_choice=False,
    )
    trg_selection_value = SelectField(
        lazy("Value"),
        validators=[Optional(), Length(max=64), no_nul],
        description=lazy("The rule runs when the field is set to this value."),
        widget=Select2Widget(),
        validate_choice=False,
    )
    trg_date_field = SelectField(
        lazy("Date Field"),
        validators=[Optional(), Length(max=64), no_nul],
        description=lazy("A date or datetime field of the model, e.g. Order Date."),
        widget=Select2Widget(),
        validate_choice=False,
    )
    trg_date_range = IntegerField(
        lazy("Delay"),
        default=0,
        validators=[Optional()],
        description=lazy(
            "How long after the date (or the creation, or the last update) the rule runs; "
            "negative: before the date."
        ),
        widget=BS3TextFieldWidget(),
    )
    trg_date_range_type = SelectField(
        lazy("Delay Unit"),
        choices=choices(list(DELAY_UNITS.items())),
        default="days",
        validators=[Optional()],
        widget=Select2Widget(),
    )
    interval_number = IntegerField(
        lazy("Run Every"),
        default=1,
        validators=[Optional()],
        description=lazy("Scheduled: the rule runs once every this many periods."),
        widget=BS3TextFieldWidget(),
    )
    interval_type = SelectField(
        lazy("Period Unit"),
        choices=choices(list(INTERVAL_UNITS.items())),
        default="days",
        validators=[Optional()],
        widget=Select2Widget(),
    )

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields one by one, then the record filters and timing settings against the
        chosen Model.

        The fields the chosen trigger does not use are blanked first: the form hid them, and a
        value left from another trigger must not block the save.
        """
        trigger = self.trigger.data
        for column in RECORD_FILTER_COLUMNS:
            if not applies(column, trigger):
                self[column].data = ""
        for column in TIMING_COLUMNS:
            if not applies(column, trigger):
                self[column].data = None
                self[column].raw_data = []
        if trigger == SCHEDULE_TRIGGER and (self.target_record.data or "").strip() in (
            "",
            DEFAULT_TARGET_RECORD,
        ):
            # A scheduled rule has no payload: no record unless its Target Record finds some.
            self.target_record.data = "model"
        valid = super().validate(extra_validators)
        registry = get_state().registry
        if self.model.data not in registry:
            return valid
        problems = filter_problems(
            registry[self.model.data],
            get_env(),
            self.trigger.data,
            self.filter_domain.data,
            self.filter_pre_domain.data,
            self.trigger_fields.data,
        )
        problems.update(
            timing_problems(
                registry[self.model.data],
                trigger,
                {column: self[column].data for column in TIMING_COLUMNS},
            )
        )
        # The pickers' own checks say it in the user's language; they replace the English
        # ones of the same columns (rules/ words them for the REST API).
        problems.update(
            field_problems(
                registry[self.model.data],
                trigger,
                {column: self[column].data for column in PICKER_COLUMNS},
            )
        )
        for name, problem in problems.items():
            self[name].errors = [*self[name].errors, str(escape(problem))]
        return valid and not problems


class HiddenModelRuleForm(RuleForm):
    """The same form with the Model fixed by the app the screens were opened from."""

    model = HiddenField(lazy("Model"), validators=[registered_model])


#: The form's fields in screen order (FAB's form widget renders these rows).
FORM_COLUMNS = [
    "name",
    "model",
    "trigger",
    "active",
    "log_calls",
    "respond",
    "ordered",
    "keep_payloads",
    "target_record",
    "cpu_seconds",
    "description",
    "auth_scheme",
    "auth_header",
    "ip_allowlist",
    "rate_limit",
    "idempotency",
    "filter_domain",
    "filter_pre_domain",
    "trigger_fields",
    *TIMING_COLUMNS,
]
#: The fields only record triggers use (the Webhooks screens leave them out).
RECORD_FILTER_COLUMNS = ["filter_domain", "filter_pre_domain", "trigger_fields"]

_RECORD_TRIGGERS = (
    "on_create",
    "on_write",
    "on_create_or_write",
    "on_unlink",
    "on_value_set",
    *TIMING_TRIGGERS,
)
_UPDATE_TRIGGERS = ("on_write", "on_create_or_write")
#: The fields that only some triggers use, and which: the form shows a field only for its
#: triggers (the others are hidden, and blanked on save), and the rule's page lists it only
#: for them. Fields not listed are every rule's.
FIELD_TRIGGERS: dict[str, tuple[str, ...]] = {
    "target_record": ("on_webhook", SCHEDULE_TRIGGER),
    "log_calls": ("on_webhook",),
    "respond": ("on_webhook",),
    "ordered": ("on_webhook",),
    "keep_payloads": ("on_webhook",),
    "auth_scheme": ("on_webhook",),
    "auth_header": ("on_webhook",),
    "ip_allowlist": ("on_webhook",),
    "rate_limit": ("on_webhook",),
    "idempotency": ("on_webhook",),
    "filter_domain": _RECORD_TRIGGERS,
    "filter_pre_domain": _UPDATE_TRIGGERS,
    "trigger_fields": _UPDATE_TRIGGERS,
    **TIMING_COLUMNS,
}
#: The request guards: rarely used, so the form keeps them in a collapsed section.
GUARD_COLUMNS = ["auth_scheme", "auth_header", "ip_allowlist", "rate_limit", "idempotency"]


def applies(column: str, trigger: str | None) -> bool:
    """Whether a rule triggered ``trigger`` uses ``column``."""
    return column not in FIELD_TRIGGERS or trigger in FIELD_TRIGGERS[column]


def rule_form(
    *,
    show_model: bool,
    obj: Any = None,
    model: str | None = None,
    triggers: Collection[str] | None = None,
) -> RuleForm:
    """A bound rule form for this request (posted data, else ``obj``, else defaults);
    ``triggers`` limits the Trigger's choices (default: all)."""
    cls = RuleForm if show_model else HiddenModelRuleForm
    defaults = {"model": model} if model and obj is None else {}
    form = cls(obj=obj, **defaults)
    form.trigger.choices = choices(
        [
            (key, translate(label))
            for key, label in TRIGGERS.items()
            if triggers is None or key in triggers
        ]
    )
    form.auth_scheme.choices = choices(
        [(key, translate(label)) for key, label in AUTH_SCHEMES.items()]
    )
    form.respond.choices = choices(
        [(key, translate(label)) for key, label in RESPOND_MODES.items()]
    )
    form.trg_date_range_type.choices = choices(
        [(key, translate(label)) for key, label in DELAY_UNITS.items()]
    )
    form.interval_type.choices = choices(
        [(key, translate(label)) for key, label in INTERVAL_UNITS.items()]
    )
    if show_model:
        form.model.choices = choices([("", ""), *model_choices()])
    set_picker_choices(form)
    return form
