"""The real loop with a real local model (SmolLM2-135M, constrained decoding) for a few calls."""

import json

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.consult import Consultation, ConsultConfig
from mentor.llm import LLMClient, LLMConfig, ResponseStore

pytestmark = pytest.mark.slow


def test_loop_with_smollm2(graph, store_path):
    config = ConsultConfig(dataset="synthetic", features="bow", rounds=1, max_calls=2, epochs=40,
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
