"""Automation rule screens: Studio → Webhooks, Studio → Automation Rules, and the rule's page.

Both menus show ``base.automation``; Webhooks only the rules triggered ``On webhook`` (and its
``New`` starts with that trigger). Opened from an app (``?model=sale.order``, the Sales menu's
Webhooks entry), the list holds that model's rules and ``New`` targets that model.

The rule's page (``/webhookview/show/<id>``) shows the URL with a copy button (to those who may
read secrets), ``Rotate Secret``, the ``Logs`` button with the number of calls, the actions
under ``Actions To Do`` with ``Add an action``, a ready-to-copy ``curl`` command, and the dry
run: a pasted payload run through the same code as a real call, everything rolled back.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_appbuilder.widgets import ListWidget
from markupsafe import escape
from werkzeug.wrappers import Response

from addons.webhooks.checks import actions_not_suiting
from addons.webhooks.incoming.urls import curl_command, sample_payload, webhook_url
from addons.webhooks.models import RESPOND_MODES, ROTATION_GRACE, SCHEDULE_TRIGGER, AutomationRule
from addons.webhooks.rules.code_rights import (
    CREATE_RULE_REFUSED,
)
from addons.webhooks.rules.engine import run_rule
from addons.webhooks.rules.record_dry_run import dry_run_on_record, record_choices
from addons.webhooks.rules.timing_settings import TIMING_COLUMNS
from addons.webhooks.security import can_read_secrets, can_write_code
from addons.webhooks.settings import setting
from addons.webhooks.views.naming import CONTEXT_ARG, context_model, model_choices, model_label
from addons.webhooks.views.rule_code_fields import (
    code_unchanged,
    keep_code_fields,
    lock_code_fields,
    with_visible_errors,
)
from addons.webhooks.views.rule_columns import (
    FORMATTERS,
    LABELS,
    LIST_COLUMNS,
    SHOW_COLUMNS,
    trigger_label,
)
from addons.webhooks.views.rule_details import rule_details
from addons.webhooks.views.rule_fields import pickers_by_model
from addons.webhooks.views.rule_form import (
    FIELD_TRIGGERS,
    FORM_COLUMNS,
    GUARD_COLUMNS,
    RECORD_FILTER_COLUMNS,
    RuleForm,
    rule_form,
)
from addons.webhooks.views.rule_page import (
    DryRunReport,
    action_rows,
    call_count,
    dry_run_report,
    read_payload,
)
from addons.webhooks.views.timing_page import TimingRoutes, is_timed, timing_panel
from nightpos_app.crud import RecordInterface, RecordModelView
from nightpos_app.devmode import developer_mode
from nightpos_app.digits import ascii_int
from nightpos_app.extensions import db
from nightpos_app.i18n import lazy, translate
from nightpos_app.state import get_state


def _hidden(form: RuleForm, left_out: list[str]) -> list[str]:
    """Hidden fields get no row of their own (``hidden_tag`` writes them); ``left_out`` are
    fields this screen does not show at all."""
    return [f.name for f in form if f.type == "HiddenField"] + left_out


class RuleListWidget(ListWidget):
    """FAB's list with a visible ``New`` button that keeps the app's model."""

    template = "webhooks/rule_list_widget.html"


class RuleViewBase(TimingRoutes, RecordModelView):
    """The screens of automation rules; subclasses choose which rules and what ``New`` makes."""

    datamodel = RecordInterface(AutomationRule)
    list_widget = RuleListWidget
    show_template = "webhooks/rule_show.html"
    add_template = "webhooks/rule_form.html"
    edit_template = "webhooks/rule_form.html"
    # FAB would build these from the columns at start-up; the form is built per request.
    add_form = RuleForm
    edit_form = RuleForm
    add_columns = FORM_COLUMNS
    edit_columns = FORM_COLUMNS
    list_columns = LIST_COLUMNS
    show_columns = SHOW_COLUMNS
    # Never the secret or its digest: a search on them would tell the secret bit by bit.
    search_columns = ["name", "model", "trigger", "active", "log_calls", "description"]
    order_columns = ["name", "model", "trigger", "active", "log_calls"]
    label_columns = LABELS
    formatters_columns = FORMATTERS
    base_order = ("name", "asc")
    page_size = 50

    #: The title of the list, what a record is called, the title of ``New``, the trigger ``New``
    #: starts with. The titles are lazy: translated when a page shows them.
    list_title = lazy("Automation Rules")
    record_title = lazy("Automation Rule")
    new_title = lazy("New Automation Rule")
    default_trigger = "on_webhook"
    #: The triggers ``New`` and ``Edit`` offer (None: all of them), and the form fields this
    #: screen leaves out.
    triggers: Collection[str] | None = None
    left_out_columns: list[str] = []

    # ------------------------------------------------------------------ list

    def _context_title(self, title: str) -> str:
        model = context_model()
        return f"{title} — {model_label(model)}" if model else title

    def _get_list_widget(self, filters: Any, **kwargs: Any) -> dict[str, Any]:
        model = context_model()
        if model:
            # A copy: FAB keeps one Filters object per view, shared by every request.
            filters = filters.copy()
            filters.add_filter("model", FilterEqual, model)
        new_url = url_for(f"{self.endpoint}.add", **({CONTEXT_ARG: model} if model else {}))
        return super()._get_list_widget(filters, new_url=new_url, **kwargs)

    def list_page_title(self) -> str:
        return self._context_title(str(self.list_title))

    # ---------------------------------------------------------- add and edit

    def _show_model_choice(self, model: str | None) -> bool:
        """The Model is a choice in developer mode, or when no app decides it."""
        return developer_mode() or model is None

    def _new_rule_form(self) -> RuleForm:
        model = context_model()
        form = rule_form(
            show_model=self._show_model_choice(model), model=model, triggers=self.triggers
        )
        if request.method == "GET":
            form.trigger.data = self.default_trigger
        return form

    def _add(self) -> dict[str, Any] | None:
        form = self._new_rule_form()
        if not can_write_code():
            # Every new rule chooses a Model and a Trigger: writing code.
            lock_code_fields(form)
            if request.method == "POST":
                form.validate()
                refused = translate(CREATE_RULE_REFUSED)
                form.trigger.errors = [*form.trigger.errors, refused]
            return self._get_add_widget(
                form=form, exclude_cols=_hidden(form, self.left_out_columns)
            )
        if request.method == "POST" and form.validate():
            rule = AutomationRule()
            self._fill(rule, form)
            if self._save(rule, adding=True):
                g.webhooks_saved_rule = rule.id
                return None
        form = with_visible_errors(form, self.triggers)
        return self._get_add_widget(form=form, exclude_cols=_hidden(form, self.left_out_columns))

    def _edit(self, pk: Any) -> dict[str, Any] | None:
        rule = self.datamodel.get(pk, self._base_filters)
        if rule is None:
            abort(404)
        registered = rule.model in get_state().registry
        show_model = developer_mode() or not registered
        if request.method == "POST":
            form = rule_form(show_model=show_model, triggers=self._edit_triggers(rule))
            if not can_write_code():
                keep_code_fields(form, rule)
            if form.validate() and code_unchanged(form, rule) and self._actions_fit(rule, form):
                self._fill(rule, form)
                if self._save(rule, adding=False):
                    g.webhooks_saved_rule = rule.id
                    return None
        else:
            form = rule_form(show_model=show_model, obj=rule, triggers=self._edit_triggers(rule))
        if not can_write_code():
            lock_code_fields(form)
        form = with_visible_errors(form, self._edit_triggers(rule))
        return self._get_edit_widget(form=form, exclude_cols=_hidden(form, self.left_out_columns))

    def _edit_triggers(self, rule: AutomationRule) -> Collection[str] | None:
        """The screen's triggers, and always the rule's own (it stays a valid choice)."""
        return None if self.triggers is None else {*self.triggers, rule.trigger}

    @staticmethod
    def _fill(rule: AutomationRule, form: RuleForm) -> None:
        for name in FORM_COLUMNS:
            setattr(rule, name, form[name].data)
        rule.description = rule.description or None
        if rule.respond not in RESPOND_MODES:
            rule.respond = "after_run"
        # Not asked for unless a shared secret header is used: keep the column's default.
        rule.auth_header = (rule.auth_header or "").strip() or "X-Webhook-Token"
        rule.ip_allowlist = (rule.ip_allowlist or "").strip() or None
        rule.rate_limit = (rule.rate_limit or "").strip() or None
        for name in RECORD_FILTER_COLUMNS:
            setattr(rule, name, (getattr(rule, name) or "").strip() or None)
        for name in TIMING_COLUMNS:
            value = getattr(rule, name)
            setattr(rule, name, (value.strip() or None) if isinstance(value, str) else value)

    def _save(self, rule: AutomationRule, *, adding: bool) -> bool:
        try:
            if adding:
                self.datamodel.add(rule)
            else:
                self.datamodel.edit(rule)
        except Exception as exc:  # RecordInterface words database refusals for people
            flash(str(exc), "danger")
            return False
        g.nightpos_saved_record = rule
        flash(self.add_row_message if adding else self.edit_row_message, "success")
        return True

    @staticmethod
    def _actions_fit(rule: AutomationRule, form: RuleForm) -> bool:
        """A new Model must suit the rule's actions (their fields belong to the old one)."""
        if form.model.data == rule.model:
            return True
        problems = actions_not_suiting(rule.actions, get_state().registry[form.model.data])
        # Escaped: FAB shows field errors through _(), which marks them safe.
        form.model.errors = [str(escape(problem)) for problem in problems]
        return not problems

    def _after_save(self) -> Response:
        rule_id = g.get("webhooks_saved_rule")
        if rule_id is None:
            return redirect(self.get_redirect())
        return redirect(url_for(f"{self.endpoint}.show", pk=rule_id))

    def post_add_redirect(self) -> Response:
        return self._after_save()

    def post_edit_redirect(self) -> Response:
        return self._after_save()

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self) -> str | Response:
        widgets = self._add()
        if widgets is None:
            return self.post_add_redirect()
        title = self._context_title(str(self.new_title))
        return self.render_template(
            self.add_template, title=title, widgets=widgets, **self._form_context(widgets)
        )

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk: Any) -> str | Response:
        widgets = self._edit(pk)
        if widgets is None:
            return self.post_edit_redirect()
        return self.render_template(
            self.edit_template,
            title=str(self.edit_title),
            widgets=widgets,
            **self._form_context(widgets),
        )

    @staticmethod
    def _form_context(widgets: dict[str, Any]) -> dict[str, Any]:
        """What the rule form needs to follow the chosen trigger and model (webhooks.js): the
        field pickers' choices of each model the form offers."""
        form = (widgets.get("add") or widgets["edit"]).template_args["form"]
        offered = (
            [name for name, _label in model_choices()] if form.model.type != "HiddenField" else []
        )
        return {
            "field_triggers": {k: list(v) for k, v in FIELD_TRIGGERS.items()},
            "guard_columns": GUARD_COLUMNS,
            "model_fields": pickers_by_model([*offered, form.model.data or ""]),
        }

    # --------------------------------------------------------- the rule page

    def _get_rule(self, pk: Any) -> AutomationRule:
        rule = self.datamodel.get(pk, self._base_filters)
        if rule is None:
            abort(404)
        return rule

    def _render_page(
        self,
        rule: AutomationRule,
        *,
        payload_text: str | None = None,
        report: DryRunReport | None = None,
        payload_problem: str | None = None,
        record_id: int | None = None,
    ) -> str:
        is_webhook = rule.trigger == "on_webhook"
        sample = sample_payload(rule)
        secrets = can_read_secrets()
        url = webhook_url(rule) if secrets and is_webhook else None
        details, guards = rule_details(rule, self.formatters_columns, self.label_columns)
        return self.render_template(
            self.show_template,
            pk=rule.id,
            title=f"{self.record_title}: {rule.name}",
            rule=rule,
            rule_model_label=model_label(rule.model),
            is_webhook=is_webhook,
            trigger_label=trigger_label(rule.trigger),
            details=details,
            guards=guards,
            can_read_secrets=secrets,
            webhook_url=url,
            curl=curl_command(url, sample) if url else None,
            sample_payload=sample,
            records=[] if is_webhook else record_choices(rule.model),
            timing=timing_panel(rule),
            is_timed=is_timed(rule),
            record_id=record_id,
            actions=action_rows(rule),
            call_count=call_count(rule.id),
            payload_text=payload_text,
            report=report,
            payload_problem=payload_problem,
            endpoint=self.endpoint,
        )

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk: Any) -> str:
        rule = self._get_rule(pk)
        self.update_redirect()
        return self._render_page(rule)

    @expose("/dry_run/<pk>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def dry_run(self, pk: Any) -> str:
        """Run a pasted payload through the rule, as a real call would, and roll it all back.

        Admin code runs here, so it takes the right to edit the rule, not just to see it.
        """
        rule = self._get_rule(pk)
        text = request.form.get("payload", "")
        payload, problem = read_payload(text, setting("WEBHOOK_MAX_BODY_BYTES"))
        report = None
        if problem is None:
            report = dry_run_report(run_rule(rule, payload, dry_run=True))
            # The run rolled back; the page reads the rule again from the database.
            rule = self._get_rule(pk)
        return self._render_page(rule, payload_text=text, report=report, payload_problem=problem)

    @expose("/record_test/<pk>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def record_test(self, pk: Any) -> str:
        """A record-trigger rule's test: its actions on the chosen record, as if it were saved,
        everything rolled back. Admin code runs: the right to edit the rule, as the dry run."""
        rule = self._get_rule(pk)
        if rule.trigger == "on_webhook":
            abort(404)
        if rule.trigger == SCHEDULE_TRIGGER:  # no record: the actions as the schedule runs them
            report = dry_run_report(run_rule(rule, {}, dry_run=True, target_optional=True))
            return self._render_page(self._get_rule(pk), report=report)
        record_id = ascii_int(request.form.get("record_id", ""), max_digits=18)
        if record_id is None:
            return self._render_page(rule, payload_problem=translate("Choose a record."))
        report = dry_run_report(dry_run_on_record(rule, record_id))
        rule = self._get_rule(pk)  # read again after the rollback
        return self._render_page(rule, report=report, record_id=record_id)

    @expose("/rotate_secret/<pk>", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def rotate_secret(self, pk: Any) -> str | Response:
        """GET asks for confirmation; POST (with its CSRF token) replaces the secret."""
        rule = self._get_rule(pk)
        if request.method == "GET":
            return self.render_template(
                "webhooks/rotate_confirm.html",
                title=translate("Rotate Secret") + f": {rule.name}",
                rule=rule,
                endpoint=self.endpoint,
                graces=[(key, translate(label)) for key, (label, _) in ROTATION_GRACE.items()],
            )
        grace_key = request.form.get("grace", "none")
        if grace_key not in ROTATION_GRACE:
            abort(400)
        rule.rotate_secret(ROTATION_GRACE[grace_key][1])
        db.session.commit()
        if rule.previous_secret_expires_at is None:
            message = translate(
                "The secret was rotated: the old URL no longer works. "
                "Give the new URL to the systems that call this webhook."
            )
        else:
            message = translate(
                "The secret was rotated. The previous URL keeps working until %(until)s UTC: "
                "give the new URL to the systems that call this webhook before then.",
                until=f"{rule.previous_secret_expires_at:%Y-%m-%d %H:%M}",
            )
        flash(message, "success")
        return redirect(url_for(f"{self.endpoint}.show", pk=rule.id))


class WebhookView(RuleViewBase):
    """Studio → Webhooks: the rules triggered ``On webhook``."""

    base_filters = [["trigger", FilterEqual, "on_webhook"]]
    triggers = ("on_webhook",)
    left_out_columns = [*RECORD_FILTER_COLUMNS, *TIMING_COLUMNS]
    list_title = lazy("Webhooks")
    record_title = lazy("Webhook")
    new_title = lazy("New Webhook")
    edit_title = lazy("Edit Webhook")


class AutomationRuleView(RuleViewBase):
    """Studio → Automation Rules: every rule, whatever its trigger."""

    list_title = lazy("Automation Rules")
    record_title = lazy("Automation Rule")
    new_title = lazy("New Automation Rule")
    edit_title = lazy("Edit Automation Rule")
