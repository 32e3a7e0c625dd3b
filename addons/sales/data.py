"""Demo currencies and sales orders (none of the orders is in USD)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

DEMO_CURRENCIES = [
    {"name": "USD", "symbol": "$"},
    {"name": "EUR", "symbol": "€"},
    {"name": "THB", "symbol": "฿"},
    {"name": "GBP", "symbol": "£"},
    {"name": "JPY", "symbol": "¥"},
]

#: (customer index, currency code, state, total, days ago). Two quotations are dated ahead
#: (negative: days to come), so that timing rules "Based on date field" have orders due in the
#: past and in the future to act on (docs/timing.md).
_ORDERS = [
    (0, "THB", "sale", "12500.00", 30),
    (1, "THB", "draft", "3400.50", 28),
    (2, "EUR", "sent", "899.00", 25),
    (3, "THB", "sale", "15999.00", 21),
    (4, "GBP", "sale", "2450.75", 18),
    (5, "EUR", "draft", "120.00", 14),
    (0, "JPY", "sale", "480000.00", 11),
    (2, "THB", "cancel", "760.00", 9),
    (4, "EUR", "sent", "5300.00", -1),
    (1, "GBP", "draft", "640.20", -7),
    (3, "THB", "sale", "2890.00", 2),
    (5, "EUR", "sale", "1750.00", 1),
]


def load_demo(env: Any) -> None:
    currencies = {c.name: c for c in env["res.currency"].create(DEMO_CURRENCIES)}
    customers = env["res.partner"].search([], order="id")
    today = dt.date.today()
    env["sale.order"].create(
        [
            {
                "partner_id": customers[customer].id,
                "currency_id": currencies[code].id,
                "state": state,
                "amount_total": Decimal(total),
                "date_order": today - dt.timedelta(days=days_ago),
            }
            for customer, code, state, total, days_ago in _ORDERS
        ]
    )
