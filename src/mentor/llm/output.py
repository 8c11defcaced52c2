"""Required output formats and the defensive parser for what a model returns.

A model's reply is untrusted input. :func:`parse_output` accepts it only when it is valid JSON matching the
requested schema and, for :class:`Labels`, names one of the allowed labels; anything else raises
:class:`InvalidOutput` with the reason, so that no invalid label is ever passed on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, field_validator

FailureReason = Literal[
    "empty",
    "malformed_output",
    "invalid_label",
    "schema_mismatch",
    "timeout",
    "connection",
    "rate_limited",
    "server_error",
    "bad_response",
    "http_error",
    "context_overflow",
    "budget",
]


class InvalidOutput(ValueError):
    """The model answered, but the answer cannot be used."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class Labels(BaseModel):
    """Answer with exactly one of ``labels`` and, if ``explain``, a short explanation.

    The label comes first in the schema so that a reply cut off by ``max_tokens`` still carries it. With
    ``probabilities`` the answer also carries the model's probability of each label
    (:attr:`Completion.label_probs`), read from token log-probabilities where the backend reports them.
    """

    model_config = ConfigDict(frozen=True)
    kind: Literal["labels"] = "labels"
    labels: tuple[str, ...]
    explain: bool = True
    max_explanation_chars: int = Field(default=600, gt=0)
    probabilities: bool = False

    @field_validator("labels")
    @classmethod
    def _distinct_non_empty(cls, labels: tuple[str, ...]) -> tuple[str, ...]:
        if not labels:
            raise ValueError("at least one label is required")
        if any(not label.strip() for label in labels):
            raise ValueError("labels must be non-empty strings")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct, got {list(labels)}")
        return labels

    def json_schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {"label": {"type": "string", "enum": list(self.labels)}}
        required = ["label"]
        if self.explain:
            properties["explanation"] = {"type": "string", "maxLength": self.max_explanation_chars}
            required.append("explanation")
        return {"type": "object", "properties": properties, "required": required}

    def instruction(self) -> str:
        """A plain-language description of the format, for endpoints without constrained decoding."""
        fields = '"label": one of ' + ", ".join(json.dumps(label) for label in self.labels)
        if self.explain:
            fields += '; "explanation": one or two sentences'
        return f"Reply with a single JSON object with the fields {fields}. No other text."


class JsonSchema(BaseModel):
    """Answer with a JSON value matching an arbitrary JSON Schema."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["json_schema"] = "json_schema"
    name: str = "answer"
    definition: dict[str, Any]

    @field_validator("definition")
    @classmethod
    def _valid_schema(cls, definition: dict[str, Any]) -> dict[str, Any]:
        jsonschema.Draft202012Validator.check_schema(definition)
        return definition

    def json_schema(self) -> dict[str, Any]:
        return self.definition

    def instruction(self) -> str:
        return "Reply with a single JSON value matching this JSON Schema, and no other text:\n" + json.dumps(
            self.definition
        )


OutputSpec = Annotated[Labels | JsonSchema, Field(discriminator="kind")]


@dataclass(frozen=True)
class ParsedOutput:
    """A validated reply: the parsed JSON, the label if one was required, and whether it had to be repaired."""

    parsed: Any
    label: str | None
    repaired: bool = False


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_LABEL_FIELD = re.compile(r'"label"\s*:\s*"((?:[^"\\]|\\.)*)"')
_EXPLANATION_START = re.compile(r'"explanation"\s*:\s*"((?:[^"\\]|\\.)*)')


def parse_output(spec: Labels | JsonSchema | None, text: str) -> ParsedOutput:
    """Validate a model's reply against ``spec`` (``None``: free text, which must be non-empty)."""
    if not text or not text.strip():
        raise InvalidOutput("empty", "the model returned no text")
    if spec is None:
        return ParsedOutput(parsed=None, label=None)
    try:
        value = _load_json(text)
    except ValueError as error:
        if isinstance(spec, Labels):
            recovered = _recover_truncated_label(spec, text)
            if recovered is not None:
                return recovered
        raise InvalidOutput("malformed_output", f"{error}; reply starts {text[:80]!r}") from None
    if isinstance(spec, Labels):
        return _check_labels(spec, value)
    errors = sorted(jsonschema.Draft202012Validator(spec.definition).iter_errors(value), key=str)
    if errors:
        raise InvalidOutput("schema_mismatch", errors[0].message)
    return ParsedOutput(parsed=value, label=None)


def _load_json(text: str) -> Any:
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    last_error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as error:
            last_error = error
    raise ValueError(f"not valid JSON ({last_error})")


def _match_label(spec: Labels, raw: Any) -> str:
    if not isinstance(raw, str):
        raise InvalidOutput("invalid_label", f"label must be a string, got {type(raw).__name__}")
    if raw in spec.labels:
        return raw
    folded = [label for label in spec.labels if label.casefold() == raw.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    raise InvalidOutput("invalid_label", f"{raw[:80]!r} is not one of {list(spec.labels)}")


def _check_labels(spec: Labels, value: Any) -> ParsedOutput:
    if not isinstance(value, dict):
        raise InvalidOutput("schema_mismatch", f"expected a JSON object, got {type(value).__name__}")
    if "label" not in value:
        raise InvalidOutput("schema_mismatch", "the reply has no 'label' field")
    label = _match_label(spec, value["label"])
    parsed: dict[str, Any] = {"label": label}
    if spec.explain:
        explanation = value.get("explanation")
        if not isinstance(explanation, str):
            raise InvalidOutput("schema_mismatch", "the reply has no string 'explanation' field")
        parsed["explanation"] = explanation.strip()[: spec.max_explanation_chars]
    return ParsedOutput(parsed=parsed, label=label, repaired=label != value["label"])


def _recover_truncated_label(spec: Labels, text: str) -> ParsedOutput | None:
    """Recover the label (and the explanation so far) from a reply cut off mid-JSON."""
    match = _LABEL_FIELD.search(text)
    if match is None:
        return None
    try:
        label = _match_label(spec, json.loads(f'"{match.group(1)}"'))
    except (InvalidOutput, json.JSONDecodeError):
        return None
    parsed: dict[str, Any] = {"label": label}
    if spec.explain:
        partial = _EXPLANATION_START.search(text, match.end())
        explanation = partial.group(1) if partial else ""
        try:
            explanation = json.loads(f'"{explanation.rstrip(chr(92))}"')
        except json.JSONDecodeError:
            pass
        parsed["explanation"] = explanation.strip()[: spec.max_explanation_chars]
    return ParsedOutput(parsed=parsed, label=label, repaired=True)
