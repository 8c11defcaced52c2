"""Hard budgets on calls, tokens and estimated cost, checked before every call.

A call first *reserves* its worst case (the estimated prompt plus ``max_tokens`` of output); the reservation is
replaced by the real usage when the answer arrives. So concurrent calls can never overshoot a limit.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


class Price(BaseModel):
    """US dollars per million tokens."""

    model_config = ConfigDict(frozen=True)
    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6


class BudgetLimits(BaseModel):
    """Limits for one client (one run); ``None`` means unlimited. Answers from the store cost nothing."""

    model_config = ConfigDict(frozen=True)
    max_calls: int | None = Field(default=None, ge=0)
    max_input_tokens: int | None = Field(default=None, ge=0)
    max_output_tokens: int | None = Field(default=None, ge=0)
    max_cost: float | None = Field(default=None, ge=0)


class BudgetExceeded(RuntimeError):
    """A new call would pass a limit; no call was made."""


def estimate_prompt_tokens(chars: int) -> int:
    """A deliberately high estimate (3 characters per token, plus chat-template overhead)."""
    return math.ceil(chars / 3) + 16


@dataclass
class Reservation:
    calls: int
    input_tokens: int
    output_tokens: int
    cost: float


@dataclass
class Budget:
    """Running totals against :class:`BudgetLimits`, thread-safe."""

    limits: BudgetLimits = field(default_factory=BudgetLimits)
    price: Price = field(default_factory=Price)
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, prompt_chars: int, max_tokens: int) -> Reservation:
        """Book one call's worst case, or raise :class:`BudgetExceeded` naming the limit it would pass."""
        est_in = estimate_prompt_tokens(prompt_chars)
        want = Reservation(1, est_in, max_tokens, self.price.cost(est_in, max_tokens))
        with self._lock:
            checks = (
                ("calls", self.calls + want.calls, self.limits.max_calls),
                ("input tokens", self.input_tokens + want.input_tokens, self.limits.max_input_tokens),
                ("output tokens", self.output_tokens + want.output_tokens, self.limits.max_output_tokens),
                ("cost", self.cost + want.cost, self.limits.max_cost),
            )
            for name, after, limit in checks:
                if limit is not None and after > limit:
                    raise BudgetExceeded(
                        f"budget reached: {name} would be {after:g} with this call, the limit is {limit:g}; "
                        "no new calls are made, answers already received are kept"
                    )
            self._add(want, 1)
        return want

    def settle(self, reservation: Reservation, prompt_tokens: int, completion_tokens: int) -> float:
        """Replace a reservation by the real usage of the call; returns that call's cost."""
        cost = self.price.cost(prompt_tokens, completion_tokens)
        with self._lock:
            self._add(reservation, -1)
            self._add(Reservation(1, prompt_tokens, completion_tokens, cost), 1)
        return cost

    def _add(self, r: Reservation, sign: int) -> None:
        self.calls += sign * r.calls
        self.input_tokens += sign * r.input_tokens
        self.output_tokens += sign * r.output_tokens
        self.cost += sign * r.cost
