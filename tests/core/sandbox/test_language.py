"""The Python admins may write: what works, what is refused, and how errors read."""

from __future__ import annotations

from typing import Any

import pytest

from nightpos_app.sandbox import Sandbox, SandboxError, standard_helpers
from nightpos_app.sandbox.errors import MAX_MESSAGE_CHARS


@pytest.fixture
def helpers(logs: list[str]) -> dict[str, Any]:
    return standard_helpers(log=logs.append)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("isinstance('a', str) and isinstance(1, int) and isinstance(True, int)", True),
        ("isinstance([], (dict, list)) and not isinstance(1.5, int)", True),
        ("issubclass(bool, int)", True),
        ("sorted(['b', 'A', 'c'], key=str.lower)", ["A", "b", "c"]),
        ("list(map(str, [1, 2]))", ["1", "2"]),
        ("str(1.5) + str(None) + str([1, 'a'])", "1.5None[1, 'a']"),
        ("int('42') + int(4.9) + int('ff', 16)", 301),
        ("dict(a=1, b=2)", {"a": 1, "b": 2}),
        ("dict([('a', 1)])", {"a": 1}),
        ("dict.fromkeys('ab', 0)", {"a": 0, "b": 0}),
        ("tuple(x for x in range(3))", (0, 1, 2)),
        ("set('aab') == {'a', 'b'}", True),
        ("frozenset([1]) | {2}", frozenset({1, 2})),
        ("bytes('hé', 'utf-8').decode('utf-8')", "hé"),
        (
            "round(2.675, 2), round(7.5), abs(-3), divmod(7, 2), pow(2, 10, 1000)",
            (2.67, 8, 3, (3, 1), 24),
        ),
        (
            "'a,b,,c'.split(','), ' x '.strip(), 'ab'.upper(), 'x'.center(5, '*')",
            (["a", "b", "", "c"], "x", "AB", "**x**"),
        ),
        ("'-'.join(reversed(['a', 'b']))", "b-a"),
        ("any(x > 2 for x in [1, 3]) and all([1, True])", True),
        ("next(iter([5, 6])), list(filter(None, [0, 1, 2]))", (5, [1, 2])),
        ("{**{'a': 1}, 'b': 2}", {"a": 1, "b": 2}),
        ("[*'ab', *[1]]", ["a", "b", 1]),
        (
            "max([3, 1, 2]), min(3, 1, 2), max([], default=0),"
            " min([(2, 'b'), (1, 'z')], key=lambda p: p[0])",
            (3, 1, 0, (1, "z")),
        ),
        ("sum([[1], [2]], [])", [1, 2]),
        ("3 in range(5) and 'a' not in 'xyz' and 2.0 in range(3)", True),
        (
            "f\"{'x'!r} {3.14159:.2f} {42:>5} {datetime.date(2024, 1, 2):%d/%m/%Y}\"",
            "'x' 3.14    42 02/01/2024",
        ),
        (
            "datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc).isoformat()",
            "2024-01-02T00:00:00+00:00",
        ),
        ("datetime.datetime.strptime('2024-03-04', '%Y-%m-%d').month", 3),
        ("(datetime.date(2024, 1, 10) - datetime.date(2024, 1, 1)).days", 9),
        ("datetime.timedelta(hours=1).total_seconds()", 3600.0),
        ("time.strftime('%Y', time.gmtime(0))", "1970"),
        (
            "json.dumps({'b': 1, 'a': [1, 2]}, sort_keys=True, indent=2)",
            '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}',
        ),
        ("json.dumps({'d': datetime.date(2024, 1, 2)}, default=str)", '{"d": "2024-01-02"}'),
        ("'%s=%r' % ('a', 'b') + '%(x)s' % {'x': 1}", "a='b'1"),
        (
            "repr('a'), ascii('é'), format(3.5, '.1f'), hex(255), bin(5), chr(65), ord('A')",
            ("'a'", "'\\xe9'", "3.5", "0xff", "0b101", "A", 65),
        ),
        ("(lambda x, *a, k=1, **kw: (x, a, k, kw))(1, 2, k=3, z=4)", (1, (2,), 3, {"z": 4})),
        ("[y for x in [[1, 2], [3]] for y in x if y > 1]", [2, 3]),
        ("{k: v for k, v in {'a': 1}.items()}", {"a": 1}),
        ("(n := 5) + n", 10),
        ("1 if payload else 2", 1),
        ("payload['a'] + payload.get('missing', 0)", 1),
        ("UserError('x').message + str(ValueError('y').args)", "x('y',)"),
    ],
)
def test_expression(expression: str, expected: Any, helpers: dict[str, Any]) -> None:
    names = {**helpers, "payload": {"a": 1}}
    assert Sandbox().evaluate(expression, names) == expected


def test_statements(helpers: dict[str, Any], logs: list[str]) -> None:
    code = """\
result = []
for i, c in enumerate('ab'):
    result.append((i, c))
for a, *b in [(1, 2, 3)]:
    result.append(b)
x = 10
x -= 3
x *= 2
x //= 3
x **= 2
x %= 7
x <<= 2
x |= 1
d = {'n': 1, 'l': [1]}
d['n'] += 4
d['l'] += [2]
d['l'][0] = 9
del d['l'][1]
lst = [1, 2, 3]
lst[1:2] = [7, 8]
def gen(n):
    for i in range(n):
        yield i * i
squares = list(gen(4))
def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)
big = fact(20)
total: int = 0
while True:
    total += 1
    if total >= 3:
        break
else:
    total = -1
try:
    raise KeyError('k')
except (KeyError, IndexError) as e:
    caught = e.args[0]
finally:
    cleaned = True
assert big > 0, 'positive'
print('done', len(result))
text = printed
"""
    ns = Sandbox().execute(code, helpers)
    assert ns["result"] == [(0, "a"), (1, "b"), [2, 3]]
    assert ns["x"] == 9
    assert ns["d"] == {"n": 5, "l": [9]}
    assert ns["lst"] == [1, 7, 8, 3]
    assert ns["squares"] == [0, 1, 4, 9]
    assert ns["big"] == 2432902008176640000
    assert ns["total"] == 3
    assert ns["caught"] == "k" and ns["cleaned"] is True
    assert logs == ["done 3"]
    assert ns["text"] == "done 3\n"


def test_execute_returns_the_namespace_without_internals(helpers: dict[str, Any]) -> None:
    ns = Sandbox().execute("a = 1\n_ = 2", {**helpers, "payload": {}})
    assert ns["a"] == 1 and ns["_"] == 2 and ns["payload"] == {}
    assert not [name for name in ns if name.startswith("_") and name != "_"]
    assert "log" in ns


@pytest.mark.parametrize(
    ("source", "mode", "kind", "message"),
    [
        ("1 +", "eval", "syntax", "Line 1: invalid syntax"),
        ("x = (", "exec", "syntax", "Line 1: '(' was never closed"),
        ("return 1", "exec", "syntax", "Line 1: 'return' outside function"),
        ("", "eval", "syntax", "The expression is empty"),
        ("import os", "exec", "forbidden", "Line 1: Import statements are not allowed"),
        ("x._y", "eval", "forbidden", 'Line 1: "_y" is an invalid attribute name'),
        ("class A: pass", "exec", "forbidden", "Line 1: Class definitions are not allowed."),
    ],
)
def test_compile_errors(source: str, mode: str, kind: str, message: str) -> None:
    sandbox = Sandbox()
    problem = sandbox.check(source, mode)  # type: ignore[arg-type]
    assert problem is not None and problem.startswith(message)
    run = sandbox.evaluate if mode == "eval" else sandbox.execute
    with pytest.raises(SandboxError) as caught:
        run(source, {})
    assert caught.value.kind == kind
    assert caught.value.message == problem


def test_check_accepts_good_code() -> None:
    sandbox = Sandbox()
    assert sandbox.check("model.browse([2])", "eval") is None
    assert sandbox.check("x = 1\nif x:\n    y = 2\n", "exec") is None
    assert sandbox.check("  indented = 1\n  other = 2\n", "exec") is None
    assert sandbox.check("x" * 200_000, "eval") is not None
    with pytest.raises(ValueError):
        sandbox.check("1", "single")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("raise ValueError('Missing: name')", "Missing: name"),
        ("raise ValueError", "ValueError"),
        ("{}['name']", "KeyError: 'name'"),
        ("1 / 0", "division by zero"),
        ("[][3]", "list index out of range"),
        ("undefined_name", "name 'undefined_name' is not defined"),
        ("raise UserError(['a', 1])", "['a', 1]"),
        (
            "json.loads('{')",
            "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        ("assert False, 'checked'", "checked"),
    ],
)
def test_error_messages_are_the_exceptions_own(
    source: str, message: str, helpers: dict[str, Any]
) -> None:
    with pytest.raises(SandboxError) as caught:
        Sandbox().execute(source, helpers)
    assert caught.value.kind == "error"
    assert caught.value.message == message
    assert caught.value.lineno == 1
    assert caught.value.__cause__ is not None


def test_huge_messages_are_cut(helpers: dict[str, Any]) -> None:
    with pytest.raises(SandboxError) as caught:
        Sandbox().execute("raise ValueError('x' * 100000)", helpers)
    assert len(caught.value.message) == MAX_MESSAGE_CHARS


def test_names_cannot_replace_the_guards() -> None:
    with pytest.raises(ValueError, match="invalid name"):
        Sandbox().evaluate("1", {"_getattr_": getattr})


def test_unknown_host_exceptions_are_named_not_detailed() -> None:
    class DatabaseDown(Exception):
        pass

    def boom() -> None:
        raise DatabaseDown("postgresql://user:secret@db/prod refused")

    with pytest.raises(SandboxError) as caught:
        Sandbox().evaluate("boom()", {"boom": boom})
    assert caught.value.message == "DatabaseDown (details are in the server log)"
    assert "secret" not in caught.value.message
    assert isinstance(caught.value.__cause__, DatabaseDown)


def test_log_is_capped_per_run(logs: list[str], helpers: dict[str, Any]) -> None:
    Sandbox().execute("for i in range(5000):\n    log(i)", helpers)
    assert len(logs) == 1001
    assert logs[999] == "999"
    assert "the rest are not logged" in logs[1000]


@pytest.mark.parametrize(
    "source",
    [
        "raise ValueError(10**5000)",
        "x = []\nfor i in range(5000):\n    x = [x]\nraise ValueError(x)",
        "raise UserError(['x' * 1000] * 10000)",
        "raise KeyError(list(range(10**6)))",
    ],
)
def test_unprintable_messages_still_give_a_sandbox_error(
    source: str, helpers: dict[str, Any]
) -> None:
    with pytest.raises(SandboxError) as caught:
        Sandbox().execute(source, helpers)
    assert caught.value.kind == "error"
    assert "too large to show" in caught.value.message
