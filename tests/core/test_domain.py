"""Search domains and orders, on the real database (SQLite and PostgreSQL).

Every case compares the database's answer with the same question asked in
Python over all records, so a wrong SQL translation cannot pass.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from nightpos_app.exceptions import DomainError
from nightpos_app.orm import Environment, RecordSet


def names(records: RecordSet) -> list[str]:
    return sorted(records.mapped("name"))


def where(records: RecordSet, test) -> list[str]:  # type: ignore[no-untyped-def]
    """The names of the records for which ``test(record)`` holds, computed in Python."""
    return sorted(r.name for r in records if test(r))


@pytest.fixture
def partners(env: Environment) -> RecordSet:
    """The demo contacts plus two with empty fields and one with LIKE wildcards."""
    env["res.partner"].create(
        [
            {"name": "No Email Co.", "company_type": "company"},
            {"name": "Fifty % Off_Shop", "email": "deals@EXAMPLE.com", "phone": None},
        ]
    )
    return env["res.partner"].search([])


@pytest.mark.parametrize(
    ("domain", "test"),
    [
        ([("customer_rank", "=", 1)], lambda r: r.customer_rank == 1),
        ([("customer_rank", "!=", 1)], lambda r: r.customer_rank != 1),
        ([("customer_rank", "<", 2)], lambda r: r.customer_rank < 2),
        ([("customer_rank", "<=", 2)], lambda r: r.customer_rank <= 2),
        ([("customer_rank", ">", 1)], lambda r: r.customer_rank > 1),
        ([("customer_rank", ">=", 1)], lambda r: r.customer_rank >= 1),
        ([("company_type", "in", ["company"])], lambda r: r.company_type == "company"),
        ([("customer_rank", "in", [2, 3])], lambda r: r.customer_rank in (2, 3)),
        ([("customer_rank", "not in", [0, 1])], lambda r: r.customer_rank not in (0, 1)),
        ([("name", "like", "Co")], lambda r: "Co" in r.name),
        ([("name", "like", "co")], lambda r: "co" in r.name),
        ([("name", "ilike", "co")], lambda r: "co" in r.name.lower()),
        ([("email", "ilike", "EXAMPLE.COM")], lambda r: "example.com" in (r.email or "").lower()),
        ([("email", "not ilike", "example")], lambda r: "example" not in (r.email or "").lower()),
        ([("email", "not like", "example")], lambda r: "example" not in (r.email or "")),
        ([("name", "=like", "S%")], lambda r: r.name.startswith("S")),
        (
            [("name", "=ilike", "s%a")],
            lambda r: r.name.lower().startswith("s") and r.name.endswith("a"),
        ),
        ([("name", "ilike", "%")], lambda r: "%" in r.name),  # wildcards are literal
        ([("name", "ilike", "f_s")], lambda r: "f_s" in r.name.lower()),
        ([("name", "=like", "Fifty \\% Off\\_%")], lambda r: r.name.startswith("Fifty % Off_")),
        ([("email", "=", False)], lambda r: r.email is None),
        ([("email", "=", None)], lambda r: r.email is None),
        ([("email", "!=", False)], lambda r: r.email is not None),
        ([("email", "!=", "anong@example.com")], lambda r: r.email != "anong@example.com"),
        ([("email", "in", [])], lambda r: False),
        ([("email", "not in", [])], lambda r: True),
        (
            [("email", "in", ["anong@example.com", False])],
            lambda r: r.email in ("anong@example.com", None),
        ),
        ([("email", "not in", ["anong@example.com"])], lambda r: r.email != "anong@example.com"),
        (
            [("email", "not in", ["anong@example.com", None])],
            lambda r: r.email not in ("anong@example.com", None),
        ),
        ([("active", "=", True)], lambda r: r.active),
        ([("active", "=", False)], lambda r: not r.active),
        ([("active", "in", [True, False])], lambda r: True),
        ([("name", "ILIKE", "SIAM")], lambda r: "siam" in r.name.lower()),  # operator case
        ([], lambda r: True),
    ],
)
def test_operators_match_python(partners: RecordSet, domain: list, test) -> None:  # type: ignore[no-untyped-def]
    expected = where(partners, test)
    assert names(partners.search(domain)) == expected
    assert partners.search_count(domain) == len(expected)


def test_like_is_case_sensitive_and_ilike_is_not(env: Environment) -> None:
    model = env["res.partner"]
    assert names(model.search([("name", "like", "siam")])) == []
    assert names(model.search([("name", "like", "Siam")])) == ["Siam Trading Co., Ltd."]
    assert names(model.search([("name", "ilike", "siam")])) == ["Siam Trading Co., Ltd."]
    assert names(model.search([("name", "=like", "s%")])) == []
    assert names(model.search([("name", "=ilike", "s%")])) == [
        "Siam Trading Co., Ltd.",
        "Somchai Wongsa",
    ]
    assert names(model.search([("name", "not like", "siam")])) == names(model.search([]))


def test_glob_characters_are_literal_in_like(env: Environment) -> None:
    """SQLite runs ``like`` as GLOB; GLOB's own wildcards must not leak through."""
    model = env["res.partner"]
    model.create([{"name": "Star*Mart"}, {"name": "What? [Shop]"}, {"name": "StarXMart"}])
    assert names(model.search([("name", "like", "r*M")])) == ["Star*Mart"]
    assert names(model.search([("name", "like", "? [")])) == ["What? [Shop]"]
    assert names(model.search([("name", "like", "[S")])) == ["What? [Shop]"]
    assert names(model.search([("name", "=like", "Star_Mart")])) == ["Star*Mart", "StarXMart"]


def test_prefix_operators(partners: RecordSet) -> None:
    person = ("company_type", "=", "person")
    ranked = ("customer_rank", ">=", 2)
    emailed = ("email", "!=", False)
    is_person = lambda r: r.company_type == "person"  # noqa: E731
    is_ranked = lambda r: r.customer_rank >= 2  # noqa: E731
    has_email = lambda r: r.email is not None  # noqa: E731
    cases = [
        (["|", person, ranked], lambda r: is_person(r) or is_ranked(r)),
        (["&", person, ranked], lambda r: is_person(r) and is_ranked(r)),
        ([person, ranked], lambda r: is_person(r) and is_ranked(r)),
        (["!", person], lambda r: not is_person(r)),
        (["!", "|", person, ranked], lambda r: not (is_person(r) or is_ranked(r))),
        (
            ["|", "&", person, emailed, ranked],
            lambda r: (is_person(r) and has_email(r)) or is_ranked(r),
        ),
        (["|", person, ranked, emailed], lambda r: (is_person(r) or is_ranked(r)) and has_email(r)),
        (
            ["&", "|", person, ranked, "!", emailed],
            lambda r: (is_person(r) or is_ranked(r)) and not has_email(r),
        ),
    ]
    for domain, test in cases:
        assert names(partners.search(domain)) == where(partners, test), domain
    assert partners.search([("name", "like", "o"), ("name", "like", "z")]) == partners.browse()
    # '!' also matches records whose field is empty, like the negative operators.
    anong = ("email", "=", "anong@example.com")
    assert names(partners.search(["!", anong])) == where(
        partners, lambda r: r.email != "anong@example.com"
    )
    assert partners.search(["!", anong]) == partners.search([("email", "!=", anong[2])])
    assert partners.search(["!", "!", anong]) == partners.search([anong])
    assert partners.search(["!", ("email", "in", ["anong@example.com"])]) == partners.search(
        [("email", "not in", ["anong@example.com"])]
    )


def test_dotted_paths_follow_many2one(env: Environment) -> None:
    orders = env["sale.order"].search([])
    found = orders.search([("partner_id.email", "ilike", "example.com")])
    assert found.ids == [
        o.id for o in orders.search([], order="id desc") if "example.com" in o.partner_id.email
    ]
    assert len(found) == 4  # Anong and Somchai, two orders each
    assert orders.search_count([("partner_id.company_type", "=", "company")]) == len(
        orders.filtered(lambda o: o.partner_id.company_type == "company")
    )
    eur = orders.search([("currency_id.name", "=", "EUR")])
    assert len(eur) == 4 and set(eur.mapped("currency_id.name")) == {"EUR"}
    not_eur = orders.search([("currency_id.name", "!=", "EUR")])
    assert (eur | not_eur) == orders and not (eur & not_eur)
    # A many-to-one matched as text is matched on the related record's name.
    siam = orders.search([("partner_id", "ilike", "siam")])
    assert set(siam.mapped("partner_id.name")) == {"Siam Trading Co., Ltd."} and len(siam) == 2


def test_recordsets_stand_for_their_ids(env: Environment) -> None:
    orders = env["sale.order"].search([])
    thb = env["res.currency"].search([("name", "=", "THB")])
    assert orders.search([("currency_id", "=", thb)]) == orders.search(
        [("currency_id", "=", thb.id)]
    )
    assert len(orders.search([("currency_id", "=", thb)])) == 5
    two = env["res.currency"].search([("name", "in", ["THB", "EUR"])])
    assert len(orders.search([("currency_id", "in", two)])) == 9
    assert orders.search([("currency_id", "=", env["res.currency"])]) == orders.browse()
    assert orders.search([("id", "in", orders[:3])]) == orders[:3]
    assert orders.search([("id", "=", orders[0])]) == orders[0]
    with pytest.raises(DomainError, match="expected a res.currency record, got res.partner"):
        orders.search([("currency_id", "in", env["res.partner"].search([], limit=1))])
    with pytest.raises(DomainError, match="expected one res.currency record, got 2"):
        orders.search([("currency_id", "=", two)])


def test_numbers_compare_as_given(env: Environment) -> None:
    """Not rounded to the column's scale: 1.004 is more than 1.00."""
    orders = env["sale.order"].search([])
    order = orders.search([("state", "=", "draft")], limit=1)
    order.write({"amount_total": 1})
    assert order not in orders.search([("amount_total", ">=", 1.004)])
    assert order in orders.search([("amount_total", "<", 1.004)])
    assert order in orders.search([("amount_total", "=", 1)])
    assert orders.search_count([("amount_total", "<", 10**400)]) == 12
    assert orders.search_count([("amount_total", ">", Decimal("1e20"))]) == 0
    expected = sorted(o.id for o in orders if o.amount_total > Decimal("899.001"))
    assert sorted(orders.search([("amount_total", ">", 899.001)]).ids) == expected


def test_dates_compare_with_dates_or_iso_text(env: Environment) -> None:
    orders = env["sale.order"].search([])
    cutoff = dt.date.today() - dt.timedelta(days=10)
    expected = sorted(o.id for o in orders if o.date_order >= cutoff)
    assert sorted(orders.search([("date_order", ">=", cutoff)]).ids) == expected
    assert sorted(orders.search([("date_order", ">=", cutoff.isoformat())]).ids) == expected
    assert len(expected) == 5
    with pytest.raises(DomainError, match="date_order: 'yesterday' is not an ISO 8601 date"):
        orders.search([("date_order", "<", "yesterday")])


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ([("colour", "=", "red")], "unknown field 'colour'"),
        ([("name", "~", "x")], "unknown operator '~'"),
        ([("name", None, "x")], "unknown operator None"),
        ([("name", "=")], "must be (field, operator, value)"),
        (["name", "=", "x"], "must be (field, operator, value)"),
        ([(1, "=", 1)], "field must be a name"),
        (["|", ("name", "=", "x")], "'|' is missing an operand"),
        (["!"], "'!' is missing an operand"),
        ("name = x", "a domain is a list of terms"),
        ({"name": "x"}, "a domain is a list of terms"),
        ([("email.name", "=", "x")], "'email' is not a many-to-one field"),
        ([("customer_rank", "ilike", "1")], "'ilike' needs a text field"),
        ([("name", "ilike", 1)], "needs text"),
        ([("name", "ilike", "a\x00b")], "NUL"),
        ([("name", "=like", "ab\\")], "ends with"),
        ([("customer_rank", "=", "abc")], "customer_rank: expected an integer, got 'abc'"),
        ([("customer_rank", "=", "1")], "customer_rank: expected an integer"),
        ([("customer_rank", "=", True)], "customer_rank: expected an integer, got True"),
        ([("customer_rank", ">", 2**40)], "customer_rank: integer out of range"),
        ([("id", "=", 2**70)], "id: integer out of range"),
        ([("active", "=", 1)], "active: expected true or false"),
        ([("company_type", "=", "robot")], "'robot' is not one of 'person', 'company'"),
        ([("customer_rank", "in", 1)], "'in' needs a list"),
        ([("customer_rank", "in", "12")], "'in' needs a list"),
        ([("customer_rank", "<", None)], "cannot compare 'customer_rank' < empty"),
        ([("customer_rank", "=", float("nan"))], "customer_rank: expected an integer"),
    ],
)
def test_bad_domains_are_clear_errors(env: Environment, domain, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as caught:
        env["res.partner"].search(domain)
    assert message in str(caught.value)
    # A refused domain never reaches the database: the transaction stays usable.
    assert env["res.partner"].search_count([]) == 6


def test_bad_domains_on_related_and_computed_fields(env: Environment) -> None:
    orders = env["sale.order"]
    with pytest.raises(DomainError, match="unknown field 'colour'"):
        orders.search([("partner_id.colour", "=", 1)])
    with pytest.raises(DomainError, match="'name' is computed and cannot be searched"):
        orders.search([("name", "=", "S00001")])
    with pytest.raises(DomainError, match="amount_total: expected a number"):
        orders.search([("amount_total", ">", "100")])
    with pytest.raises(DomainError, match="expected a finite number"):
        orders.search([("amount_total", ">", float("inf"))])
    with pytest.raises(DomainError, match="partner_id: expected the id of a res.partner record"):
        orders.search([("partner_id", "=", "3")])


def test_order_limit_and_offset(env: Environment) -> None:
    model = env["res.partner"]
    model.create([{"name": "Anong Srisuk", "customer_rank": 9}, {"name": "Zed"}])
    everyone = model.search([])
    by_name = sorted(everyone, key=lambda r: (r.name, r.id))
    # The model's default order is "name, id".
    assert model.search([]).ids == [r.id for r in by_name]
    by_name_desc = sorted(everyone, key=lambda r: (r.name, -r.id), reverse=True)
    assert model.search([], order="name desc, id").ids == [r.id for r in by_name_desc]
    assert model.search([], order="name DESC,id Desc").ids == [
        r.id for r in sorted(everyone, key=lambda r: (r.name, r.id), reverse=True)
    ]
    assert model.search([], order="customer_rank desc, name").ids[:2] == [
        model.search([("customer_rank", "=", 9)]).id,
        model.search([("name", "=", "Siam Trading Co., Ltd.")]).id,
    ]
    # Pages never overlap nor skip, even where the order has ties (ranks).
    pages = [model.search([], order="customer_rank", limit=3, offset=o).ids for o in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert sorted(sum(pages, [])) == sorted(everyone.ids)
    assert model.search([], limit=2).ids == [r.id for r in by_name[:2]]
    assert model.search([], offset=7).ids == [by_name[7].id]
    assert model.search([], offset=100).ids == []
    assert len(model.search([], limit=0)) == 8  # 0 means no limit, as in Odoo
    assert len(model.search([], limit=None, offset=None)) == 8
    # Sales orders come newest first.
    orders = env["sale.order"].search([])
    assert orders.ids == sorted(orders.ids, reverse=True)


def test_empty_values_sort_last_ascending_first_descending(env: Environment) -> None:
    model = env["res.partner"]
    model.create({"name": "No Email"})
    ascending = model.search([], order="email")
    descending = model.search([], order="email desc")
    assert ascending[-1].name == "No Email"
    assert descending[0].name == "No Email"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "colour"}, "unknown field 'colour'"),
        ({"order": "name sideways"}, "cannot read 'name sideways'"),
        ({"order": "name desc nulls"}, "cannot read"),
        ({"order": 1}, "order must be text"),
        ({"limit": -1}, "limit must be an integer"),
        ({"limit": "5"}, "limit must be an integer"),
        ({"limit": True}, "limit must be an integer"),
        ({"limit": 2**40}, "limit must be an integer"),
        ({"offset": -1}, "offset must be an integer"),
        ({"offset": 1.5}, "offset must be an integer"),
    ],
)
def test_bad_search_arguments(env: Environment, kwargs: dict, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        env["res.partner"].search([], **kwargs)


def test_order_on_a_computed_field_is_refused(env: Environment) -> None:
    with pytest.raises(DomainError, match="'name' is computed and cannot be sorted"):
        env["sale.order"].search([], order="name")
