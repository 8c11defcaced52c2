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
    prompt as encoder input and ``target + eos`` as labels."""
    prompt = tokenizer(row.prompt, add_special_tokens=seq2seq)["input_ids"]
    target = tokenizer(row.target, add_special_tokens=False)["input_ids"][:max_target_tokens] + [tokenizer.eos_token_id]
    if seq2seq:
        input_ids, labels = prompt, target
    else:
        input_ids, labels = prompt + target, [IGNORE] * len(prompt) + target
    return {"input_ids": input_ids, "labels": labels, "kind": KINDS.index(row.kind), "weight": row.weight}


class RowCollator:
    """Pads a batch of examples, each a list of encoded rows, into one batch of rows."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, examples: Sequence[list[dict[str, Any]]]) -> dict[str, torch.Tensor]:
        rows = [row for example in examples for row in example]
        width = max(len(r["input_ids"]) for r in rows)
        label_width = max(len(r["labels"]) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_token_id)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        labels = torch.full((len(rows), label_width), IGNORE)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            input_ids[i, :n] = torch.tensor(row["input_ids"])
            attention[i, :n] = 1
            labels[i, : len(row["labels"])] = torch.tensor(row["labels"])
        return {
            "input_ids": input_ids,
            "attention_mask": attention,
            "labels": labels,
            "kind": torch.tensor([r["kind"] for r in rows]),
            "weight": torch.tensor([r["weight"] for r in rows], dtype=torch.float),
        }
