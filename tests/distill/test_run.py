"""The whole run on a tiny task with a tiny random student (tests only): it learns, it saves a standard Hugging
Face model, predicting needs no teacher, and a rerun refuses another run's directory."""

import json

import pytest
import torch
from typer.testing import CliRunner

from mentor.cli import app
from mentor.distill.config import DistillConfig
from mentor.distill.run import Distillation, RunMismatch, distill

FAST = {"epochs": 6, "batch_size": 4, "learning_rate": 3e-3}


@pytest.fixture(scope="module")
def step_by_step(colours, student_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = DistillConfig(task=str(colours), mode="step-by-step", student=str(student_dir), **FAST)
    return config, out, distill(config, out, progress=False)


def test_step_by_step_learns_the_task(step_by_step):
    _, out, result = step_by_step
    assert result["test_accuracy"] >= 0.9
    assert result["data"]["with_rationale"] == result["data"]["train_used"] == 36
    assert result["loss_coefficients"] == {"predict": 0.5, "explain": 0.5}
    assert {"predict", "explain"} <= set(result["training"]["loss_history"][0])
    assert (out / "student" / "config.json").is_file() and (out / "result.json").is_file()
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) == 12 and all(json.loads(line)["gold"] for line in lines)


def test_predicting_needs_no_teacher(step_by_step, monkeypatch):
    _, out, _ = step_by_step
    import mentor.llm.client

    def refuse(*args, **kwargs):
        raise AssertionError("a teacher was asked at prediction time")

    monkeypatch.setattr(mentor.llm.client.LLMClient, "__init__", refuse)
    result = CliRunner().invoke(
        app, ["distill", "predict", str(out), "what colour is the sea ?", "what colour is the rose ?"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.split()[-2:] == ["blue", "red"]


def test_another_run_s_directory_is_refused(step_by_step):
    config, out, _ = step_by_step
    with pytest.raises(RunMismatch, match="other settings \\(epochs\\)"):
        distill(config.model_copy(update={"epochs": 1}), out, progress=False)


def test_a_run_from_before_a_setting_existed_is_the_same_run(step_by_step, tmp_path):
    config, out, _ = step_by_step
    older = tmp_path / "older"
    older.mkdir()
    written = json.loads((out / "config.json").read_text())
    del written["rationale_filter"]  # as a run written before the setting existed records it
    (older / "config.json").write_text(json.dumps(written))
    Distillation(config, older)._check_out()  # no RunMismatch: it had the default
    with pytest.raises(RunMismatch, match="rationale_filter"):
        Distillation(config.model_copy(update={"rationale_filter": "gold"}), older)._check_out()


def test_label_mode_learns_the_teacher_s_labels(colours, student_dir, tmp_path):
    wrong = colours.parent / "wrong-teacher"
    from tests.distill.tiny import tiny_task

    tiny_task(wrong, wrong_every=1)  # the teacher is always wrong
    result = distill(
        DistillConfig(task=str(wrong), mode="label", student=str(student_dir), **FAST), tmp_path, progress=False
    )
    assert result["test_accuracy"] <= 0.1  # it learnt the teacher's (wrong) answers
    assert result["teacher_test_accuracy"] is None  # the user file records no teacher answers on test
    # every training rationale backs the wrong answer: counted, and kept, as no filter was asked for
    assert result["data"]["rationales_disagreeing_with_gold"] == result["data"]["train_used"] > 0
    assert result["data"]["dropped_disagreeing_with_gold"] == 0


def test_cli_run_json(colours, student_dir, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "distill",
            str(colours),
            "--mode",
            "finetune",
            "--student",
            str(student_dir),
            "--epochs",
            "2",
            "--learning-rate",
            "3e-3",
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    assert payload["mode"] == "finetune" and payload["data"]["with_rationale"] == 0


def test_answer_then_rationale_with_a_test_curve_from_the_cli(colours, student_dir, tmp_path):
    args = ["distill", str(colours), "--mode", "answer-then-rationale", "--student", str(student_dir)]
    args += ["--epochs", "6", "--batch-size", "4", "--learning-rate", "3e-3", "--lr-scheduler", "constant"]
    args += ["--max-target-tokens", "8", "--negatives", "other-example", "--scorer-answer-first"]
    args += ["--test-curve", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output.strip().splitlines()[-1])
    assert payload["data"]["with_rationale"] == payload["data"]["train_used"] == 36
    assert payload["config"]["scorer"]["negatives"] == "other-example"
    assert payload["config"]["scorer"]["answer_first"] is True
    assert payload["config"]["max_target_tokens"] == 8
    curve = payload["training"]["curve"]
    assert [round(p["epoch"]) for p in curve] == [1, 2, 3, 4, 5, 6]
    assert all({"validation_accuracy", "test_accuracy", "training_seconds"} <= set(p) for p in curve)
    assert curve[0]["training_seconds"] < curve[-1]["training_seconds"]
    # the run's test accuracy is the test point of the epoch validation chose
    best = max(p["validation_accuracy"] for p in curve)
    chosen = next(p for p in curve if p["validation_accuracy"] == best)
    assert payload["test_accuracy"] == pytest.approx(chosen["test_accuracy"], abs=1e-4)
    assert payload["test_accuracy"] >= 0.9


def test_a_student_that_reasons_first_answers_on_its_last_line(colours, student_dir, tmp_path):
    config = DistillConfig(task=str(colours), mode="rationale-then-answer", student=str(student_dir), **FAST)
    result = distill(config, tmp_path, progress=False)
    assert result["test_accuracy"] >= 0.9
    assert result["data"]["with_rationale"] == result["data"]["train_used"] == 36
    answering = json.loads((tmp_path / "student" / "answering.json").read_text())
    assert answering == {"reasons_first": True, "max_new_tokens": 48 + 128 + 1}
    answers = [json.loads(line)["answer"] for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert set(answers) <= {"red", "blue"}  # the answer line, not the reasoning before it
    result = CliRunner().invoke(app, ["distill", "predict", str(tmp_path), "what colour is the sea ?"])
    assert result.exit_code == 0, result.output
    assert result.output.split()[-1:] == ["blue"]
    (tmp_path / "student" / "answering.json").write_text('{"max_new_tokens": 0}')
    result = CliRunner().invoke(app, ["distill", "predict", str(tmp_path), "what colour is the sea ?"])
    assert result.exit_code != 0 and "answering.json" in result.output and "max_new_tokens" in result.output


def test_rationales_that_disagree_with_gold_can_be_dropped_from_the_cli(colours, student_dir, tmp_path):
    from tests.distill.tiny import tiny_task

    wrong = tiny_task(tmp_path / "task", wrong_every=4)  # teacher answers 0, 4, 8, … are wrong
    args = ["distill", str(wrong), "--mode", "answer-then-rationale", "--student", str(student_dir)]
    args += ["--epochs", "1", "--rationale-filter", "gold", "--out", str(tmp_path / "run"), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])["data"]
    config = DistillConfig(task=str(wrong), mode="answer-then-rationale", student=str(student_dir))
    used = Distillation(config, tmp_path / "unused").prepare().train  # the split is the seed's, whatever the mode
    disagreeing = sum(e.teacher_label != e.label for e in used)
    assert data["dropped_disagreeing_with_gold"] == data["rationales_disagreeing_with_gold"] == disagreeing > 0
    assert data["train_used"] == len(used) and data["with_rationale"] == len(used) - disagreeing


def test_the_test_curve_changes_no_choice(colours, student_dir, tmp_path):
    """Charting the test items is reporting only: with and without it, the same model is chosen and scored."""
    results = [
        distill(
            DistillConfig(task=str(colours), mode="finetune", student=str(student_dir), test_curve=curve, **FAST),
            tmp_path / str(curve),
            progress=False,
        )
        for curve in (False, True)
    ]
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]
    assert (
        results[0]["training"]["best_checkpoint"].rsplit("-", 1)[1]
        == (results[1]["training"]["best_checkpoint"].rsplit("-", 1)[1])
    )
    assert "test_accuracy" not in results[0]["training"]["curve"][0]


def test_cli_errors_are_one_line(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["distill", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "unknown task 'nope'" in result.output
    result = runner.invoke(app, ["distill", "svamp", "--mode", "magic"])
    assert result.exit_code == 2 and "--mode" in result.output
    result = runner.invoke(app, ["distill", "svamp", "--negatives", "magic", "--out", str(tmp_path / "n")])
    assert result.exit_code == 1 and "negatives" in result.output
    result = runner.invoke(app, ["distill", "predict", str(tmp_path), "x"])
    assert result.exit_code == 1 and "no trained student here" in result.output


def test_lora_student_is_saved_merged(colours, student_dir, tmp_path):
    config = DistillConfig(task=str(colours), mode="finetune", student=str(student_dir), lora_r=4, epochs=1)
    distill(config, tmp_path, progress=False)
    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "student")  # a plain model: no adapter files
    assert not (tmp_path / "student" / "adapter_config.json").exists()
    assert not any("lora" in name for name, _ in saved.named_parameters())


def test_a_seq2seq_student_learns_too(colours, tmp_path):
    from tests.distill.tiny import tiny_student

    student = tiny_student(tmp_path / "t5", seq2seq=True)
    config = DistillConfig(
        task=str(colours), mode="step-by-step", student=str(student), epochs=8, batch_size=4, learning_rate=1e-2
    )
    result = distill(config, tmp_path / "run", progress=False)
    assert result["test_accuracy"] >= 0.9


def test_bf16_mixed_precision_learns_and_saves_float32_weights(colours, student_dir, tmp_path):
    config = DistillConfig(task=str(colours), mode="step-by-step", student=str(student_dir), bf16=True, **FAST)
    result = distill(config, tmp_path, progress=False)
    assert result["test_accuracy"] >= 0.9
    from transformers import AutoModelForCausalLM

    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "student")
    assert {p.dtype for p in saved.parameters()} == {torch.float32}  # autocast: the weights stay float32


def test_the_report_reads_a_real_run(step_by_step):
    """The shape mentor report checks result.json and predictions.jsonl against fits what a run writes."""
    from mentor.report import load_run, render_report

    _, out, _ = step_by_step
    run = load_run(out)
    assert run.kind == "distill" and len(run.records) == 12
    assert "student test accuracy" in render_report([run])
