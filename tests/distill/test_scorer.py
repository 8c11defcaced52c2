"""The consistency scorer separates matched from mismatched pairs on held-out data, and filters a run's data."""

import json
from dataclasses import replace

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from mentor.distill import load_task
from mentor.distill.config import DistillConfig
from mentor.distill.run import distill
from mentor.distill.scorer import ConsistencyScorer, ScorerConfig, training_pairs
from tests.distill.tiny import tiny_task

FAST = ScorerConfig(epochs=3, batch_size=8, max_length=64, learning_rate=1e-4)


def test_pairs_are_own_answer_and_another_answer(colours):
    data = load_task(str(colours))
    pairs = training_pairs(data.train, data.task)
    assert len(pairs) == 2 * len(data.train)
    for positive, negative in zip(pairs[::2], pairs[1::2], strict=True):
        assert (positive.consistent, negative.consistent) == (1, 0)
        assert positive.explanation == negative.explanation and positive.answer != negative.answer


def test_equation_negatives_other_problems_answers_or_near_misses():
    # by default another problem's answer; near misses, (84 / 2) against (84 * 2), on request (they measured worse)
    from mentor.distill.tasks import EquationTask, Example

    task = EquationTask("sums")
    examples = [
        Example(f"e{i}", f"share {a} among {b}", teacher_label=f"({a} / {b})", rationale=f"{a} / {b} = {a // b}")
        for i, (a, b) in enumerate([(84, 2), (9, 3), (50, 5)])
    ]
    pairs = training_pairs(examples, task, negatives="near-miss")
    assert len(pairs) == 6
    for example, negative in zip(examples, pairs[1::2], strict=True):
        assert negative.consistent == 0 and negative.answer in task.near_misses(example.teacher_label, example)
        assert sorted(negative.answer.replace("(", "").replace(")", "").split()[::2]) == sorted(
            example.teacher_label.strip("()").split()[::2]
        )  # the same numbers
    others = training_pairs(examples, task)[1::2]
    assert others == training_pairs(examples, task, negatives="other-example")[1::2]
    assert {n.answer for n in others} <= {e.teacher_label for e in examples}
    assert all(n.answer != e.teacher_label for e, n in zip(examples, others, strict=True))


def test_scorer_beats_chance_on_held_out_pairs(tmp_path):
    data = load_task(str(tiny_task(tmp_path / "t", n_train=80, seed=3)))
    scorer = ConsistencyScorer.fit(training_pairs(data.train[:40], data.task), FAST)
    held_out = training_pairs(data.train[40:], data.task, seed=7)
    scores = scorer.score(held_out)
    assert roc_auc_score([p.consistent for p in held_out], scores) > 0.8
    scorer.save(tmp_path / "scorer")
    assert np.allclose(ConsistencyScorer.load(tmp_path / "scorer").score(held_out), scores, atol=1e-5)


def test_consistency_mode_filters_contradicting_teacher_outputs(tmp_path, student_dir):
    # no gold labels in training: the teacher's own answer is learnt, and every 3rd contradicts its rationale
    task = tiny_task(tmp_path / "t", n_train=60, wrong_every=3, gold_in_train=False)
    config = DistillConfig(
        task=str(task), mode="consistency", student=str(student_dir), epochs=2, learning_rate=3e-3, scorer=FAST
    )
    result = distill(config, tmp_path / "run", progress=False)
    scores = json.loads((tmp_path / "run" / "consistency_scores.json").read_text())
    train = {e.id: e for e in load_task(str(task)).train}
    assert set(scores) < set(train) and None not in scores.values()  # every training example (not validation)
    contradicting = [int(train[key].teacher_label not in train[key].rationale) for key in scores]
    # cross-fitted: each score comes from a scorer that never saw the pair, trained on noisy positives
    assert roc_auc_score(contradicting, [-scores[key] for key in scores]) > 0.7
    assert result["data"]["filtered_by_scorer"] > 0
    assert result["data"]["scorer_check"] is None  # no gold labels in training: nothing to check against
    assert result["loss_coefficients"] == {"predict": 0.5, "explain": 0.5, "consistency": 0.5}


def test_explanations_longer_than_the_scorer_reads_are_cut_not_refused(tmp_path):
    data = load_task(str(tiny_task(tmp_path / "t", n_train=8)))
    pairs = [replace(p, explanation=p.explanation * 40) for p in training_pairs(data.train, data.task)]
    scores = ConsistencyScorer.fit(pairs, ScorerConfig(epochs=0.1, batch_size=8, max_length=32)).score(pairs)
    assert scores.shape == (len(pairs),) and np.all((scores >= 0) & (scores <= 1))


def test_teacher_error_check_counts_filtered_wrong_and_right_rationales():
    from mentor.distill.scorer import teacher_error_check
    from mentor.distill.tasks.base import Example, LabelTask

    task = LabelTask("nli", ("yes", "no"))
    examples = [
        Example("a", "x", label="yes", teacher_label="yes", rationale="r"),  # right, scored high
        Example("b", "x", label="yes", teacher_label="yes", rationale="r"),  # right, scored low: filtered
        Example("c", "x", label="no", teacher_label="yes", rationale="r"),  # wrong, scored low: filtered
        Example("d", "x", label="no", teacher_label="yes", rationale="r"),  # wrong, scored high
        Example("e", "x", label="no", teacher_label=None, rationale="r"),  # no teacher answer: not counted
    ]
    scores = {"a": 0.9, "b": 0.2, "c": 0.1, "d": 0.6, "e": 0.9}
    check = teacher_error_check(examples, scores, task, threshold=0.5)
    assert check == {
        "scored": 4,
        "teacher_wrong": 2,
        "teacher_wrong_filtered": 1,
        "teacher_right_filtered": 1,
        "auc_right_vs_wrong": 0.75,
    }
    assert teacher_error_check(examples[-1:], scores, task, 0.5) is None


def test_scorer_reads_answers_in_one_form_and_answer_first_on_request():
    from mentor.distill.tasks import EquationTask, Example

    task = EquationTask("sums")
    assert task.canonical("( 84.0 / 2.0 )") == task.canonical("(84 / 2)") == "(84 / 2)"
    assert task.canonical("( 2.5 + 10.05 )") == "(2.5 + 10.05)"
    example = Example("e", "share 84 among 2", label="( 84.0 / 2.0 )", teacher_label="(84 / 2)", rationale="84 / 2")
    assert training_pairs([example, replace(example, id="f", teacher_label="(9 / 3)")], task)[0].answer == "(84 / 2)"
    scorer = ConsistencyScorer(model=torch.nn.Linear(1, 1), tokenizer=None, answer_first=True)
    assert scorer._first(training_pairs([example], task)[0]).startswith("Answer: (84 / 2)\nshare 84")
