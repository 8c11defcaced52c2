"""The real loop with a real local model (SmolLM2-135M, constrained decoding) for a few calls."""

import json

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.consult import Consultation, ConsultConfig, GatedConsultation
from mentor.llm import LLMClient, LLMConfig, ResponseStore

pytestmark = pytest.mark.slow


def test_loop_with_smollm2(graph, store_path):
    config = ConsultConfig(dataset="synthetic", strategy="login", features="bow", rounds=1, max_calls=2, epochs=40,
                           max_prompt_tokens=600)  # fmt: skip
    with LLMClient(LLMConfig(llm="local:smollm2-135m", n_ctx=2048), store=store_path) as client:
        result = Consultation(config, client, graph=graph, progress=False).run()
    assert len(result.consultations) == 2
    for record in result.consultations:
        assert record["failure"] is None and record["answer"] in graph.class_names
        assert record["action"] in ("augment_text", "prune_edges")


def test_cli_consult_and_dry_run(tmp_path, store_path):
    runner = CliRunner()
    base = [
        "consult",
        "synthetic:num_nodes=120",
        "--strategy",
        "login",
        "--features",
        "bow",
        "--rounds",
        "1",
        "--max-calls",
        "2",
        "--epochs",
        "30",
        "--max-prompt-tokens",
        "500",
        "--llm",
        "local:smollm2-135m",
        "--store",
        str(store_path),
    ]
    plan = runner.invoke(app, [*base, "--dry-run", "--json"])
    assert plan.exit_code == 0, plan.output
    info = json.loads(plan.stdout)
    assert info["calls_per_round"] == [2] and info["round1_already_in_store"] == 0
    with ResponseStore(store_path) as store:
        assert len(store) == 0  # the dry run asked nothing
    out = tmp_path / "run"
    result = runner.invoke(app, [*base, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["totals"]["calls"] == 2 and payload["totals"]["new_calls"] == 2
    assert {"before", "after", "rounds", "config", "versions"} <= set(payload)
    assert (out / "accuracy_vs_calls.png").stat().st_size > 1000
    assert len((out / "consultations.jsonl").read_text().splitlines()) == 2
    again = json.loads(runner.invoke(app, [*base, "--out", str(out), "--json"]).stdout)
    assert again["totals"]["new_calls"] == 0 and again["after"] == payload["after"]


def test_gated_with_smollm2_and_its_label_probabilities(graph, store_path):
    config = ConsultConfig(dataset="synthetic", features="bow", max_calls=4, epochs=40, min_gain=1,
                           max_prompt_tokens=500)  # fmt: skip
    with LLMClient(LLMConfig(llm="local:smollm2-135m", n_ctx=2048), store=store_path) as client:
        result = GatedConsultation(config, client, graph=graph, progress=False).run()
    assert 1 <= len(result.asked) <= 4 and result.asked[0].phase == "calibration"
    for item in result.answered:
        assert item.answer.label in graph.class_names
        assert set(item.answer.label_probs) == set(graph.class_names)
        assert 0 <= item.llm_confidence <= 1


def _gated_cli(store_path, *extra):
    return ["consult", "synthetic:num_nodes=120", "--features", "bow", "--max-calls", "4", "--epochs", "30",
            "--max-prompt-tokens", "500", "--store", str(store_path), *extra]  # fmt: skip


def test_cli_gated_run_dry_run_and_resume(tmp_path, store_path):
    runner = CliRunner()
    base = _gated_cli(store_path, "--llm", "local:smollm2-135m", "--min-gain", "1")
    plan = runner.invoke(app, [*base, "--dry-run", "--json"])
    assert plan.exit_code == 0, plan.output
    info = json.loads(plan.stdout)
    assert info["strategy"] == "gated" and info["calibration_then_at_most"][0] == len(info["calibration_nodes"])
    out = tmp_path / "run"
    result = runner.invoke(app, [*base, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["strategy"] == "gated" and {"before", "after", "after_gnn", "gate", "totals"} <= set(payload)
    assert {"test_consulted", "test_not_consulted"} <= set(payload["after"])
    assert payload["totals"]["new_calls"] == payload["totals"]["calls"] >= 1
    lines = (out / "consultations.jsonl").read_text().splitlines()
    assert len(lines) == payload["totals"]["asked"]
    again = json.loads(runner.invoke(app, [*base, "--out", str(out), "--json"]).stdout)
    assert again["totals"]["new_calls"] == 0 and again["after"] == payload["after"]
    assert again["totals"]["spent_llm_seconds"] == payload["totals"]["spent_llm_seconds"] > 0
    shown = runner.invoke(app, [*base, "--out", str(out)])
    assert shown.exit_code == 0 and "never" in shown.stdout and "gate" in shown.stdout


def test_cli_a_run_whose_calls_all_fail_exits_non_zero_and_writes_nothing(tmp_path, store_path):
    out = tmp_path / "run"
    args = _gated_cli(store_path, "--llm", "openai:nothing", "--llm-base-url", "http://127.0.0.1:9/v1",
                      "--llm-retries", "0", "--llm-timeout", "2", "--out", str(out))  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert "every LLM call failed" in result.output and "connection" in result.output
    assert not out.exists()


def test_new_nodes_asked_through_a_saved_gate_with_smollm2(graph, store_path, tmp_path):
    """A gated run's saved model and gate, a graph grown by 3 nodes, and a real model asked about 2 of them."""
    from mentor.consult.new_nodes import consult_new_nodes
    from mentor.consult.saving import save_run_model
    from mentor.graph.saved import SavedModel
    from tests.graph.test_saved import _grown

    config = ConsultConfig(dataset="synthetic", features="bow", max_calls=4, epochs=40, max_prompt_tokens=600)
    with LLMClient(LLMConfig(llm="local:smollm2-135m", n_ctx=2048), store=store_path) as client:
        consultation = GatedConsultation(config, client, graph=graph, progress=False)
        result = consultation.run()
        save_run_model(tmp_path / "model", consultation, result)
        saved = SavedModel.load(tmp_path / "model")
        assert saved.gate is not None
        saved.gate["gate"].update(open=True, rule="pool", gnn_weight=1.0, llm_weight=1.0)  # a 135M model never opens it
        grown = _grown(graph, new=3)
        asked = consult_new_nodes(saved, grown, client, max_calls=2)
    assert set(asked.asked) <= {150, 151, 152}
    assert len(asked.asked) == 2 and asked.answered == 2 and asked.accepted == 2
    frame = asked.table.frame
    assert frame["asked"].sum() == 2 and (frame["source"] == "pooled").sum() == 2


def test_cli_label_free_run_with_smollm2(tmp_path, store_path):
    """No training label (``few:0``): the plan lists the representative nodes asked first, and the run trains the
    GNN on a real model's answers alone."""
    runner = CliRunner()
    base = _gated_cli(store_path, "--llm", "local:smollm2-135m", "--split", "few:0")
    plan = runner.invoke(app, [*base, "--dry-run", "--json"])
    assert plan.exit_code == 0, plan.output
    info = json.loads(plan.stdout)
    assert info["training_nodes"] == 0 and len(info["calibration_nodes"]) == info["calibration_then_at_most"][0] >= 1
    out = tmp_path / "run"
    result = runner.invoke(app, [*base, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["label_free"] and payload["totals"]["calibration_calls"] == 0
    records = [json.loads(line) for line in (out / "consultations.jsonl").read_text().splitlines()]
    first = [r for r in records if r["phase"] == "seed labels"]
    assert [r["node"] for r in first] == info["calibration_nodes"]
    assert {r["chosen"] for r in first} == {"representative"}
    assert payload["after_gnn"]["test"] is not None and (out / "predictions.csv").exists()
