"""Rows as token ids: prompt and target, with the loss only on the target, and batches of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from mentor.distill.formats import KINDS, Row

IGNORE = -100


def clip_text(tokenizer, text: str, max_tokens: int) -> str:
    """``text`` cut to its first ``max_tokens`` tokens (unchanged if shorter)."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if len(ids) <= max_tokens else tokenizer.decode(ids[:max_tokens]).rstrip() + " …"


def encode_row(tokenizer, row: Row, seq2seq: bool, max_target_tokens: int = 128) -> dict[str, Any]:
    """Token ids of one row. Causal LM: ``prompt + target + eos`` with labels masked on the prompt; seq2seq: the
    prompt as encoder input and ``target + eos`` as labels. ``label_kinds`` gives each label token's loss term:
    the row's kind, and ``explain`` for a rationale that follows (or, ``rationale_first``, precedes) the target,
    a new line between them. Target and rationale are each cut to ``max_target_tokens``."""
    prompt = tokenizer(row.prompt, add_special_tokens=seq2seq)["input_ids"]
    target = tokenizer(row.target, add_special_tokens=False)["input_ids"][:max_target_tokens]
    kinds = [KINDS.index(row.kind)] * len(target)
    if row.rationale:
        newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
        rationale = tokenizer(row.rationale, add_special_tokens=False)["input_ids"][:max_target_tokens]
        explain = [KINDS.index("explain")] * len(rationale)
        if row.rationale_first:
            target, kinds = rationale + newline + target, explain + [KINDS.index(row.kind)] * len(newline) + kinds
        else:
            target, kinds = target + newline + rationale, kinds + [KINDS.index(row.kind)] * len(newline) + explain
    target.append(tokenizer.eos_token_id)
    kinds.append(kinds[-1] if kinds else KINDS.index(row.kind))
    if seq2seq:
        input_ids, labels, label_kinds = prompt, target, kinds
    else:
        input_ids, labels = prompt + target, [IGNORE] * len(prompt) + target
        label_kinds = [IGNORE] * len(prompt) + kinds
    return {"input_ids": input_ids, "labels": labels, "label_kinds": label_kinds, "weight": row.weight}


class RowCollator:
    """Pads a batch of examples, each a list of encoded rows, into one batch of rows.

    Causal LMs are padded on the left, with position ids that start at each row's first token, so that every
    row's target ends in the last column and the loss needs logits for the last columns only (``logits_to_keep``);
    seq2seq inputs and labels are padded on the right."""

    def __init__(self, pad_token_id: int, seq2seq: bool = False) -> None:
        self.pad_token_id, self.seq2seq = pad_token_id, seq2seq

    def __call__(self, examples: Sequence[list[dict[str, Any]]]) -> dict[str, torch.Tensor]:
        rows = [row for example in examples for row in example]
        width = max(len(r["input_ids"]) for r in rows)
        label_width = width if not self.seq2seq else max(len(r["labels"]) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), label_width), IGNORE)
        label_kinds = torch.full((len(rows), label_width), IGNORE)
        for i, row in enumerate(rows):
            n, m = len(row["input_ids"]), len(row["labels"])
            inputs = slice(0, n) if self.seq2seq else slice(width - n, width)
            targets = slice(0, m) if self.seq2seq else slice(label_width - m, label_width)
            input_ids[i, inputs] = torch.tensor(row["input_ids"])
            attention[i, inputs] = 1
            labels[i, targets] = torch.tensor(row["labels"])
            label_kinds[i, targets] = torch.tensor(row["label_kinds"])
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention,
            "labels": labels,
            "label_kinds": label_kinds,
            "weight": torch.tensor([r["weight"] for r in rows], dtype=torch.float),
        }
        if not self.seq2seq:
            batch["position_ids"] = (attention.cumsum(1) - 1).clamp(min=0)
        return batch


def logits_needed(labels: torch.Tensor) -> int:
    """How many final columns of a left-padded causal batch need logits: from the one before the first target
    token to the end (each column's logits predict the next token)."""
    columns = (labels != IGNORE).any(0).nonzero()
    return int(labels.shape[1] - columns[0]) + 1 if len(columns) else 1
