/* Webhook screens: small helpers over FAB's jQuery. Everything works without them (the server
   validates and re-renders); they only save reloads.
   - [data-copy="<input id>"]: copy that input's text; the button says its data-copied text
     (in the page's language) for a moment.
   - form[data-confirm]: ask before submitting.
   - The rule form: the fields the chosen trigger uses, the header name for a header secret,
     and the chosen model's fields in the Date Field, Trigger Fields and Values set pickers.
   - time.nightpos-local-time: a stored UTC time, shown in the browser's time zone.
   - The action form: show the chosen type's settings, the chosen source (value/expression),
     the value input that suits the chosen field, the fields of the chosen model, and the
     sample of a type that has one (Send Webhook Notification's JSON), as settings change. */
(function ($) {
    "use strict";

    function copyFrom(id, button) {
        var input = document.getElementById(id);
        if (!input) { return; }
        var done = function () {
            var old = button.innerHTML;
            button.textContent = button.getAttribute("data-copied") || "Copied";
            setTimeout(function () { button.innerHTML = old; }, 1500);
        };
        if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(input.value).then(done);
        } else {
            input.select();
            document.execCommand("copy");
            done();
        }
    }

    // Builds elements with DOM calls (never innerHTML), so server text stays text.
    function option(value, label, selected) {
        var el = document.createElement("option");
        el.value = value;
        el.textContent = label;
        el.selected = value === selected;
        return el;
    }

    function valueControl(name, spec, current) {
        var el;
        if (spec.kind === "select") {
            el = document.createElement("select");
            spec.choices.forEach(function (c) { el.appendChild(option(c[0], c[1], current)); });
        } else if (spec.kind === "textarea" || spec.kind === "json") {
            el = document.createElement("textarea");
            el.rows = 3;
            el.value = current;
        } else {
            el = document.createElement("input");
            el.type = { integer: "number", number: "number", date: "date" }[spec.kind] || "text";
            if (spec.kind === "integer") { el.step = "1"; }
            if (spec.kind === "number") { el.step = "any"; }
            el.value = current;
        }
        el.className = "form-control";
        el.name = name;
        el.id = name;
        return el;
    }

    function refreshValue(box, form) {
        var fieldSelect = document.getElementById(box.getAttribute("data-field-from"));
        if (!fieldSelect) { return; }
        var url = form.getAttribute("data-value-url") + "&field=" + encodeURIComponent(fieldSelect.value);
        var modelFrom = box.getAttribute("data-model-from");
        if (modelFrom && document.getElementById(modelFrom)) {
            url += "&model=" + encodeURIComponent(document.getElementById(modelFrom).value);
        }
        $.getJSON(url, function (spec) {
            var name = box.getAttribute("data-name");
            var old = document.getElementById(name);
            var current = old ? old.value : "";
            box.textContent = "";
            box.appendChild(valueControl(name, spec, current));
            if (spec.note) {
                var note = document.createElement("span");
                note.className = "help-block";
                note.textContent = spec.note;
                box.appendChild(note);
            }
        });
    }

    function refreshRowFields(box, form) {
        var modelSelect = document.getElementById(box.getAttribute("data-model-from"));
        if (!modelSelect || !modelSelect.value) { return; }
        var url = form.getAttribute("data-fields-url") + "?model=" + encodeURIComponent(modelSelect.value);
        $.getJSON(url, function (data) {
            $(box).find(".webhook-row-field").each(function () {
                var select = document.createElement("select");
                select.className = "form-control webhook-row-field";
                select.name = this.name;
                var current = this.value;
                select.appendChild(option("", "", current));
                data.fields.forEach(function (f) { select.appendChild(option(f[0], f[1], current)); });
                this.parentNode.replaceChild(select, this);
            });
        });
    }

    function addRow(button) {
        var table = $(button).siblings("table.webhook-rows");
        var rows = table.find("tr.webhook-row");
        if (!rows.length) { return; }
        var clone = rows.last().clone();
        var index = rows.length;
        var base = table.attr("data-rows-name");
        clone.find("input, select").each(function () {
            this.name = this.name.replace(/-\d+-(field|source|value)$/, "-" + index + "-$1");
            if (this.tagName === "INPUT") { this.value = ""; } else { this.selectedIndex = 0; }
        });
        if (base) { table.find("tbody").append(clone); }
    }

    function refreshPreview(section, form) {
        var pre = section.querySelector(".webhook-preview");
        if (!pre) { return; }
        var url = form.getAttribute("data-preview-url") +
            "&action_type=" + encodeURIComponent(section.getAttribute("data-action-type")) +
            "&name=" + encodeURIComponent($(form).find("#name").val() || "") +
            "&" + $(section).find(":input").serialize();
        $.getJSON(url, function (data) {
            pre.textContent = data.preview;
            pre.setAttribute("data-updated", String(Date.now()));
        });
    }

    function showChosen(form) {
        var chosen = $(form).find("#action_type").val();
        $(form).find(".webhook-settings").each(function () {
            $(this).toggle(this.getAttribute("data-action-type") === chosen);
        });
        $(form).find(".webhook-sources input[type=radio]:checked").each(function () {
            var radio = this;
            $(form).find("[data-source-of='" + radio.name + "']").each(function () {
                $(this).toggle(this.getAttribute("data-source") === radio.value);
            });
        });
    }

    // The rule form: show the fields the chosen trigger uses (data-rule-fields: field ->
    // triggers), and the Secret Header Name and the authentication's help only when they apply.
    function followTrigger(form) {
        var uses = JSON.parse(form.getAttribute("data-rule-fields"));
        var trigger = $(form).find("#trigger").val();
        var scheme = $(form).find("#auth_scheme").val() || "none";
        $(form).find("[data-rule-field]").each(function () {
            var triggers = uses[this.getAttribute("data-rule-field")];
            this.hidden = !!triggers && triggers.indexOf(trigger) < 0;
        });
        $(form).find("[data-auth-schemes]").each(function () {
            var shown = this.getAttribute("data-auth-schemes").split(" ").indexOf(scheme) >= 0;
            if (this.tagName === "TR") {
                var triggers = uses[this.getAttribute("data-rule-field")];
                shown = shown && !(triggers && triggers.indexOf(trigger) < 0);
            }
            this.hidden = !shown;
        });
    }

    // The rule form's field pickers offer the chosen model's fields (data-model-fields: model
    // -> {date, fields, selection, values}, rendered by the server). What was chosen stays
    // chosen when the new model has it too; the server checks the posted names anyway.
    function fillSelect(select, pairs, blank) {
        if (!select) { return; }
        var chosen = $(select).val() || [];
        var keep = Array.isArray(chosen) ? chosen : [chosen];
        select.textContent = "";
        if (blank) { select.appendChild(option("", "", "")); }
        pairs.forEach(function (p) {
            var el = option(p[0], p[1], null);
            el.selected = keep.indexOf(p[0]) >= 0;
            select.appendChild(el);
        });
        $(select).trigger("change");  // Select2 redraws; a new Field refreshes its Values
    }

    function modelPickers(form) {
        var byModel = JSON.parse(form.getAttribute("data-model-fields") || "{}");
        return byModel[$(form).find("#model").val()] ||
            { date: [], fields: [], selection: [], values: {} };
    }

    function followModel(form) {
        var pickers = modelPickers(form);
        fillSelect(document.getElementById("trg_date_field"), pickers.date, true);
        fillSelect(document.getElementById("trigger_fields"), pickers.fields, false);
        fillSelect(document.getElementById("trg_selection_field"), pickers.selection, true);
    }

    function followSelectionField(form) {
        var values = modelPickers(form).values[$(form).find("#trg_selection_field").val()];
        fillSelect(document.getElementById("trg_selection_value"), values || [], true);
    }

    // Stored times are UTC: show them in the browser's time zone too (the UTC text stays in
    // the title).
    function localTimes() {
        $("time.nightpos-local-time").each(function () {
            var when = new Date(this.getAttribute("datetime"));
            if (isNaN(when.getTime())) { return; }
            this.title = this.textContent;
            this.textContent = when.toLocaleString(document.documentElement.lang || undefined,
                { dateStyle: "medium", timeStyle: "short" });
        });
    }

    $(function () {
        localTimes();
        $(document).on("click", "[data-copy]", function () { copyFrom(this.getAttribute("data-copy"), this); });
        var ruleForm = document.querySelector("form[data-rule-fields]");
        if (ruleForm) {
            followTrigger(ruleForm);
            $(ruleForm).on("change", "#trigger, #auth_scheme", function () { followTrigger(ruleForm); });
            $(ruleForm).on("change", "select#model", function () { followModel(ruleForm); });
            $(ruleForm).on("change", "#trg_selection_field", function () { followSelectionField(ruleForm); });
        }
        $(document).on("submit", "form[data-confirm]", function () {
            return window.confirm(this.getAttribute("data-confirm"));
        });

        var form = document.querySelector("form[data-value-url]");
        if (!form) { return; }
        showChosen(form);
        $(form).on("change", "#action_type, .webhook-sources input[type=radio]", function () { showChosen(form); });
        $(form).find(".webhook-value").each(function () {
            var box = this;
            $(form).on("change", "#" + box.getAttribute("data-field-from"), function () { refreshValue(box, form); });
        });
        $(form).find(".webhook-field-values[data-model-from]").each(function () {
            var box = this;
            $(form).on("change", "#" + box.getAttribute("data-model-from"), function () { refreshRowFields(box, form); });
        });
        $(form).on("click", ".webhook-add-row", function () { addRow(this); });
        var timers = {};
        var previewSoon = function (section) {
            var key = section.getAttribute("data-action-type");
            clearTimeout(timers[key]);
            timers[key] = setTimeout(function () { refreshPreview(section, form); }, 250);
        };
        $(form).find(".webhook-settings").has(".webhook-preview").each(function () {
            var section = this;
            $(section).on("change input", ":input", function () { previewSoon(section); });
            $(form).on("change input", "#name", function () { previewSoon(section); });
        });
    });
}(window.jQuery));
