"""How far teaching *could* reach: the GNN retrained with the **true** labels of some test nodes as pseudo-labels
(a perfect teacher, weight 1), scored on the test nodes it was not taught.

This bounds the gated strategy's teaching before any LLM call is spent: if even true labels on the taught nodes
do not move the accuracy on the others, no consultant's answers can. Taught nodes are chosen two ways:
``uncertain`` (the GNN's least confident test nodes, as the gated strategy asks) and ``random``. Accuracy in %,
mean over seeds, with the paired gain's 95 % interval. The true test labels are used on purpose here: this is
an upper-bound study, never a method.

    python bench/teaching_bound.py --datasets cornell,texas,wisconsin --seeds 0-9
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, invocations_note, machine, record_invocation, write_json, write_section  # noqa: E402
from consult_gain import _ci95, _seeds, _split  # noqa: E402

from mentor.graph import PseudoLabels, SentenceEncoder, TrainConfig, load_dataset, train_node_classifier  # noqa: E402

SELECTIONS = ("uncertain", "random")


def bound_one(dataset: str, model: str, seed: int, share: float, encoder: SentenceEncoder) -> dict[str, Any]:
    graph = load_dataset(dataset, seed=seed)
    split = graph.split(_split(dataset))
    x = encoder.encode(graph.texts or [], progress=False)
    config = TrainConfig(model=model, seed=seed)

    def train(pseudo: PseudoLabels | None = None) -> torch.Tensor:
        result = train_node_classifier(x, graph.edge_index, graph.y, split, config, pseudo=pseudo,
                                       num_classes=graph.num_classes)  # fmt: skip
        return result.probs

    before = train()
    test = split.test.nonzero().view(-1)
    k = int(share * len(test))
    order = {
        "uncertain": test[before.max(dim=-1).values[test].argsort(stable=True)],
        "random": test[torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))],
    }
    record: dict[str, Any] = {"taught": k, "rest": len(test) - k}
    for selection, ranked in order.items():
        taught, rest = ranked[:k], ranked[k:]
        after = train(PseudoLabels(nodes=taught, labels=graph.y[taught], weights=torch.ones(k)))
        record[selection] = {
            "before": float((before.argmax(-1)[rest] == graph.y[rest]).float().mean()),
            "after": float((after.argmax(-1)[rest] == graph.y[rest]).float().mean()),
        }
    return record


def summarise(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for key, record in runs.items():
        dataset, model, share, _seed = key.split("|")
        groups.setdefault((dataset, model, share), []).append(record)
    rows = []
    for (dataset, model, share), records in sorted(groups.items()):
        for selection in SELECTIONS:
            before = [100 * r[selection]["before"] for r in records]
            after = [100 * r[selection]["after"] for r in records]
            gains = [a - b for a, b in zip(after, before, strict=True)]
            ci = _ci95(gains)
            rows.append({
                "graph": dataset, "backbone": model, "taught_share": float(share), "selection": selection,
                "seeds": len(records), "taught_nodes": records[0]["taught"], "rest_nodes": records[0]["rest"],
                "rest_before": round(statistics.mean(before), 2), "rest_after": round(statistics.mean(after), 2),
                "gain": round(statistics.mean(gains), 2), "gain_ci95": None if ci is None else round(ci, 2),
            })  # fmt: skip
    return rows


def render(rows: list[dict[str, Any]], results: dict[str, Any]) -> str:
    lines = [
        "## How far teaching could reach (`bench/teaching_bound.py`)",
        "",
        "An upper bound for the gated strategy's teaching, measured before spending calls: the backbone retrained "
        "with the **true** labels of a share of the test nodes as pseudo-labels (a perfect teacher), scored on the "
        "test nodes it was not taught (`rest`), against the same backbone without them. `uncertain` = the GNN's "
        "least confident test nodes are taught (as the gated strategy asks), `random` = a random share. Accuracy "
        "(%), mean over seeds; gain paired by seed with its 95 % interval. MiniLM features; WebKB 60/20/20 split "
        "drawn per seed, Cora public split.",
        "",
        "| graph | backbone | taught | selection | seeds | taught / rest nodes | rest: before → after | gain |",
        "|---|---|---:|---|---:|---:|---|---:|",
    ]
    lines[4:4] = invocations_note([results])
    for r in rows:
        ci = "" if r["gain_ci95"] is None else f" ± {r['gain_ci95']:.1f}"
        lines.append(f"| {r['graph']} | {r['backbone']} | {100 * r['taught_share']:.0f} % | {r['selection']} | "
                     f"{r['seeds']} | {r['taught_nodes']} / {r['rest_nodes']} | {r['rest_before']:.1f} → "
                     f"{r['rest_after']:.1f} | {r['gain']:+.1f}{ci} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cornell,texas,wisconsin")
    parser.add_argument("--models", default="gcn,sage,mlp,linkx")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--share", type=float, default=0.6, help="share of the test nodes taught")
    args = parser.parse_args()
    path = RESULTS / "teaching_bound.json"
    results = json.loads(path.read_text()) if path.exists() else {"benchmark": "teaching_bound", "runs": {}}
    results["machine"] = machine()
    record_invocation(results, "teaching_bound.py")
    encoder = SentenceEncoder("minilm")
    for dataset in args.datasets.split(","):
        for model in args.models.split(","):
            for seed in _seeds(args.seeds):
                key = f"{dataset}|{model}|{args.share:g}|{seed}"
                results["runs"][key] = bound_one(dataset, model, seed, args.share, encoder)
                print(key, {s: results["runs"][key][s] for s in SELECTIONS}, flush=True)
            results["rows"] = summarise(results["runs"])
            write_json("teaching_bound", results)
    write_section("teaching_bound", render(results["rows"], results))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
