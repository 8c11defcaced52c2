import pytest
import torch

from mentor.distill.encoding import IGNORE, RowCollator, encode_row, logits_needed
from mentor.distill.formats import Row, disagrees_with_gold, read_answer, rows_for
from mentor.distill.loss import coefficients, multitask_loss, term_losses
from mentor.distill.student import load_student
from mentor.distill.tasks import Example, LabelTask
from mentor.distill.trainer import causal_term_losses

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


def test_a_rationale_disagrees_with_gold_when_its_teacher_answer_is_not_the_label():
    task = LabelTask("colours", ("red", "blue"))
    assert disagrees_with_gold(ITEM, task)  # the teacher said red, the gold label is blue
    assert not disagrees_with_gold(Example("2", "x", label="blue", teacher_label="Blue", rationale="r"), task)
    assert disagrees_with_gold(Example("3", "x", label="blue", rationale="r"), task)  # no teacher answer to check
    assert not disagrees_with_gold(Example("4", "x", teacher_label="red", rationale="r"), task)  # no gold label
    assert not disagrees_with_gold(Example("5", "x", label="blue", teacher_label="red"), task)  # no rationale


def test_loss_is_the_alpha_weighted_sum_of_per_kind_means():
    losses = torch.tensor([[1.0, 0, 0], [3.0, 0, 0], [0, 2.0, 0], [0, 4.0, 0], [0, 0, 10.0]])
    present = losses > 0
    weight = torch.tensor([1.0, 1.0, 1.0, 0.5, 1.0])
    total, parts = multitask_loss(losses, present, weight, coefficients("step-by-step", alpha=0.3))
    assert parts == {"predict": 2.0, "explain": pytest.approx((2.0 + 0.5 * 4.0) / 1.5)}
    assert float(total) == pytest.approx(0.3 * 2.0 + 0.7 * (4.0 / 1.5))
    total, parts = multitask_loss(losses, present, weight, coefficients("consistency", 0.5, consistency_weight=2.0))
    assert float(total) == pytest.approx(0.5 * 2.0 + 0.5 * (4.0 / 1.5) + 2.0 * 10.0)
    assert coefficients("label") == {"predict": 1.0}
    assert coefficients("answer-then-rationale", alpha=0.8) == {"predict": 0.8, "explain": pytest.approx(0.2)}


def test_answer_then_rationale_is_one_row_with_the_answer_first():
    (row,) = rows_for(ITEM, "answer-then-rationale")
    assert (row.kind, row.prompt, row.target, row.rationale) == (
        "predict",
        "predict: what colour is the sky ?\n",
        "blue",
        "the sky is blue",
    )
    assert rows_for(Example("3", "x", label="red"), "answer-then-rationale")[0].rationale is None


def test_rationale_then_answer_is_one_row_with_the_reasoning_first_on_one_line():
    split = Example("1", "what colour is the sky ?", label="blue", rationale="the sky\n is  blue")
    (row,) = rows_for(split, "rationale-then-answer")
    assert (row.kind, row.target, row.rationale, row.rationale_first) == ("predict", "blue", "the sky is blue", True)
    (plain,) = rows_for(Example("3", "x", label="red"), "rationale-then-answer")
    assert plain.rationale is None  # no rationale: the answer alone
    assert coefficients("rationale-then-answer", alpha=0.8) == {"predict": 0.8, "explain": pytest.approx(0.2)}


def test_the_answer_is_the_first_line_or_after_the_reasoning_the_last():
    assert read_answer("\n blue \nthe sky is blue\n") == "blue"
    assert read_answer("the sky is blue\n blue \n\n", reasons_first=True) == "blue"
    assert read_answer("the sky is", reasons_first=True) == "the sky is"  # cut off: no answer line, never right
    assert read_answer("  \n") == read_answer("", reasons_first=True) == ""


def test_only_target_tokens_carry_loss(student_dir):
    student = load_student(str(student_dir))
    row = encode_row(student.tokenizer, Row("predict", "predict: what colour is the sky ?\n", "blue"), seq2seq=False)
    prompt_length = len(student.tokenizer("predict: what colour is the sky ?\n")["input_ids"])
    assert row["labels"][:prompt_length] == [IGNORE] * prompt_length
    assert row["labels"][prompt_length:] == row["input_ids"][prompt_length:]
    assert row["input_ids"][-1] == student.tokenizer.eos_token_id
    other = encode_row(student.tokenizer, Row("explain", "explain: sky\n", "the sky is blue", 0.5), seq2seq=False)
    batch = RowCollator(student.tokenizer.pad_token_id)([[row], [other]])
    assert batch["weight"].tolist() == [1.0, 0.5]
    full = student.model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], position_ids=batch["position_ids"]
    ).logits
    per_row, present = term_losses(full, batch["labels"], batch["label_kinds"], shift=True)
    assert present.tolist() == [[True, False, False], [False, True, False]]
    # the first row's loss equals the model's own loss on that row alone, unpadded
    alone = student.model(input_ids=torch.tensor([row["input_ids"]]), labels=torch.tensor([row["labels"]])).loss
    assert float(per_row[0, 0]) == pytest.approx(float(alone), rel=1e-4)
    # logits for the target columns only give the same losses
    keep = logits_needed(batch["labels"])
    assert keep < batch["labels"].shape[1]
    kept = student.model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        position_ids=batch["position_ids"],
        logits_to_keep=keep,
    ).logits
    again, _ = term_losses(kept, batch["labels"], batch["label_kinds"], shift=True)
    assert torch.allclose(again, per_row, atol=1e-5)


def test_a_rationale_after_the_answer_is_its_own_term(student_dir):
    student = load_student(str(student_dir))
    (row,) = rows_for(ITEM, "answer-then-rationale")
    encoded = encode_row(student.tokenizer, row, seq2seq=False)
    kinds = [k for k in encoded["label_kinds"] if k != IGNORE]
    answer = len(student.tokenizer("blue", add_special_tokens=False)["input_ids"])
    answer += len(student.tokenizer("\n", add_special_tokens=False)["input_ids"])
    assert kinds[:answer] == [0] * answer  # the answer and its line break
    assert set(kinds[answer:]) == {1}  # the rationale and the end of the sequence
    batch = RowCollator(student.tokenizer.pad_token_id)([[encoded]])
    logits = student.model(input_ids=batch["input_ids"]).logits
    losses, present = term_losses(logits, batch["labels"], batch["label_kinds"], shift=True)
    assert present.tolist() == [[True, True, False]]
    total, parts = multitask_loss(losses, present, batch["weight"], coefficients("answer-then-rationale", 0.7))
    assert float(total) == pytest.approx(0.7 * parts["predict"] + 0.3 * parts["explain"], rel=1e-5)


def test_a_rationale_before_the_answer_is_its_own_term_and_is_cut_not_the_answer(student_dir):
    tokenizer = load_student(str(student_dir)).tokenizer
    long = Example("1", "what colour is the sky ?", label="blue", rationale="the sky is very " * 40 + "blue")
    (row,) = rows_for(long, "rationale-then-answer")
    encoded = encode_row(tokenizer, row, seq2seq=False, max_target_tokens=16)
    target = [t for t, k in zip(encoded["input_ids"], encoded["label_kinds"], strict=True) if k != IGNORE]
    kinds = [k for k in encoded["label_kinds"] if k != IGNORE]
    answer = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in ("\n", "blue")]
    assert target[16:] == answer[0] + answer[1] + [tokenizer.eos_token_id]  # the answer line is whole
    assert kinds == [1] * 16 + [0] * (len(target) - 16)  # 16 rationale tokens, then the answer line and the end


def test_grouped_forward_passes_give_the_losses_of_one(student_dir):
    student = load_student(str(student_dir))
    rows = [
        rows_for(Example(str(i), "what colour is the " + "sky " * i + "?", "blue", rationale="it is " * i), mode)
        for i, mode in enumerate(["finetune", "step-by-step", "answer-then-rationale", "step-by-step", "finetune"])
    ]
    encoded = [[encode_row(student.tokenizer, r, seq2seq=False) for r in example] for example in rows]
    batch = RowCollator(student.tokenizer.pad_token_id)(encoded)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "position_ids")}
    whole, present = term_losses(student.model(**inputs).logits, batch["labels"], batch["label_kinds"], shift=True)
    grouped, grouped_present, _ = causal_term_losses(student.model, inputs, batch["labels"], batch["label_kinds"], 3)
    assert torch.equal(grouped_present, present)
    assert torch.allclose(grouped, whole, atol=1e-5)
