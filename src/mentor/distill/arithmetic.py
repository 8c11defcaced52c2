"""Safe evaluation of the arithmetic answers of math word problems (``"( 84.0 / 2.0 )"``): numbers, + - * /,
unary minus and parentheses; nothing else is ever evaluated."""

from __future__ import annotations

import ast
import operator

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
MAX_LENGTH = 200


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
