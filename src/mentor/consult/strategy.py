"""The consultation strategies by name, and one entry point that runs the configured one."""

from __future__ import annotations

from typing import Any

from mentor.consult.config import ConsultConfig
from mentor.consult.gated import GatedConsultation, GatedResult
from mentor.consult.loop import Consultation, ConsultResult
from mentor.llm import LLMClient

STRATEGIES: dict[str, type[Consultation]] = {"gated": GatedConsultation, "login": Consultation}


def make_consultation(config: ConsultConfig, client: LLMClient, **kwargs: Any) -> Consultation:
    """The strategy object of ``config.strategy`` (``kwargs``: ``graph``, ``encoder``, ``progress``)."""
    return STRATEGIES[config.strategy](config, client, **kwargs)


def run(config: ConsultConfig, client: LLMClient, **kwargs: Any) -> ConsultResult | GatedResult:
    """Run ``config.strategy`` on ``config.dataset`` with ``client`` as the consultant."""
    return make_consultation(config, client, **kwargs).run()


__all__ = ["STRATEGIES", "make_consultation", "run"]
