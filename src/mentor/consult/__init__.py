"""``mentor.consult``: LLM-consulted GNN training: the gated strategy (default) and LOGIN's loop."""

from mentor.consult.config import ConsultConfig
from mentor.consult.gate import Gate, calibrate
from mentor.consult.gated import GatedConsultation, GatedResult
from mentor.consult.loop import Consultation, ConsultResult, RoundReport
from mentor.consult.prompt import NodeView, PromptOptions, build_prompt, load_templates
from mentor.consult.report import gated_summary, summary, write_gated_outputs, write_outputs
from mentor.consult.strategy import STRATEGIES, make_consultation, run

__all__ = [
    "STRATEGIES",
    "ConsultConfig",
    "ConsultResult",
    "Consultation",
    "Gate",
    "GatedConsultation",
    "GatedResult",
    "NodeView",
    "PromptOptions",
    "RoundReport",
    "build_prompt",
    "calibrate",
    "gated_summary",
    "load_templates",
    "make_consultation",
    "run",
    "summary",
    "write_gated_outputs",
    "write_outputs",
]
