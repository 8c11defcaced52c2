import pytest

from mentor.llm import BudgetExceeded, BudgetLimits, Price
from mentor.llm.budget import Budget, estimate_prompt_tokens


def test_call_limit():
    budget = Budget(BudgetLimits(max_calls=2))
    for _ in range(2):
        budget.settle(budget.reserve(100, 10), 30, 5)
    with pytest.raises(BudgetExceeded, match="calls would be 3 with this call, the limit is 2"):
        budget.reserve(100, 10)
    assert budget.calls == 2 and budget.input_tokens == 60 and budget.output_tokens == 10


def test_reservation_is_the_worst_case_and_is_replaced_by_real_usage():
    budget = Budget(BudgetLimits(max_output_tokens=100))
    first = budget.reserve(30, 60)
    assert budget.output_tokens == 60
    with pytest.raises(BudgetExceeded, match="output tokens"):
        budget.reserve(30, 60)  # would pass the limit while the first is in flight
    budget.settle(first, 10, 20)
    assert budget.output_tokens == 20
    budget.reserve(30, 60)


def test_input_token_estimate_is_conservative():
    assert estimate_prompt_tokens(300) >= 100
    budget = Budget(BudgetLimits(max_input_tokens=50))
    with pytest.raises(BudgetExceeded, match="input tokens"):
        budget.reserve(300, 1)


def test_cost_limit_uses_prices():
    price = Price(input_per_mtok=1_000_000.0, output_per_mtok=0.0)  # $1 per prompt token
    budget = Budget(BudgetLimits(max_cost=100.0), price)
    reservation = budget.reserve(30, 10)
    assert budget.settle(reservation, 26, 10) == pytest.approx(26.0)
    with pytest.raises(BudgetExceeded, match="cost"):
        budget.reserve(300, 10)
