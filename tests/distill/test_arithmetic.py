import pytest

from mentor.distill.arithmetic import NotArithmetic, evaluate


@pytest.mark.parametrize(
    ("expression", "value"),
    [("( 84.0 / 2.0 )", 42.0), ("((17.0 + 15.0) + 2.0)", 34.0), ("-3 * (2 - 5)", 9.0), ("7", 7.0)],
)
def test_plain_arithmetic(expression, value):
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "2 ** 3", "x + 1", "(1, 2)", "1 / 0", "1 +", "True + 1", "9" * 300],
)
def test_anything_else_is_refused(expression):
    with pytest.raises(NotArithmetic):
        evaluate(expression)
