"""Safe evaluation of the arithmetic answers of math word problems (``"( 84.0 / 2.0 )"``): numbers, + - * /,
unary minus and parentheses; nothing else is ever evaluated."""

from __future__ import annotations

import ast
import operator

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
MAX_LENGTH = 200
_SYMBOLS = "+-*/"


class NotArithmetic(ValueError):
    """The text is not a plain arithmetic expression, or it cannot be evaluated (division by zero)."""


def evaluate(expression: str) -> float:
    """The value of ``expression``; raises :class:`NotArithmetic` for anything but plain arithmetic."""
    if len(expression) > MAX_LENGTH:
        raise NotArithmetic(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise NotArithmetic(f"not an arithmetic expression: {expression!r}") from None
    return _value(tree.body)


def _value(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _value(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        try:
            return _BINARY[type(node.op)](left, right)
        except ZeroDivisionError:
            raise NotArithmetic("division by zero") from None
    raise NotArithmetic(f"not plain arithmetic: {ast.dump(node)[:60]}")


def _with_parentheses(text: bytes, start: int, end: int) -> tuple[int, int]:
    """Widen the span of an operand (``ast`` offsets leave out its parentheses) to the parentheses around it."""
    while True:
        before, after = text[:start].rstrip(), text[end:].lstrip()
        if not (before.endswith(b"(") and after.startswith(b")")):
            return start, end
        start, end = len(before) - 1, len(text) - len(after) + 1


def variants(expression: str) -> list[str]:
    """Near misses of ``expression``: one operator replaced, or the operands of one ``-`` or ``/`` swapped.

    The rest of the text is kept character for character, so a variant differs from the original only where
    its arithmetic does; variants that cannot be evaluated or that have the original's value are left out, and
    an expression over several lines has none. ``"(84 / 2)"`` → ``["(84 + 2)", "(84 - 2)", "(84 * 2)", "(2 / 84)"]``.
    """
    source = expression.strip()
    try:
        value = evaluate(source)
    except NotArithmetic:
        return []
    if "\n" in source:
        return []
    text = source.encode()  # ast offsets count bytes
    found: list[bytes] = []
    for node in ast.walk(ast.parse(source, mode="eval")):
        if not isinstance(node, ast.BinOp):
            continue
        left_end, right_start = node.left.end_col_offset or 0, node.right.col_offset
        at = left_end + next(i for i, c in enumerate(text[left_end:right_start]) if chr(c) in _SYMBOLS)
        for other in _SYMBOLS.encode():
            if other != text[at]:
                found.append(text[:at] + bytes([other]) + text[at + 1 :])
        if isinstance(node.op, ast.Sub | ast.Div):
            left_start, left_end = _with_parentheses(text, node.left.col_offset, left_end)
            right_start, right_end = _with_parentheses(text, right_start, node.right.end_col_offset or 0)
            left, right = text[left_start:left_end], text[right_start:right_end]
            found.append(text[:left_start] + right + text[left_end:right_start] + left + text[right_end:])
    kept: list[str] = []
    for candidate in (f.decode() for f in found):
        try:
            differs = abs(evaluate(candidate) - value) > 1e-9 * max(1.0, abs(value))
        except NotArithmetic:
            continue
        if differs and candidate not in kept:
            kept.append(candidate)
    return kept
