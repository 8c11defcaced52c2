"""Parsing the recorded PaLM completions: crafted cases and every real file (failures counted, never raised)."""

import pytest

from mentor.distill import load_task
from mentor.distill.tasks.palm import PARSERS, parse_anli, parse_cqa, parse_esnli, parse_svamp


def test_each_parser_cuts_at_the_next_exemplar():
    assert parse_svamp("84 / 2 = 42. The answer is (84 / 2).\n\nQ: next? A: The answer is (1 + 1).") == (
        "84 / 2 = 42.",
        "(84 / 2)",
    )
    assert parse_cqa("Only math fits. So the answer is (d) math problem.\n\nQ: x (a) y") == (
        "Only math fits.",
        "math problem",
    )
    assert parse_esnli("Not all churches crack.\nAnswer: neutral\n\nPremise: p\nHypothesis: h") == (
        "Not all churches crack.",
        "neutral",
    )
    assert parse_anli("London is in Europe. So the answer is contradiction.\n\nPremise: more") == (
        "London is in Europe.",
        "contradiction",
    )


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize("text", ["", "no marker at all", "Q: So the answer is", "Answer:", "\x00" * 5])
def test_malformed_completions_give_none(name, text):
    assert PARSERS[name](text) is None


# (train rows, test rows, parse failures train/test, teacher accuracy range on test)
EXPECTED = {
    "svamp": (800, 200, 13, 2, (0.6, 0.9)),
    "cqa": (9741, 1221, 0, 0, (0.7, 0.85)),
    "esnli": (9842, 9824, 4, 0, (0.65, 0.8)),
    "anli1": (1000, 1000, 9, 10, (0.55, 0.75)),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_recorded_file_parses_and_aligns(data_root, name):
    rows_train, rows_test, fail_train, fail_test, (low, high) = EXPECTED[name]
    data = load_task(name, data_root)
    assert (len(data.train), len(data.test)) == (rows_train, rows_test)
    assert data.teacher_parse_failures == {"train": fail_train, "test": fail_test}
    accuracy = sum(data.task.is_correct(e.teacher_label, e) for e in data.test) / len(data.test)
    # well above chance only if completions line up with their rows
    assert low < accuracy < high
    assert all(e.rationale for e in data.train if e.teacher_label is not None)
