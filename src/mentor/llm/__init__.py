"""``mentor.llm``: one client for every teacher model.

>>> from mentor.llm import LLMClient, LLMConfig, Labels
>>> client = LLMClient(LLMConfig(llm="local:qwen2.5-1.5b"))
>>> answer = client.ask("Is a whale a fish?", output=Labels(labels=("yes", "no")))
>>> answer.label, answer.parsed["explanation"], answer.cached
"""

from mentor.llm.budget import BudgetExceeded, BudgetLimits, Price
from mentor.llm.client import LLMClient, LLMError
from mentor.llm.config import DEFAULT_LLM, LLMConfig, LLMSpec, parse_spec
from mentor.llm.models import BUILTIN_MODELS, ModelNotAvailable
from mentor.llm.output import InvalidOutput, JsonSchema, Labels, parse_output
from mentor.llm.store import ResponseStore, StoreError
from mentor.llm.types import ChatRequest, Completion, Decoding, Failure, Message, Result, Timings, Usage

__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_LLM",
    "BudgetExceeded",
    "BudgetLimits",
    "ChatRequest",
    "Completion",
    "Decoding",
    "Failure",
    "InvalidOutput",
    "JsonSchema",
    "LLMClient",
    "LLMConfig",
    "LLMError",
    "LLMSpec",
    "Labels",
    "Message",
    "ModelNotAvailable",
    "Price",
    "ResponseStore",
    "Result",
    "StoreError",
    "Timings",
    "Usage",
    "parse_output",
    "parse_spec",
]
