"""Screens over tables that only grow (call logs, outboxes): counting stops at a cap.

FAB's list page counts every row its filters match to draw the pager. Over a million-row log
that count is most of the page's time, and nobody pages through to row 500,000: the count stops
at :attr:`LogInterface.count_cap` (one more row than that is shown as "more"), and the page
costs the same however long the log gets (``make bench``, growth).
"""

from __future__ import annotations

from typing import Any

from nightpos_app.crud.errors import RecordInterface


class LogInterface(RecordInterface):
    """A :class:`RecordInterface` whose list count stops after ``count_cap`` rows."""

    count_cap = 10_000

    def query_count(self, query: Any, filters: Any = None, select_columns: Any = None) -> int:
        matching = self._apply_inner_all(
            query, filters, select_columns=select_columns, aliases_mapping={}
        )
        # count() wraps the query: SELECT count(*) FROM (SELECT ... LIMIT cap + 1).
        return int(matching.limit(self.count_cap + 1).count())
