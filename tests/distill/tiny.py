"""Test doubles for distillation (tests only): a tiny task on disk and a tiny randomly initialised student."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

COLOURS = ("red", "blue")
NOUNS = ("apple", "sky", "cherry", "sea", "rose", "ice", "fire", "river")
ANSWER = {
    "apple": "red",
    "cherry": "red",
    "rose": "red",
    "fire": "red",
    "sky": "blue",
    "sea": "blue",
    "ice": "blue",
    "river": "blue",
}


def tiny_task(
    directory: Path,
    n_train: int = 40,
    n_test: int = 12,
    seed: int = 0,
    wrong_every: int = 0,
    gold_in_train: bool = True,
) -> Path:
    """A two-label task (the colour of a thing) with a rationale per training item; with ``wrong_every`` = k,
    every k-th teacher label is wrong while its rationale still names the right colour. Without
    ``gold_in_train`` the training file has teacher outputs only."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "task.json").write_text(json.dumps({"labels": list(COLOURS)}))
    for split, n in (("train", n_train), ("test", n_test)):
        lines = []
        for i in range(n):
            noun = rng.choice(NOUNS)
            label = ANSWER[noun]
            record = {"id": f"{split}-{i}", "input": f"what colour is the {noun} ?", "label": label}
            if split == "train":
                teacher = label if not wrong_every or i % wrong_every else COLOURS[1 - COLOURS.index(label)]
                record |= {"rationale": f"the {noun} is {label} so {label}", "teacher_label": teacher}
                if not gold_in_train:
                    del record["label"]
            lines.append(json.dumps(record))
        (directory / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return directory


def tiny_student(directory: Path, seed: int = 0, seq2seq: bool = False) -> Path:
    """A 2-layer Llama (or, with ``seq2seq``, a 1+1-layer T5) with a word-level vocabulary, saved in the Hugging
    Face layout."""
    words = sorted(
        {
            *COLOURS,
            *NOUNS,
            "what",
            "colour",
            "is",
            "the",
            "?",
            "so",
            "predict",
            "explain",
            "answer",
            "explanation",
            ":",
            "…",
            "\n",
        }
    )
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{w: i + 3 for i, w in enumerate(words)}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(  # words and punctuation, and a line break is a token
        [
            pre_tokenizers.Split(Regex(r"[^\S\n]+"), behavior="removed"),
            pre_tokenizers.Split("\n", behavior="isolated"),
            pre_tokenizers.Punctuation(behavior="isolated"),
        ]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    import torch

    torch.manual_seed(seed)
    if seq2seq:
        from transformers import T5Config, T5ForConditionalGeneration

        t5 = T5Config(
            vocab_size=len(vocab),
            d_model=32,
            d_kv=16,
            d_ff=64,
            num_layers=1,
            num_decoder_layers=1,
            num_heads=2,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
        T5ForConditionalGeneration(t5).save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        return directory
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
