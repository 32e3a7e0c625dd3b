"""Guards in detail: attribute allowlist, item and write guards, operators, records."""

from __future__ import annotations

from typing import Any

import pytest

from nightpos_app.orm import Environment, RecordSet
from nightpos_app.sandbox import Sandbox, SandboxError
from tests.core.sandbox.conftest import webhook_names


def forbidden(source: str, names: dict[str, Any] | None = None, mode: str = "eval") -> str:
    sandbox = Sandbox(cpu_seconds=1)
    run = sandbox.evaluate if mode == "eval" else sandbox.execute
    with pytest.raises(SandboxError) as caught:
        run(source, names or {})
    assert caught.value.kind == "forbidden", caught.value.message
    return caught.value.message


@pytest.mark.parametrize(
    "source",
    [
        "'x'.format",
        "'x'.format_map",
        "str.format",
        "str.mro",
        "int.mro",
        "(1).numerator.bit_length.x",
        "[].append.x",
        "{}.get.x",
        "{}.keys().mapping",
        "iter([]).x",
        "range(3).count",
        "range(3).index",
        "slice(1).indices",
        "(x for x in []).close",
        "ValueError('x').with_traceback",
        "ValueError.args",
        "len.x",
        "sorted.x",
        "str.make",
        "str.cls",
        "list[int]",
    ],
)
def test_attribute_allowlist_refuses(source: str) -> None:
    assert "may not" in forbidden(source)


def test_forbidden_message_names_the_attribute_and_type() -> None:
    assert forbidden("'x'.format") == (
        "Sandboxed code may not use the attribute 'format' of str objects (line 1)"
    )
    assert forbidden("str.mro") == (
        "Sandboxed code may not use the attribute 'mro' of the class str (line 1)"
    )


def test_write_guard() -> None:
    sandbox = Sandbox()
    assert sandbox.execute("d = {}\nd['a'] = 1\ndel d['a']", {})["d"] == {}
    assert sandbox.execute("x = [1, 2]\nx[0] = 5\ndel x[1]", {})["x"] == [5]
    for source in ("t = (1,)\nt[0] = 2", "s = 'ab'\ns[0] = 'c'", "f = len\nf.x = 1"):
        with pytest.raises(SandboxError) as caught:
            sandbox.execute(source, {})
        assert caught.value.kind == "forbidden"


def test_dict_view_set_operations_are_guarded() -> None:
    sandbox = Sandbox()
    assert sandbox.evaluate("{'a': 1, 'b': 2}.keys() - ['a']", {}) == {"b"}
    assert sandbox.evaluate("{'a': 1}.keys() | range(2)", {}) == {"a", 0, 1}
    assert sandbox.evaluate("{1: 1}.items() & {(1, 1)}", {}) == {(1, 1)}
    assert sandbox.evaluate("5 - 3, 6 | 1, 6 & 3, 6 ^ 3", {}) == (2, 7, 2, 5)
    assert sandbox.execute("s = {1, 2}\nt = s\ns -= {1}\ns |= {3}", {})["t"] == {2, 3}
    with pytest.raises(SandboxError) as caught:
        sandbox.evaluate("{}.keys() | range(10**12)", {})
    assert caught.value.kind == "memory"


def test_int_size_cap() -> None:
    sandbox = Sandbox()
    assert sandbox.evaluate("(2**65000).bit_length()", {}) == 65001
    for source in ("2**70000", "(2**60000) * (2**60000)", "1 << 70000", "int('1' * 70000, 2)"):
        with pytest.raises(SandboxError) as caught:
            sandbox.evaluate(source, {})
        assert caught.value.kind == "memory", source
        assert "65,536-bit integers" in caught.value.message


def test_records_through_the_guards(env: Environment) -> None:
    records = env["sale.order"].search([])
    names = {**webhook_names(env, "sale.order", {}), "records": records, "record": records[0]}
    sandbox = Sandbox()
    partner = sandbox.evaluate("record['partner_id']", names)
    assert isinstance(partner, RecordSet) and partner.model_name == "res.partner"
    sandbox.execute("record.partner_id.phone = '+66 0'", names)
    assert records[0].partner_id.phone == "+66 0"
    assert sandbox.evaluate("'%s' % record", names) == str(records[0])
    assert sandbox.evaluate("'abc'.translate(env)", names) == "abc"
    with pytest.raises(SandboxError) as caught:
        sandbox.evaluate("'%(name)s' % record", names)
    assert caught.value.message == "format requires a mapping"
    with pytest.raises(SandboxError) as caught:
        sandbox.execute("record.model_name = 'x'", names)
    assert "no writable field 'model_name'" in caught.value.message


def test_record_attribute_results_must_be_plain(env: Environment) -> None:
    """A record attribute giving anything else than data or records is refused."""
    from nightpos_app.sandbox.access import _checked

    record = env["sale.order"].search([], limit=1)
    assert _checked(record, "ids", [1, 2]) == [1, 2]
    assert _checked(record, "data", {"a": [1, "x", None]}) == {"a": [1, "x", None]}
    with pytest.raises(BaseException, match="gives a .*session object"):
        _checked(record, "session", env._session)
    with pytest.raises(BaseException, match="gives a list object"):
        _checked(record, "rows", [env._session])
    with pytest.raises(BaseException, match="gives a method object"):
        _checked(record, "load", env["res.partner"].search)
