"""What any way of combining this teacher's answers with the GNN could give, from the answers already stored.

For each graph, backbone and seed: the GNN alone on the test nodes; the LLM alone (its blind answer on every test
node); ``pool-all``: the gated strategy's pool (:func:`mentor.consult.gate.calibrate`) fitted on **every**
validation node and applied to **every** test node, i.e. with no budget (40 % of the graph's nodes asked); and
``oracle``: the LLM's label where it is right, the GNN's elsewhere (it reads the test labels: a ceiling, never a
method). The client may not make a call (``max_calls=0``): fill the store first (``bench/consult_prefetch.py``).

    python bench/consult_bound.py --datasets cornell,texas,wisconsin --seeds 0-9
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import (  # noqa: E402
    ci95,  # noqa: E402
    invocations_note,
    machine,
    record_invocation,
    write_json,
    write_section,
)
from consult_gain import _seeds, _split  # noqa: E402

from mentor.consult import ConsultConfig, GatedConsultation  # noqa: E402
from mentor.consult.gate import Calibration, calibrate, llm_distribution, pooled  # noqa: E402
from mentor.graph import SentenceEncoder, load_dataset  # noqa: E402
from mentor.llm import BudgetLimits, LLMClient, LLMConfig  # noqa: E402

ARMS = ("alone", "llm", "pool-all", "oracle")


def bound_one(client: LLMClient, dataset: str, model: str, seed: int, encoder: SentenceEncoder) -> dict[str, float]:
    config = ConsultConfig(dataset=dataset, model=model, split=_split(dataset), seed=seed)
    consultation = GatedConsultation(config, client, graph=load_dataset(dataset, seed=seed), encoder=encoder,
                                     progress=False)  # fmt: skip
    graph, split = consultation.graph, consultation.split
    probs = consultation.train(consultation.features()).probs
    nodes = (split.val | split.test).nonzero().view(-1).tolist()
    answers = dict(zip(nodes, client.complete_many(consultation.blind_requests(nodes)), strict=True))
    missing = [n for n, a in answers.items() if not a.ok]
    if missing:
        raise SystemExit(f"{dataset}: {len(missing)} answers are not in the store (first: node {missing[0]}); "
                         "run bench/consult_prefetch.py first")  # fmt: skip
    names, y = graph.class_names, graph.y
    llm = {n: llm_distribution(a.label_probs, a.label, names) for n, a in answers.items()}
    val = split.val.nonzero().view(-1).tolist()
    gate = calibrate([Calibration(n, int(y[n]), tuple(probs[n].tolist()), tuple(llm[n])) for n in val], rule="pool")
    test = split.test.nonzero().view(-1).tolist()

    def best(values: list[float]) -> int:
        return max(range(len(values)), key=lambda i: (values[i], -i))

    predictions = {
        "alone": [int(probs[n].argmax()) for n in test],
        "llm": [best(llm[n]) for n in test],
        "pool-all": [best(pooled(probs[n].tolist(), llm[n], gate.gnn_weight, gate.llm_weight)) for n in test],
        "oracle": [best(llm[n]) if best(llm[n]) == int(y[n]) else int(probs[n].argmax()) for n in test],
    }
    record = {arm: sum(p == int(y[n]) for p, n in zip(pred, test, strict=True)) / len(test)
              for arm, pred in predictions.items()}  # fmt: skip
    record["llm_weight"] = gate.llm_weight
    return record


def summarise(runs: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, float]]] = {}
    for key, record in runs.items():
        dataset, model, _seed = key.split("|")
        groups.setdefault((dataset, model), []).append(record)
    rows = []
    for (dataset, model), records in sorted(groups.items()):
        row: dict[str, Any] = {"graph": dataset, "backbone": model, "seeds": len(records)}
        for arm in ARMS:
            values = [100 * r[arm] for r in records]
            row[arm], row[f"{arm}_ci95"] = round(statistics.mean(values), 2), round(ci95(values) or 0.0, 2)
        row["llm_weight_mean"] = round(statistics.mean(r["llm_weight"] for r in records), 2)
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], results: dict[str, Any]) -> str:
    lines = [
        "## What combining this teacher with the GNN could give (`bench/consult_bound.py`)",
        "",
        "Test accuracy (%), mean ± 95 % interval over seeds, from the stored blind answers of "
        "`local:qwen2.5-1.5b` and the backbone's round-0 prediction. `pool-all` = the gated strategy's pool, its "
        "weights fitted on every validation node and applied to every test node (no budget: 40 % of the nodes "
        "asked); `oracle` = the LLM's label where it is right, the GNN's elsewhere (reads the test labels: a "
        "ceiling, not a method); `w` = mean fitted LLM weight.",
        "",
        "| graph | backbone | seeds | GNN alone | LLM alone | pool-all | oracle | w |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines[4:4] = invocations_note([results])
    for r in rows:
        cells = [f"{r[arm]:.1f} ± {r[f'{arm}_ci95']:.1f}" for arm in ARMS]
        lines.append(f"| {r['graph']} | {r['backbone']} | {r['seeds']} | " + " | ".join(cells)
                     + f" | {r['llm_weight_mean']:.2f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cornell,texas,wisconsin")
    parser.add_argument("--models", default="gcn,sage,mlp,linkx")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--llm", default="local:qwen2.5-1.5b")
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, Any] = {"benchmark": "consult_bound", "machine": machine(), "runs": {}}
    record_invocation(results, "consult_bound.py")
    encoder = SentenceEncoder("minilm")
    config = LLMConfig(llm=args.llm, concurrency=1, limits=BudgetLimits(max_calls=0))
    with LLMClient(config, store=args.store) as client:
        for dataset in args.datasets.split(","):
            for model in args.models.split(","):
                for seed in _seeds(args.seeds):
                    results["runs"][f"{dataset}|{model}|{seed}"] = bound_one(client, dataset, model, seed, encoder)
                print(f"{dataset} {model} done", flush=True)
    results["rows"] = summarise(results["runs"])
    write_json("consult_bound", results)
    write_section("consult_bound", render(results["rows"], results))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
