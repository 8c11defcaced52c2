"""What a consultation run leaves behind: ``result.json``, ``consultations.jsonl``, ``accuracy_vs_calls.png``.

Each file is written to a temporary name and renamed into place, so an interrupted run leaves no half-written
file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mentor import outputs
from mentor.consult.loop import ConsultResult
from mentor.llm import LLMClient


def versions() -> dict[str, str]:
    return outputs.versions(("torch", "torch-geometric", "sentence-transformers", "llama-cpp-python", "openai"))


def summary(result: ConsultResult, client: LLMClient, seconds: float) -> dict[str, Any]:
    rounds = [r.as_dict() for r in result.rounds]
    answered = [r for r in result.rounds[1:]]
    totals = {
        key: sum(getattr(r, key) for r in answered)
        for key in ("consulted", "answered", "llm_correct", "texts_augmented", "edges_pruned", "calls", "new_calls",
                    "prompt_tokens", "completion_tokens")
    }  # fmt: skip
    totals["cost"] = round(sum(r.cost for r in answered), 6)
    totals["llm_accuracy"] = round(totals["llm_correct"] / totals["answered"], 4) if totals["answered"] else None
    totals["llm_seconds"] = round(sum(r.llm_seconds for r in answered), 3)
    return {
        "dataset": result.graph.name,
        "split": result.config.split or ("public" if "public" in result.graph.splits else "random"),
        "model": result.config.model,
        "llm": {
            "spec": client.config.llm,
            "model": client.model,
            "endpoint": client.endpoint,
            "identity": client.identity,
            "run_id": client.run_id,
        },  # fmt: skip
        "before": result.before,
        "after": result.after,
        "best_round": result.best_round,
        "stopped": result.stopped,
        "totals": totals,
        "rounds": rounds,
        "seconds": round(seconds, 3),
        "config": result.config.model_dump(mode="json"),
        "versions": versions(),
    }


def write_outputs(out: Path, result: ConsultResult, payload: dict[str, Any]) -> None:
    """Write the three output files into ``out``."""

    outputs.write_text(out / "consultations.jsonl",
                       "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in result.consultations))  # fmt: skip
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
        test.append(100 * r["metrics"]["test"]["acc"])
        val.append(100 * r["metrics"]["val"]["acc"])
    figure, axis = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    axis.plot(calls, test, marker="o", label="test")
    axis.plot(calls, val, marker="s", linestyle="--", label="validation")
    best = payload["best_round"]
    axis.scatter([calls[best]], [test[best]], s=120, facecolors="none", edgecolors="red", label="selected round")
    axis.set_xlabel("LLM calls (answers used)")
    axis.set_ylabel("accuracy (%)")
    axis.set_title(f"{payload['model']} on {payload['dataset']}, consultant {payload['llm']['model']}", fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
