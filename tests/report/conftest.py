"""Run directories made in the test: a gated consult run (scripted consultant, a node text carrying a script)
and a distill run's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mentor.consult import ConsultConfig, GatedConsultation, gated_summary, write_gated_outputs
from mentor.graph import make_synthetic
from mentor.llm import LLMClient, LLMConfig, Timings
from tests.consult.scripted import ScriptedConsultant, always_right

INJECTED = '<script>document.title="PWNED"</script><img src=x onerror="document.title=\'PWNED\'">'


#: What every scripted answer says the model spent on it.
TIMINGS = Timings(model_s=2.0, prefill_s=1.2, decode_s=0.6, prompt_eval_tokens=60, generated_tokens=19)


def consult_run(out: Path, store: Path, **overrides) -> Path:
    graph = make_synthetic(num_nodes=150, num_classes=3, homophily=0.7, seed=4)
    graph.texts = [f"{text} (doc {i})" + (f" {INJECTED}" if i % 10 == 0 else "") for i, text in enumerate(graph.texts)]
    backend = ScriptedConsultant(graph, always_right(graph), confidence=lambda node: 0.8, timings=TIMINGS)
    config = ConsultConfig(**{"dataset": "synthetic", "features": "bow", "budget": 0.25, "epochs": 60, "patience": 30,
                              "min_gain": 1, **overrides})  # fmt: skip
    with LLMClient(LLMConfig(llm="openai:scripted", base_url="http://127.0.0.1:9/v1"), store=store,
                   backend=backend) as client:  # fmt: skip
        result = GatedConsultation(config, client, graph=graph, progress=False).run()
        write_gated_outputs(out, result, gated_summary(result, client, 1.0))
    return out


@pytest.fixture
def gated_run(tmp_path: Path) -> Path:
    return consult_run(tmp_path / "gated", tmp_path / "store.sqlite")


@pytest.fixture
def distill_run(tmp_path: Path) -> Path:
    out = tmp_path / "distill"
    out.mkdir()
    history = [{"step": s, "loss": 2.0 / s, "answer": 1.2 / s, "rationale": 0.8 / s} for s in range(1, 21)]
    result = {"task": "svamp", "mode": "step-by-step", "teacher": "recorded", "student": "smollm2-135m",
              "test_accuracy": 0.4, "validation_accuracy": 0.45, "teacher_test_accuracy": {"accuracy": 0.74},
              "data": {"train_used": 36, "with_rationale": 30, "filtered_by_scorer": 0, "scorer_check": None},
              "loss_coefficients": {"answer": 0.5, "rationale": 0.5},
              "training": {"steps": 20, "train_loss": 0.3, "loss_history": history}, "seconds": 12.5,
              "config": {"mode": "step-by-step", "alpha": 0.5}}  # fmt: skip
    (out / "result.json").write_text(json.dumps(result))
    (out / "predictions.jsonl").write_text("".join(
        json.dumps({"id": f"t{i}", "input": f"question {i} {INJECTED}", "answer": str(i), "gold": str(i % 3),
                    "correct": i % 3 == i}) + "\n" for i in range(10)))  # fmt: skip
    return out
