"""Student language models: any Hugging Face causal or seq2seq LM, or a built-in one that ships offline.

``smollm2-135m`` is SmolLM2-135M-Instruct, dequantised from its GGUF package into a standard Hugging Face
directory under the cache on first use (needs the ``gguf`` package), and loaded from there afterwards.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, PreTrainedModel

from mentor.llm.models import BUILTIN_MODELS, ModelNotAvailable, builtin_model_path
from mentor.paths import cache_dir

DEFAULT_STUDENT = "smollm2-135m"
BUILTIN_STUDENTS = ("smollm2-135m",)


@dataclass
class Student:
    """A model and its tokenizer; ``seq2seq`` says whether targets go to a decoder or follow the prompt."""

    model: PreTrainedModel
    tokenizer: object
    seq2seq: bool
    spec: str

    def save(self, directory: Path) -> None:
        """Save in the standard Hugging Face layout (``from_pretrained(directory)`` loads it back)."""
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)


def builtin_student_dir(name: str) -> Path:
    """The Hugging Face directory of a built-in student, dequantised from its GGUF file on first use."""
    target = cache_dir() / "students" / name
    if (target / "config.json").is_file():
        return target
    gguf = builtin_model_path(BUILTIN_MODELS[name].name)
    if importlib.util.find_spec("gguf") is None:
        raise ModelNotAvailable(
            f"student {name}: dequantising its GGUF file needs the gguf package: {BUILTIN_MODELS[name].install_hint()}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}."))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, trust_remote_code=False)
        loaded = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, trust_remote_code=False
        )
        # The weights are dequantised to float32, but the model stays marked as GGUF-quantised, which
        # save_pretrained refuses: copy them into a plain model of the same architecture.
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(loaded.state_dict())
        model.save_pretrained(scratch)
        tokenizer.save_pretrained(scratch)
        if target.exists():
            shutil.rmtree(target)
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def load_student(spec: str = DEFAULT_STUDENT, lora_r: int | None = None, seed: int = 0) -> Student:
    """Load a student by built-in name, local directory or Hugging Face model id; ``lora_r`` wraps it in LoRA
    adapters of that rank (peft) so that only they are trained."""
    path = str(builtin_student_dir(spec)) if spec in BUILTIN_STUDENTS else spec
    # A model directory whose config names its own Python code (auto_map) is refused, never run.
    config = AutoConfig.from_pretrained(path, trust_remote_code=False)
    seq2seq = bool(getattr(config, "is_encoder_decoder", False))
    torch.manual_seed(seed)
    model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(
        path, dtype=torch.float32, trust_remote_code=False
    )
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if lora_r is not None:
        from peft import LoraConfig, TaskType, get_peft_model

        task_type = TaskType.SEQ_2_SEQ_LM if seq2seq else TaskType.CAUSAL_LM
        model = get_peft_model(
            model,
            LoraConfig(
                task_type=task_type, r=lora_r, lora_alpha=2 * lora_r, target_modules="all-linear", lora_dropout=0.05
            ),
        )
    return Student(model=model, tokenizer=tokenizer, seq2seq=seq2seq, spec=spec)
