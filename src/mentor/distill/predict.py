"""Answering with a trained student: greedy generation from the ``predict:`` prompt, no teacher involved."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mentor.distill.formats import predict_prompt, read_answer


@torch.no_grad()
def generate_answers(
    model,
    tokenizer,
    inputs: Sequence[str],
    seq2seq: bool,
    max_new_tokens: int = 48,
    batch_size: int = 16,
    reasons_first: bool = False,
) -> list[str]:
    """The student's answer to each input: the first line of its greedy continuation of ``predict: <input>``, or
    with ``reasons_first`` (a student that writes its rationale, then its answer) the last line.

    Inputs are used as given: clip long ones first (:func:`mentor.distill.encoding.clip_text`), as in training."""
    model.eval()
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "right" if seq2seq else "left"
    answers: list[str] = []
    stop = [tokenizer.eos_token_id]
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    if not seq2seq and len(newline) == 1 and not reasons_first:  # the answer is the first line: stop there
        stop += newline
    try:
        for start in range(0, len(inputs), batch_size):
            prompts = [predict_prompt(text) for text in inputs[start : start + batch_size]]
            # special tokens as in training (encode_row): only a seq2seq encoder input gets them
            batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=seq2seq).to(device)
            output = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=stop,
            )
            new = output if seq2seq else output[:, batch["input_ids"].shape[1] :]
            for text in tokenizer.batch_decode(new, skip_special_tokens=True):
                answers.append(read_answer(text, reasons_first))
    finally:
        tokenizer.padding_side = side
    return answers


#: written beside a trained student's weights: how it answers (read by ``mentor distill predict``)
ANSWERING = "answering.json"


class Answering(BaseModel):
    """How a trained student answers: on the last line after its reasoning (``reasons_first``) or on the first,
    in up to ``max_new_tokens`` tokens."""

    model_config = ConfigDict(extra="ignore")
    reasons_first: bool = False
    max_new_tokens: int = Field(default=48, ge=1)

    @classmethod
    def of(cls, folder: Path) -> Answering:
        """Read from ``folder`` (a student saved without :data:`ANSWERING` answers on its first line)."""
        path = Path(folder) / ANSWERING
        if not path.is_file():
            return cls()
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as error:
            raise ValueError(f"{path}: {error}") from None
