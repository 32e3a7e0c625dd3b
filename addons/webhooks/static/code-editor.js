/* The code editor of the webhook screens: Ace (static/ace/, bundled) over each
   textarea.webhook-code. The textarea stays in the form, hidden, and gets every change, so the
   form posts exactly what the editor shows.
   - Python highlighting (data-code-mode="json" for JSON settings), line numbers, 4-space tabs.
   - The failing line: a save refused for a syntax error comes back with "Line N: ..." next to
     the field; that line is marked (gutter annotation and a red band) and scrolled to.
   - Tabs "Code" | "Help": Help lists the names the code can use (_code_editor.html, in the
     page's language). */
(function () {
    "use strict";
    var script = document.currentScript;
    if (!window.ace || !script) { return; }
    window.ace.config.set("basePath", script.getAttribute("data-ace-base"));
    var helpData = document.getElementById("webhook-code-help");
    var words = helpData ? JSON.parse(helpData.textContent) : null;

    function el(tag, className, text) {
        var node = document.createElement(tag);
        if (className) { node.className = className; }
        if (text !== undefined) { node.textContent = text; }
        return node;
    }

    function errorLine(textarea) {
        // The field's error is rendered after it, in the same cell ("Line 3: invalid syntax").
        var cell = textarea.closest("td, .webhook-settings, .form-group") || textarea.parentNode;
        var alert = cell.querySelector(".alert-danger");
        var match = alert && /(?:Line|line|บรรทัด(?:ที่)?)\s*(\d+)/.exec(alert.textContent);
        return match ? { row: parseInt(match[1], 10) - 1, text: alert.textContent.trim() } : null;
    }

    function helpPanel() {
        var panel = el("div", "webhook-code-help-panel");
        panel.appendChild(el("p", null, words.intro));
        var list = el("dl", "dl-horizontal");
        words.names.forEach(function (pair) {
            list.appendChild(el("dt", null, pair[0])).style.fontFamily = "monospace";
            list.appendChild(el("dd", null, pair[1]));
        });
        panel.appendChild(list);
        panel.appendChild(el("p", "text-muted", words.records));
        panel.hidden = true;
        return panel;
    }

    function tabs(wrapper, editorBox, help) {
        var nav = el("ul", "nav nav-tabs webhook-code-tabs");
        [["code", words.code], ["help", words.help]].forEach(function (tab) {
            var item = el("li", tab[0] === "code" ? "active" : "");
            var link = el("a", "webhook-code-tab-" + tab[0], tab[1]);
            link.href = "#";
            link.addEventListener("click", function (event) {
                event.preventDefault();
                Array.prototype.forEach.call(nav.children, function (li) { li.classList.remove("active"); });
                item.classList.add("active");
                editorBox.hidden = tab[0] !== "code";
                help.hidden = tab[0] !== "help";
            });
            item.appendChild(link);
            nav.appendChild(item);
        });
        wrapper.appendChild(nav);
    }

    function attach(textarea) {
        if (textarea.getAttribute("data-editor") || textarea.disabled || textarea.readOnly) { return; }
        var mode = textarea.getAttribute("data-code-mode") || "python";
        var rows = Math.max(parseInt(textarea.getAttribute("rows") || "6", 10), 3);
        var wrapper = el("div", "webhook-editor");
        var editorBox = el("div", "webhook-editor-box");
        editorBox.style.height = (rows * 18 + 12) + "px";
        editorBox.style.border = "1px solid #ccc";
        editorBox.style.borderRadius = "4px";
        textarea.parentNode.insertBefore(wrapper, textarea);
        var help = words && mode === "python" ? helpPanel() : null;
        if (help) { tabs(wrapper, editorBox, help); }
        wrapper.appendChild(editorBox);
        if (help) { wrapper.appendChild(help); }
        textarea.style.display = "none";
        textarea.setAttribute("data-editor", "ace");

        var editor = window.ace.edit(editorBox, {
            mode: mode === "json" ? "ace/mode/text" : "ace/mode/python",
            theme: "ace/theme/chrome",
            value: textarea.value,
            showLineNumbers: true,
            showGutter: true,
            tabSize: 4,
            useSoftTabs: true,
            useWorker: false,
            fontSize: "13px",
            showPrintMargin: false,
        });
        editor.session.setUseWrapMode(true);
        editor.session.on("change", function () { textarea.value = editor.getValue(); });
        editorBox.env_editor = editor;

        var failing = errorLine(textarea);
        if (failing && failing.row >= 0 && failing.row < editor.session.getLength()) {
            var Range = window.ace.require("ace/range").Range;
            editor.session.setAnnotations([
                { row: failing.row, column: 0, text: failing.text, type: "error" },
            ]);
            editor.session.addMarker(new Range(failing.row, 0, failing.row, 1), "webhook-error-line", "fullLine");
            editor.gotoLine(failing.row + 1, 0, false);
            editorBox.setAttribute("data-error-row", String(failing.row + 1));
        }
    }

    var style = document.createElement("style");
    style.textContent = ".webhook-error-line { position: absolute; background: rgba(217, 83, 79, 0.25); }" +
        " .webhook-code-tabs { margin-bottom: 4px; } .webhook-code-help-panel { padding: 6px 0; }";
    document.head.appendChild(style);

    function start() {
        Array.prototype.forEach.call(document.querySelectorAll("textarea.webhook-code"), attach);
    }
    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
}());
