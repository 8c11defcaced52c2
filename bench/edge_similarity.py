"""How similar are linked nodes' features? The cosine similarity across edges, against the consult loop's
pruning threshold (an edge of a node the LLM got wrong is pruned when its cosine is below it, default 0.1).

    python bench/edge_similarity.py --datasets cora,cornell,texas,wisconsin --features minilm
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, write_json, write_section  # noqa: E402

from mentor.graph import load_dataset, node_features  # noqa: E402

QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5)


def measure(dataset: str, features: str, thresholds: list[float]) -> dict:
    graph = load_dataset(dataset, seed=0)
    x = torch.nn.functional.normalize(node_features(graph, features), dim=-1)
    source, target = graph.edge_index
    cosine = (x[source] * x[target]).sum(-1)
    same = graph.y[source] == graph.y[target]
    return {
        "edges": int(cosine.numel()),  # both directions of each undirected edge
        "quantiles": {
            f"{q:g}": round(float(v), 4)
            for q, v in zip(QUANTILES, torch.quantile(cosine, torch.tensor(QUANTILES)), strict=True)
        },
        "below": {f"{t:g}": round(float((cosine < t).float().mean()), 4) for t in thresholds},
        "different_class_share_all": round(float((~same).float().mean()), 4),
        "median_same_class": round(float(cosine[same].median()), 4),
        "median_different_class": round(float(cosine[~same].median()), 4) if bool((~same).any()) else None,
        "different_class_share_below": {
            f"{t:g}": round(float((~same[cosine < t]).float().mean()), 4) if bool((cosine < t).any()) else None
            for t in thresholds
        },
    }


def _below_cell(m: dict, t: str) -> str:
    share = m["different_class_share_below"][t]
    return f"{100 * m['below'][t]:.1f}% ({'–' if share is None else f'{100 * share:.0f}%'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cora,cornell,texas,wisconsin")
    parser.add_argument("--features", default="minilm")
    parser.add_argument("--thresholds", default="0.1,0.2,0.3")
    args = parser.parse_args()
    thresholds = [float(t) for t in args.thresholds.split(",")]
    results = {
        "benchmark": "edge_similarity",
        "features": args.features,
        "machine": machine(),
        "invocation": "python bench/edge_similarity.py " + " ".join(sys.argv[1:]),
        "datasets": {d: measure(d, args.features, thresholds) for d in args.datasets.split(",")},
    }
    write_json("edge_similarity", results)
    lines = [
        "## Feature similarity across edges (`bench/edge_similarity.py`)",
        "",
        f"Cosine similarity of the two end points' `{args.features}` features over all edges "
        f"(`{results['invocation']}`). "
        "The consult loop prunes a wrongly answered node's edges whose cosine is below `--prune-threshold` "
        "(default 0.1, as in LOGIN); `different-class share` = share of the edges below a threshold that join "
        "nodes of different classes (what pruning should remove).",
        "",
        "| data set | edges | cosine 1% / 5% / 10% / 50% | median same / different class | different-class share | "
        + " | ".join(f"below {t:g} (different-class share)" for t in thresholds)
        + " |",
        "|---|---:|---|---|---:|" + "---:|" * len(thresholds),
    ]
    for dataset, m in results["datasets"].items():
        q = m["quantiles"]
        cells = [_below_cell(m, f"{t:g}") for t in thresholds]
        lines.append(
            f"| {dataset} | {m['edges']} | {q['0.01']:.2f} / {q['0.05']:.2f} / {q['0.1']:.2f} / {q['0.5']:.2f} | "
            f"{m['median_same_class']:.2f} / {m['median_different_class']:.2f} | "
            f"{100 * m['different_class_share_all']:.0f}% | " + " | ".join(cells) + " |"
        )
    write_section("edge_similarity", "\n".join(lines))


if __name__ == "__main__":
    main()
