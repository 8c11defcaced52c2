import json

import pytest

from mentor.distill import load_task
from mentor.distill.tasks import ChoiceTask, EquationTask, Example, LabelTask
from mentor.errors import DataError


def test_answers_are_compared_the_task_s_way():
    equation = EquationTask("svamp")
    item = Example("1", "q", label="( 84.0 / 2.0 )")
    assert equation.is_correct("(84 / 2)", item) and equation.is_correct("42", item)
    assert not equation.is_correct("(84 * 2)", item) and not equation.is_correct("import os", item)
    choice = ChoiceTask("cqa")
    item = Example("2", "q", label="math problem", choices=("park", "math problem"))
    assert choice.is_correct("(b)", item) and choice.is_correct("(b) Math problem.", item)
    assert choice.is_correct("math problem", item) and not choice.is_correct("park", item)
    assert not choice.is_correct("algebra", item)
    nli = LabelTask("esnli", ("entailment", "neutral", "contradiction"))
    item = Example("3", "q", label="neutral")
    assert nli.is_correct("Neutral.", item) and nli.is_correct("the answer is neutral", item)
    assert not nli.is_correct("neutral or contradiction", item)


def test_near_misses_are_wrong_answers_of_the_same_form():
    nli = LabelTask("esnli", ("entailment", "neutral", "contradiction"))
    assert nli.near_misses("Neutral", Example("1", "q")) == ["entailment", "contradiction"]
    cqa = ChoiceTask("cqa")
    assert cqa.near_misses("park", Example("2", "q", choices=("park", "math problem"))) == ["math problem"]
    assert EquationTask("svamp").near_misses("(9 - 3)", Example("3", "q")) == [
        "(9 + 3)",
        "(9 * 3)",
        "(9 / 3)",
        "(3 - 9)",
    ]


def test_a_user_task_directory(colours):
    data = load_task(str(colours))
    assert data.task.labels == ("red", "blue") and len(data.train) == 40 and len(data.test) == 12
    assert data.train[0].rationale and data.train[0].teacher_label


def _write(directory, train, test, task=None):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "train.jsonl").write_text(train)
    (directory / "test.jsonl").write_text(test)
    if task is not None:
        (directory / "task.json").write_text(task)
    return directory


@pytest.mark.parametrize(
    ("train", "test", "task", "expected"),
    [
        ('{"input": "a", "label": "x"}\nnot json\n', '{"input": "b", "label": "x"}\n', None, r"train.jsonl, line 2"),
        ('{"label": "x"}\n', '{"input": "b", "label": "x"}\n', None, r"train.jsonl, line 1, field 'input'"),
        ('{"input": "a"}\n', '{"input": "b"}\n', None, r"test.jsonl, line 1, field 'label': missing"),
        ('{"input": 3}\n', '{"input": "b", "label": "x"}\n', None, r"field 'input': expected str, got int"),
        (
            '{"input": "a", "id": "k"}\n{"input": "c", "id": "k"}\n',
            '{"input": "b", "label": "x"}\n',
            None,
            r"line 2, field 'id': duplicate id 'k' \(first on line 1\)",
        ),
        (
            '{"input": "a", "label": "maybe"}\n',
            '{"input": "b", "label": "yes"}\n',
            '{"labels": ["yes", "no"]}',
            r"'maybe' is not one of the labels",
        ),
        ('{"input": "a"}\n', '{"input": "b", "label": "x"}\n', '{"answer": "poem"}', r"task.json, field 'answer'"),
        ("\n", '{"input": "b", "label": "x"}\n', None, r"train.jsonl: no examples"),
    ],
)
def test_bad_user_files_name_file_line_and_field(tmp_path, train, test, task, expected):
    with pytest.raises(DataError, match=expected):
        load_task(str(_write(tmp_path / "t", train, test, task)))


def test_unknown_task_names_the_choices():
    with pytest.raises(ValueError, match="svamp, cqa, esnli, anli1 or a directory"):
        load_task("nope")


def test_misaligned_recorded_outputs_are_refused(tmp_path):
    folder = tmp_path / "distilling_step_by_step" / "svamp"
    (folder / "llm").mkdir(parents=True)
    for split in ("train", "test"):
        (folder / f"svamp_{split}.json").write_text('{"input": "q", "label": "( 1.0 + 1.0 )"}\n' * 3)
    (folder / "llm" / "train_CoT_0.json").write_text(json.dumps(["1 + 1 = 2. The answer is (1 + 1)."] * 2))
    with pytest.raises(DataError, match="2 recorded completions .* for 3 task rows"):
        load_task("svamp", tmp_path)
    assert len(load_task("svamp", tmp_path, teacher=False).train) == 3
