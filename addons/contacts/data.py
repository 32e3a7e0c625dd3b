"""Demo contacts."""

from __future__ import annotations

from typing import Any

DEMO_CONTACTS = [
    {
        "name": "Siam Trading Co., Ltd.",
        "email": "orders@siamtrading.example",
        "phone": "+66 2 123 4567",
        "company_type": "company",
        "customer_rank": 3,
    },
    {
        "name": "Mekong Supplies",
        "email": "sales@mekong.example",
        "phone": "+66 2 555 0101",
        "company_type": "company",
        "supplier_rank": 2,
    },
    {
        "name": "Anong Srisuk",
        "email": "anong@example.com",
        "phone": "+66 81 234 5678",
        "company_type": "person",
        "customer_rank": 1,
    },
    {
        "name": "Somchai Wongsa",
        "email": "somchai@example.com",
        "phone": "+66 89 876 5432",
        "company_type": "person",
        "customer_rank": 1,
    },
    {
        "name": "Atlantic Imports Inc.",
        "email": "buyers@atlantic.example",
        "phone": "+1 212 555 0199",
        "company_type": "company",
        "customer_rank": 2,
    },
    {
        "name": "Claire Dubois",
        "email": "claire.dubois@example.fr",
        "phone": "+33 1 23 45 67 89",
        "company_type": "person",
        "customer_rank": 1,
    },
]


def load_demo(env: Any) -> None:
    env["res.partner"].create(DEMO_CONTACTS)
