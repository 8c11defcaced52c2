"""Answering with a trained student: greedy generation from the ``predict:`` prompt, no teacher involved."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mentor.distill.formats import predict_prompt


@torch.no_grad()
def generate_answers(
    model, tokenizer, inputs: Sequence[str], seq2seq: bool, max_new_tokens: int = 48, batch_size: int = 16
) -> list[str]:
    """The student's answer to each input (the first line of its greedy continuation of ``predict: <input>``).

    Inputs are used as given: clip long ones first (:func:`mentor.distill.encoding.clip_text`), as in training."""
    model.eval()
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "right" if seq2seq else "left"
    answers: list[str] = []
    stop = [tokenizer.eos_token_id]
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    if not seq2seq and len(newline) == 1:  # the answer is the first line: stop there
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
                answers.append(text.strip().split("\n")[0].strip())
    finally:
        tokenizer.padding_side = side
    return answers
