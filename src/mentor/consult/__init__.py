"""``mentor.consult``: LLM-consulted GNN training (LOGIN)."""

from mentor.consult.config import ConsultConfig
from mentor.consult.loop import Consultation, ConsultResult, RoundReport, run
from mentor.consult.prompt import NodeView, PromptOptions, build_prompt, load_templates
from mentor.consult.report import summary, write_outputs

__all__ = [
    "ConsultConfig",
    "ConsultResult",
    "Consultation",
    "NodeView",
    "PromptOptions",
    "RoundReport",
    "build_prompt",
    "load_templates",
    "run",
    "summary",
    "write_outputs",
]
