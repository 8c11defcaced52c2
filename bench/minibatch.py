"""Full-batch against mini-batch training on a large graph: seconds and accuracy, backbone by backbone.

The graph is ``bench/scale.py``'s (``synthetic``, average degree 10, 12-word texts, 8 classes, TF-IDF features);
each backbone trains once full-batch (``--batch-size full``) and once in mini-batches (1024 training nodes a step,
10 neighbours per node and hop: what ``--batch-size auto`` picks from 100,000 nodes on), same seed, same defaults
(500 epochs, patience 100: full-batch epochs, or mini-batch steps). Writes ``bench/results/minibatch.json`` and a
section of ``docs/benchmarks.md``.

    python bench/minibatch.py --nodes 100000 --models gcn,sage
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, record_invocation, write_json, write_section  # noqa: E402

from mentor.graph import TrainConfig, make_synthetic, node_features, train_node_classifier  # noqa: E402
from mentor.graph.train import DEFAULT_BATCH_SIZE  # noqa: E402

RESULTS_NAME = "minibatch"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--models", default="gcn,sage")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results: dict[str, Any] = {"benchmark": RESULTS_NAME, "nodes": args.nodes, "seed": args.seed, "rows": []}
    record_invocation(results, "minibatch.py")
    graph = make_synthetic(num_nodes=args.nodes, num_classes=8, avg_degree=10, words=12, signal=0.3, homophily=0.2)
    x = node_features(graph, "bow", progress=False)
    split = graph.split("random")
    for model in args.models.split(","):
        for batch_size in (None, DEFAULT_BATCH_SIZE):
            config = TrainConfig(model=model, seed=args.seed, batch_size=batch_size)
            result = train_node_classifier(x, graph.edge_index, graph.y, split, config, num_classes=graph.num_classes)
            row = {"model": model, "batch_size": batch_size, "seconds": round(result.seconds, 1),
                   "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
                   "val_acc": round(result.metrics["val"]["acc"], 4),
                   "test_acc": round(result.metrics["test"]["acc"], 4)}  # fmt: skip
            print(row, flush=True)
            results["rows"].append(row)
    results["machine"] = machine()
    write_json(RESULTS_NAME, results)
    write_section(RESULTS_NAME, "\n".join([
        "## Full-batch against mini-batch training (`bench/minibatch.py`)",
        "",
        f"`{results['invocations'][-1]}` — {results['machine']['date']}, commit {results['machine']['commit']}, "
        f"{results['machine']['cpus']} CPUs. `bench/scale.py`'s generated graph with {args.nodes:,} nodes, TF-IDF "
        f"features, the random 60/20/20 split, seed {args.seed}; mini-batches of {DEFAULT_BATCH_SIZE} training nodes "
        "with 10 neighbours per node and hop (validation every 10 steps); epochs are full-batch epochs or "
        "mini-batch steps. One seed: differences of a few tenths of a point are within seed-to-seed spread.",
        "",
        "| backbone | training | seconds | epochs run (best) | val acc | test acc |",
        "|---|---|---:|---:|---:|---:|",
        *(f"| {r['model']} | {'mini-batches' if r['batch_size'] else 'full-batch'} | {r['seconds']:.1f} | "
          f"{r['epochs_run']} ({r['best_epoch']}) | {r['val_acc']:.4f} | {r['test_acc']:.4f} |"
          for r in results["rows"]),
    ]))  # fmt: skip


if __name__ == "__main__":
    main()
