import pytest

from mentor.distill.arithmetic import NotArithmetic, evaluate, variants


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


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("(84 / 2)", ["(84 + 2)", "(84 - 2)", "(84 * 2)", "(2 / 84)"]),
        # the operands of a swap keep their parentheses; a swap with the original's value (3 - 3) is left out
        (
            "((3)) - ((2 + 1))",
            [
                "((3)) + ((2 + 1))",
                "((3)) * ((2 + 1))",
                "((3)) / ((2 + 1))",
                "((3)) - ((2 - 1))",
                "((3)) - ((2 * 1))",
                "((3)) - ((2 / 1))",
            ],
        ),
        (
            "( 6.0 - 2.0 ) / 8.0",
            [
                "( 6.0 - 2.0 ) + 8.0",
                "( 6.0 - 2.0 ) - 8.0",
                "( 6.0 - 2.0 ) * 8.0",
                "8.0 / ( 6.0 - 2.0 )",
                "( 6.0 + 2.0 ) / 8.0",
                "( 6.0 * 2.0 ) / 8.0",
                "( 6.0 / 2.0 ) / 8.0",
                "( 2.0 - 6.0 ) / 8.0",
            ],
        ),
        ("(2*2)", ["(2-2)", "(2/2)"]),  # 2+2 has the same value: not a miss
        ("(5 - 5) / 1", ["(5 - 5) + 1", "(5 - 5) - 1", "(5 + 5) / 1", "(5 * 5) / 1", "(5 / 5) / 1"]),  # no 1/0
        ("7", []),
        ("x + 1", []),
    ],
)
def test_variants_change_only_the_arithmetic(expression, expected):
    found = variants(expression)
    assert found == expected
    assert all(abs(evaluate(v) - evaluate(expression)) > 1e-9 for v in found)
