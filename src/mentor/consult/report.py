"""What a consultation run leaves behind: ``result.json``, ``consultations.jsonl``, ``predictions.csv`` (or
``.parquet`` / ``.jsonl``: every node's prediction, :mod:`mentor.graph.predictions`) and, for the login strategy,
``accuracy_vs_calls.png``. A split without a test part (``labelled``) gives null test scores and a ``note``.

Each file is written to a temporary name and renamed into place, so an interrupted run leaves no half-written
file.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from mentor import outputs
from mentor.consult.gated import GatedResult, subset_metrics
from mentor.consult.loop import ConsultResult
from mentor.consult.prompt import prompt_hash
from mentor.llm import LLMClient


def versions() -> dict[str, str]:
    return outputs.versions(("torch", "torch-geometric", "sentence-transformers", "llama-cpp-python", "openai"))


def _split_name(result: ConsultResult | GatedResult) -> str:
    return result.config.split or ("public" if "public" in result.graph.splits else "random")


def _scored(result: ConsultResult | GatedResult) -> dict[str, Any]:
    """``test_scored`` and, without a test part, the ``note`` that says why test scores are null."""
    note = result.split.test_note(_split_name(result)) if result.split is not None else None
    return {"test_scored": note is None, **({"note": note} if note else {})}


def _with_test(metrics: dict[str, Any]) -> dict[str, Any]:
    """Scores by part with ``test`` null where there is no test part (never a made-up number)."""
    return {**metrics, "test": metrics.get("test")}


def summary(result: ConsultResult, client: LLMClient, seconds: float) -> dict[str, Any]:
    rounds = [r.as_dict() for r in result.rounds]
    for round_ in rounds:
        round_["metrics"] = _with_test(round_["metrics"])
    answered = [r for r in result.rounds[1:]]
    totals = {
        key: sum(getattr(r, key) for r in answered)
        for key in ("consulted", "answered", "llm_correct", "texts_augmented", "edges_pruned", "calls", "new_calls",
                    "prompt_tokens", "completion_tokens")
    }  # fmt: skip
    totals["cost"] = round(sum(r.cost for r in answered), 6)
    totals["spent_cost"] = round(sum(r.spent_cost for r in answered), 6)
    totals["spent_llm_seconds"] = round(sum(r.spent_llm_seconds for r in answered), 3)
    totals["failures"] = dict(sum((Counter(r.failures) for r in answered), Counter()))
    totals["llm_accuracy"] = round(totals["llm_correct"] / totals["answered"], 4) if totals["answered"] else None
    totals["llm_seconds"] = round(sum(r.llm_seconds for r in answered), 3)
    totals["feature_seconds"] = round(result.feature_seconds, 3)
    totals["requests"] = client.usage()["requests"]  # requests sent by this run, retries and probes included
    return {
        "strategy": "login",
        "dataset": result.graph.name,
        "split": _split_name(result),
        **_scored(result),
        "model": result.config.model,
        "llm": _llm(client),
        "before": _with_test(result.before),
        "after": _with_test(result.after),
        "best_round": result.best_round,
        "stopped": result.stopped,
        "totals": totals,
        "rounds": rounds,
        "seconds": round(seconds, 3),
        "config": result.config.model_dump(mode="json"),
        "training": _training(result.best),
        "versions": versions(),
    }


def write_outputs(out: Path, result: ConsultResult, payload: dict[str, Any], predictions: str = "csv") -> None:
    """Write a login run's files into ``out`` (the predictions table as ``predictions.<predictions>``)."""

    outputs.write_text(out / "consultations.jsonl",
                       "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in result.consultations))  # fmt: skip
    result.prediction_table().write(out / f"predictions.{predictions}", predictions)
    outputs.atomic_write(out / "accuracy_vs_calls.png", lambda tmp: plot_accuracy_vs_calls(payload, Path(tmp)))
    outputs.write_json(out / "result.json", payload)


def plot_accuracy_vs_calls(payload: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calls, test, val = [0], [], []
    for r in payload["rounds"]:
        if r["round"] > 0:
            calls.append(calls[-1] + r["calls"])
        if r["metrics"].get("test"):
            test.append(100 * r["metrics"]["test"]["acc"])
        val.append(100 * r["metrics"]["val"]["acc"])
    figure, axis = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    if test:  # no test part (split labelled): validation only
        axis.plot(calls, test, marker="o", label="test")
    axis.plot(calls, val, marker="s", linestyle="--", label="validation")
    best = payload["best_round"]
    marked = test if test else val
    axis.scatter([calls[best]], [marked[best]], s=120, facecolors="none", edgecolors="red", label="selected round")
    axis.set_xlabel("LLM calls (answers used)")
    axis.set_ylabel("accuracy (%)")
    axis.set_title(f"{payload['model']} on {payload['dataset']}, consultant {payload['llm']['model']}", fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)


# -- the gated strategy -----------------------------------------------------------------------------------------


def gated_summary(result: GatedResult, client: LLMClient, seconds: float) -> dict[str, Any]:
    """``result.json`` of a gated run. ``after`` is the final prediction (cascade over the kept GNN),
    ``after_gnn`` the kept GNN alone (what the small model learned); each is scored on validation, on test, and
    on the test nodes the LLM answered (``test_consulted``) and never saw (``test_not_consulted``)."""
    graph, split, y = result.graph, result.split, result.graph.y
    answered = torch.zeros(graph.num_nodes, dtype=torch.bool)
    asked = torch.zeros(graph.num_nodes, dtype=torch.bool)
    for item in result.asked:
        asked[item.node] = True
        answered[item.node] |= item.answer.ok

    def scores(predictions: torch.Tensor) -> dict[str, Any]:
        return {
            "val": subset_metrics(predictions, y, split.val),
            "test": subset_metrics(predictions, y, split.test),
            "test_consulted": subset_metrics(predictions, y, split.test & answered),
            "test_not_consulted": subset_metrics(predictions, y, split.test & ~asked),
        }

    on_test = [a for a in result.answered if a.part == "test"]
    ok = [a.answer for a in result.answered]
    return {
        "strategy": "gated",
        "dataset": graph.name,
        "split": _split_name(result),
        **_scored(result),
        "model": result.config.model,
        "llm": _llm(client),
        "before": scores(result.before.probs.argmax(-1)),
        "after": scores(result.predictions),
        "after_gnn": scores(result.selected.probs.argmax(-1)),
        # The last round's GNN whether or not validation kept it: what teaching did before model selection.
        "last_gnn": scores(result.last.probs.argmax(-1)),
        "selected_round": result.selected_round,
        "label_free": result.label_free,
        "teaching": result.teaching,
        "teach_min_confidence": result.config.teach_min_confidence,
        "gate": {
            "open": result.calibration_gate.open,
            "calibration": result.calibration_gate.as_dict(),
            "rounds": [r.gate.as_dict() for r in result.rounds],
        },
        "llm_accuracy_on_test_consulted": (
            round(sum(a.label == int(y[a.node]) for a in on_test) / len(on_test), 4) if on_test else None
        ),
        "totals": {
            "budget": result.config.budget_calls(graph.num_nodes),
            "asked": len(result.asked),
            "calls": len(ok),
            "calibration_calls": sum(a.phase == "calibration" for a in result.answered),
            "representative": sum(a.chosen == "representative" for a in result.asked),
            "pseudo_labels": max([r.pseudo_labels for r in result.rounds] or [0]),
            "accepted": sum(a.accepted for a in result.asked),
            "new_calls": sum(not a.cached for a in ok),
            # requests sent by this run, retries and format probes included (a paid endpoint bills each)
            "requests": client.usage()["requests"],
            "prompt_tokens": sum(a.usage.prompt_tokens for a in ok),
            "completion_tokens": sum(a.usage.completion_tokens for a in ok),
            "cost": round(sum(a.cost for a in ok if not a.cached), 6),
            # What the answers used cost when they were made, also by an earlier (killed) run of the same job.
            "spent_cost": round(sum(a.cost for a in ok), 6),
            "spent_llm_seconds": round(sum(a.latency_s for a in ok), 3),
            "llm_seconds": round(result.llm_seconds, 3),
            "feature_seconds": round(result.feature_seconds, 3),
            "train_seconds": round(result.train_seconds, 3),
            "llm_time": llm_time(ok),
            "failures": result.failures,
        },
        "rounds": [r.as_dict() for r in result.rounds],
        "seconds": round(seconds, 3),
        "config": result.config.model_dump(mode="json"),
        "training": _training(result.selected),
        "versions": versions(),
    }


def _training(result: Any) -> dict[str, Any] | None:
    """How the GNN trained, every value resolved (full-batch or mini-batch, the optimiser's values)."""
    return None if result.config is None else result.config.model_dump(mode="json")


def llm_time(answers: list[Any]) -> dict[str, Any]:
    """Where the LLM seconds of ``answers`` went, as the backend timed the model's own work (answers stored before
    timings were recorded, or from backends that report none, are not counted: ``timed`` says how many are):
    prompt evaluation (``prefill_s``), generation (``decode_s``) and the rest of the model's time (``other_s``:
    sampling with the output grammar, reading log-probabilities); ``prompt_eval_tokens`` of ``prompt_tokens`` were
    evaluated, the rest came from the cache of a prefix shared with the previous prompt."""
    timed = [(a, a.timings) for a in answers if a.timings is not None and a.timings.model_s is not None]
    model = sum(t.model_s for _, t in timed)
    prefill = sum(t.prefill_s or 0.0 for _, t in timed)
    decode = sum(t.decode_s or 0.0 for _, t in timed)
    evaluated = [t.prompt_eval_tokens for _, t in timed if t.prompt_eval_tokens is not None]
    return {
        "timed": len(timed),
        "model_s": round(model, 3),
        "prefill_s": round(prefill, 3),
        "decode_s": round(decode, 3),
        "other_s": round(max(model - prefill - decode, 0.0), 3),
        "prompt_tokens": sum(a.usage.prompt_tokens for a, _ in timed),
        "prompt_eval_tokens": sum(evaluated) if evaluated else None,
        "generated_tokens": sum(a.usage.completion_tokens for a, _ in timed),
    }


def gated_records(result: GatedResult) -> list[dict[str, Any]]:
    """One line of ``consultations.jsonl`` per node asked. Correctness is recorded for calibration (validation)
    nodes only: it is what the gate was fitted on; test scores are in ``result.json``."""
    names, graph, config = result.graph.class_names, result.graph, result.config
    used = " + ".join(way for way, on in (("cascade", config.cascade), ("pseudo-label", config.teach),
                                          ("text augmented", config.teach and config.augment)) if on)  # fmt: skip
    records = []
    for item in result.asked:
        answer = item.answer
        action = "calibration" if item.phase == "calibration" else (used if item.accepted else "not used")
        records.append({
            "phase": item.phase,
            "chosen": item.chosen,
            "node": item.node,
            "node_id": graph.node_ids[item.node] if graph.node_ids else item.node,
            "part": item.part,
            "text": item.text,
            "prompt_hash": prompt_hash(item.request),
            "store_key": answer.key,
            "answer": answer.label if answer.ok else None,
            "label_probs": answer.label_probs if answer.ok else None,
            "llm_confidence": round(item.llm_confidence, 4) if answer.ok else None,
            "explanation": answer.parsed.get("explanation") if answer.ok and answer.parsed else None,
            "gnn_prediction": names[item.gnn_prediction],
            "gnn_confidence": round(item.gnn_confidence, 4),
            "accepted": item.accepted,
            "combined": names[item.combined_label] if item.accepted else None,
            "combined_confidence": round(max(item.combined), 4) if item.combined else None,
            "correct": (item.label == int(graph.y[item.node])) if item.part == "val" and answer.ok else None,
            "gnn_correct": item.gnn_prediction == int(graph.y[item.node]) if item.part == "val" else None,
            "cached": bool(answer.cached) if answer.ok else None,
            "failure": None if answer.ok else answer.reason,
            "action": action if answer.ok else "failed",
        })  # fmt: skip
    return records


def write_gated_outputs(out: Path, result: GatedResult, payload: dict[str, Any], predictions: str = "csv") -> None:
    """``consultations.jsonl``, the predictions table (``predictions.<predictions>``) and ``result.json`` of a
    gated run (each written atomically)."""
    outputs.write_text(out / "consultations.jsonl",
                       "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in gated_records(result)))  # fmt: skip
    result.prediction_table().write(out / f"predictions.{predictions}", predictions)
    outputs.write_json(out / "result.json", payload)


def _llm(client: LLMClient) -> dict[str, Any]:
    return {"spec": client.config.llm, "model": client.model, "endpoint": client.endpoint,
            "identity": client.identity, "run_id": client.run_id, "token_counts": client.token_counts}  # fmt: skip
