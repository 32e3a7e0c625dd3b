"""The compile-time policy: RestrictedPython's, made stricter and budget-aware.

On top of :class:`RestrictedPython.RestrictingNodeTransformer` (no names or
attributes starting with ``_``, attribute and item access through guards...)
this policy

* refuses ``import``, ``class`` and ``with`` (nothing to import, no classes to
  define, no context managers to enter);
* inserts ``_tick_()`` at the top of every ``while`` body and every function
  and in front of every lambda body, and iterates every ``for`` loop and
  comprehension through ``_getiter_``, which ticks for the items (charged when
  the loop starts for containers of known length, see
  :meth:`~nightpos_app.sandbox.budget.Budget.getiter`), so that no loop or
  recursion escapes the CPU budget;
* rewrites the operators that can build huge values (``+ * ** << %``, and
  ``- | & ^`` which hash any iterable in C when one side is a dict view) and
  f-string fields into size-checked calls, and ``in`` into ``_contains_``
  (a range searched for a non-int would loop in C);
* guards starred unpacking (``*x`` in calls and displays, ``a, *b = x``),
  which materialises an iterable in C;
* supports ``obj[k] += v`` and ``obj.attr += v`` through the guards
  (RestrictedPython refuses them), and turns ``name += v`` into
  ``name = _iadd_(name, v)``, without ``_inplacevar_``'s dispatch on the operator.
"""

from __future__ import annotations

import ast
from typing import Any

from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)

_BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
    # Dict views take any iterable on the other side and hash it in C.
    ast.Sub: "_sub_",
    ast.BitOr: "_or_",
    ast.BitAnd: "_and_",
    ast.BitXor: "_xor_",
}


#: In-place operators that can grow a value, or hash any iterable in C (``|=``
#: updates a dict from pairs; dict views take any iterable).
_INPLACE_GUARDED = (
    *(ast.Add, ast.Mult, ast.Pow, ast.LShift, ast.Mod),
    *(ast.Sub, ast.BitOr, ast.BitAnd, ast.BitXor),
)


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, like)  # type: ignore[arg-type]
    return node


def _has_starred(target: ast.AST) -> bool:
    return isinstance(target, (ast.Tuple, ast.List)) and any(
        isinstance(element, ast.Starred) for element in target.elts
    )


def _nested_starred(target: ast.AST) -> bool:
    if not isinstance(target, (ast.Tuple, ast.List)):
        return False
    for element in target.elts:
        inner = element.value if isinstance(element, ast.Starred) else element
        if isinstance(inner, (ast.Tuple, ast.List)) and (
            _has_starred(inner) or _nested_starred(inner)
        ):
            return True
    return False


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus ticks, size guards and a few refusals."""

    def _tick(self, like: ast.AST) -> ast.Call:
        return _call("_tick_", [], like)

    def _tick_statement(self, like: ast.AST) -> ast.Expr:
        statement = ast.Expr(self._tick(like))
        copy_locations(statement, like)  # type: ignore[arg-type]
        return statement

    def _check_target(self, node: ast.AST, target: ast.AST) -> None:
        if _nested_starred(target):
            self.error(node, "Starred assignment inside a nested target is not allowed.")

    # ---------------------------------------------------------- refusals
    def visit_Import(self, node: ast.Import) -> Any:
        self.error(
            node,
            "Import statements are not allowed; use the names the code is given "
            "(datetime, time, json, log, UserError).",
        )
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        return self.visit_Import(node)  # type: ignore[arg-type]

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "Class definitions are not allowed.")
        return node

    def visit_With(self, node: ast.With) -> Any:
        self.error(node, "With statements are not allowed.")
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        """``x: T = v`` is ``x = v`` (the annotation is dropped, never evaluated)."""
        if not isinstance(node.target, ast.Name):
            self.error(node, "Annotated assignments are only allowed to a simple name.")
            return node
        replacement: ast.stmt
        if node.value is None:
            replacement = ast.Pass()
        else:
            replacement = ast.Assign(targets=[node.target], value=node.value)
        copy_locations(replacement, node)
        return self.visit(replacement)

    # ----------------------------------------------------- ticks (budget)
    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        node.body.insert(0, self._tick_statement(node))
        return node

    def visit_For(self, node: ast.For) -> Any:
        node = self.guard_iter(node)
        if not self._ticks_per_item(node):
            node.body.insert(0, self._tick_statement(node))
        return node

    def visit_comprehension(self, node: ast.comprehension) -> Any:
        node = self.guard_iter(node)
        if not self._ticks_per_item(node):
            node.ifs.insert(0, self._tick(node.iter))
        return node

    @staticmethod
    def _ticks_per_item(node: Any) -> bool:
        # _getiter_ (the budget's) ticks for the items itself; _iter_starred_ does not.
        func = node.iter.func
        return isinstance(func, ast.Name) and func.id == "_getiter_"

    def guard_iter(self, node: Any) -> Any:
        """``for x in it`` -> ``for x in _getiter_(it)``; starred targets unpack safely."""
        node = self.node_contents_visit(node)
        self._check_target(node, node.target)
        name = "_iter_starred_" if _has_starred(node.target) else "_getiter_"
        node.iter = _call(name, [node.iter], node.iter)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, self._tick_statement(node.body[0] if node.body else node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = super().visit_Lambda(node)
        body = ast.BoolOp(op=ast.And(), values=[self._tick(node.body), node.body])
        copy_locations(body, node.body)
        node.body = body
        return node

    # ------------------------------------------------------- size guards
    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        if guard is None:
            return node
        return _call(guard, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if isinstance(target, ast.Name):
            if type(node.op) not in _INPLACE_GUARDED:
                # /= //= >>= @= never grow a value: no guard needed.
                return self.node_contents_visit(node)
            if isinstance(node.op, ast.Add):  # the common case, without the operator's dispatch
                node = self.node_contents_visit(node)
                load = ast.Name(target.id, ast.Load())
                assign = ast.Assign(
                    targets=[target], value=_call("_iadd_", [load, node.value], node)
                )
                copy_locations(assign, node)
                return assign
            return super().visit_AugAssign(node)
        op = ast.Constant(IOPERATOR_TO_STR[type(node.op)])
        value = self.visit(node.value)
        if isinstance(target, ast.Subscript):
            if any(isinstance(n, ast.Slice) for n in ast.walk(target.slice)):
                self.error(node, "Augmented assignment to a slice is not allowed.")
                return node
            call = _call(
                "_augitem_", [self.visit(target.value), self.visit(target.slice), op, value], node
            )
        elif isinstance(target, ast.Attribute):
            name = target.attr
            if name.startswith("_") or name.endswith("__roles__") or name in INSPECT_ATTRIBUTES:
                self.error(node, f'"{name}" is an invalid attribute name.')
                return node
            call = _call(
                "_augattr_", [self.visit(target.value), ast.Constant(name), op, value], node
            )
        else:  # pragma: no cover - the grammar allows nothing else
            self.error(node, "Unsupported augmented assignment target.")
            return node
        statement = ast.Expr(call)
        copy_locations(statement, node)
        return statement

    def visit_Assign(self, node: ast.Assign) -> Any:
        node = self.node_contents_visit(node)
        for target in node.targets:
            self._check_target(node, target)
        if any(_has_starred(target) for target in node.targets):
            node.value = _call("_unpackiter_", [node.value], node.value)
        return node

    def visit_Starred(self, node: ast.Starred) -> Any:
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):
            node.value = _call("_unpackiter_", [node.value], node.value)
        return node

    def visit_Compare(self, node: ast.Compare) -> Any:
        node = self.node_contents_visit(node)
        if not any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            return node
        if len(node.ops) > 1:
            self.error(node, "Chained comparisons with 'in' or 'not in' are not allowed.")
            return node
        call: ast.expr = _call("_contains_", [node.left, node.comparators[0]], node)
        if isinstance(node.ops[0], ast.NotIn):
            call = ast.UnaryOp(op=ast.Not(), operand=call)
            copy_locations(call, node)
        return call

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        args: list[ast.expr] = [node.value, ast.Constant(node.conversion)]
        if node.format_spec is not None:
            args.append(node.format_spec)
        node.value = _call("_format_", args, node.value)
        node.conversion = -1
        node.format_spec = None
        return node
