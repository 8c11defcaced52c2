"""Answering with a trained student: greedy generation from the ``predict:`` prompt, no teacher involved."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mentor.distill.formats import predict_prompt, read_answer
from mentor.errors import DataError
from mentor.readers import json_document


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
        if not path.exists():
            return cls()
        if not path.is_file():
            raise DataError("not a file (expected a JSON object)", file=path)
        try:
            return cls.model_validate(json_document(path))
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            raise DataError(f"{first['msg']}, got {first['input']!r}"[:200], file=path, field=field) from None


class StudentDirError(DataError):
    """A directory that does not hold a student ``mentor distill predict`` can load."""


#: Weight files that are pickles: loading one can run code, so a student is loaded from safetensors only.
PICKLED_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl", "*.pickle")


def check_student_dir(directory: Path) -> None:
    """Check, before anything is loaded, that ``directory`` holds a trained student in the Hugging Face layout
    with safetensors weights (:class:`StudentDirError` otherwise, naming the file). Pickled weights
    (``pytorch_model.bin`` …) are never loaded."""
    directory = Path(directory)
    if not directory.is_dir():
        raise StudentDirError("not a directory (expected a distillation run's --out, or its student/)", file=directory)
    config = directory / "config.json"
    if not config.exists():
        raise StudentDirError("no trained student here (expected config.json)", file=directory)
    if not config.is_file():
        raise StudentDirError("not a file (expected the student's JSON configuration)", file=config)
    settings = json_document(config)
    if not isinstance(settings, dict):
        raise StudentDirError(f"expected a JSON object, got {type(settings).__name__}", file=config)
    if not isinstance(settings.get("model_type"), str):
        raise StudentDirError('expected a string naming the architecture (e.g. "llama")', file=config,
                              field="model_type")  # fmt: skip
    weights = [p for p in directory.glob("*.safetensors") if p.is_file()]
    if (directory / "model.safetensors").exists() and not (directory / "model.safetensors").is_file():
        raise StudentDirError("not a file (expected the student's weights)", file=directory / "model.safetensors")
    if not weights and not (directory / "model.safetensors.index.json").is_file():
        pickled = sorted(p.name for pattern in PICKLED_WEIGHTS for p in directory.glob(pattern))
        found = f"; found {', '.join(pickled)}: pickled weights are never loaded" if pickled else ""
        raise StudentDirError(f"no safetensors weights (expected model.safetensors){found}", file=directory)


def load_trained_student(directory: Path):  # noqa: ANN201 (a mentor.distill.student.Student)
    """The student saved in ``directory`` (checked first with :func:`check_student_dir`); a file that transformers
    or safetensors cannot read is a :class:`StudentDirError` on one line."""
    from safetensors import SafetensorError

    from mentor.distill.student import load_student

    check_student_dir(directory)
    try:
        return load_student(str(directory))
    except OSError as error:
        if error.errno is not None:  # a path the operating system refused: reported as such
            raise
        raise StudentDirError(f"cannot load the student: {' '.join(str(error).split())}", file=directory) from None
    except (SafetensorError, ValueError) as error:
        raise StudentDirError(f"cannot load the student: {' '.join(str(error).split())}", file=directory) from None
