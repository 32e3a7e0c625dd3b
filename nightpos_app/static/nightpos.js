/* NightPOS's script over FAB's pages: tables with a header become cards on a phone
   (nightpos.css): each cell gets its column's header as data-label. */
(function () {
    "use strict";
    function cards(table) {
        var head = table.tHead;
        if (!head || !head.rows.length) { return; }
        var labels = Array.prototype.map.call(head.rows[head.rows.length - 1].cells, function (th) {
            return th.textContent.replace(/\s+/g, " ").trim();
        });
        Array.prototype.forEach.call(table.tBodies, function (body) {
            Array.prototype.forEach.call(body.rows, function (row) {
                Array.prototype.forEach.call(row.cells, function (cell, index) {
                    if (labels[index] && !cell.hasAttribute("data-label")) {
                        cell.setAttribute("data-label", labels[index]);
                    }
                });
            });
        });
        table.classList.add("nightpos-cards");
    }
    document.addEventListener("DOMContentLoaded", function () {
        Array.prototype.forEach.call(document.querySelectorAll("table.table"), cards);
    });
}());
