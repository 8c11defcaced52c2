import pytest
import torch

from mentor.distill.encoding import IGNORE, RowCollator, encode_row
from mentor.distill.formats import Row, rows_for
from mentor.distill.loss import coefficients, multitask_loss, row_losses
from mentor.distill.student import load_student
from mentor.distill.tasks import Example

ITEM = Example("1", "what colour is the sky ?", label="blue", teacher_label="red", rationale="the sky is blue")


def test_prefixes_and_targets_per_mode():
    assert [(r.kind, r.prompt, r.target) for r in rows_for(ITEM, "step-by-step")] == [
        ("predict", "predict: what colour is the sky ?\n", "blue"),
        ("explain", "explain: what colour is the sky ?\n", "the sky is blue"),
    ]
    assert [r.target for r in rows_for(ITEM, "finetune")] == ["blue"]
    assert [r.target for r in rows_for(ITEM, "label")] == ["red"]
    consistency = rows_for(ITEM, "consistency", weight=0.8)
    assert [r.kind for r in consistency] == ["predict", "explain", "consistency"]
    assert consistency[2].prompt == "answer: what colour is the sky ?\nexplanation: the sky is blue\n"
    assert [r.weight for r in consistency] == [1.0, 0.8, 0.8]
    assert [r.kind for r in rows_for(ITEM, "consistency", weight=0.0)] == ["predict"]
    no_gold = Example("2", "x", teacher_label="red", rationale="r")
    assert rows_for(no_gold, "finetune") == [] and rows_for(no_gold, "step-by-step")[0].target == "red"


def test_loss_is_the_alpha_weighted_sum_of_per_kind_means():
    losses = torch.tensor([1.0, 3.0, 2.0, 4.0, 10.0])
    kind = torch.tensor([0, 0, 1, 1, 2])
    weight = torch.tensor([1.0, 1.0, 1.0, 0.5, 1.0])
    total, parts = multitask_loss(losses, kind, weight, coefficients("step-by-step", alpha=0.3))
    assert parts == {"predict": 2.0, "explain": pytest.approx((2.0 + 0.5 * 4.0) / 1.5)}
    assert float(total) == pytest.approx(0.3 * 2.0 + 0.7 * (4.0 / 1.5))
    total, parts = multitask_loss(losses, kind, weight, coefficients("consistency", 0.5, consistency_weight=2.0))
    assert float(total) == pytest.approx(0.5 * 2.0 + 0.5 * (4.0 / 1.5) + 2.0 * 10.0)
    assert coefficients("label") == {"predict": 1.0}


def test_only_target_tokens_carry_loss(student_dir):
    student = load_student(str(student_dir))
    row = encode_row(student.tokenizer, Row("predict", "predict: what colour is the sky ?\n", "blue"), seq2seq=False)
    prompt_length = len(student.tokenizer("predict: what colour is the sky ?\n")["input_ids"])
    assert row["labels"][:prompt_length] == [IGNORE] * prompt_length
    assert row["labels"][prompt_length:] == row["input_ids"][prompt_length:]
    assert row["input_ids"][-1] == student.tokenizer.eos_token_id
    other = encode_row(student.tokenizer, Row("explain", "explain: sky\n", "the sky is blue", 0.5), seq2seq=False)
    batch = RowCollator(student.tokenizer.pad_token_id)([[row], [other]])
    assert batch["kind"].tolist() == [0, 1] and batch["weight"].tolist() == [1.0, 0.5]
    logits = student.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    per_row = row_losses(logits, batch["labels"], shift=True)
    # the first row's loss equals the model's own loss on that row alone
    alone = student.model(input_ids=torch.tensor([row["input_ids"]]), labels=torch.tensor([row["labels"]])).loss
    assert float(per_row[0]) == pytest.approx(float(alone), rel=1e-4)
