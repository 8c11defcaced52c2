"""One full-batch training epoch at scale: PyG's ``edge_index`` message passing against a sparse (CSR) adjacency.

``bench/scale.py`` shows training is nearly all of a large gated run. This measures, side by side in one process,
a training epoch (forward, loss, backward, optimiser step) plus one evaluation pass of the same backbone on the
same random graph (average degree about 10, no repeated edge and no self-loop: on a node with a self-loop, GCN's
``edge_index`` path keeps it as its one loop while the sparse path adds another; 100 features, 8 classes, 60 %
training nodes), the
graph given as ``edge_index`` or as a ``torch.sparse`` CSR adjacency (``to_torch_csr_tensor``: PyG's convs then
aggregate by a sparse matrix product). It also checks that the two give the same logits from the same weights
(largest absolute difference). Epoch seconds are the median of ``--epochs`` after two warm-up epochs; the two
ways alternate, each with its own model of the same initial weights.

    python bench/gnn_epoch.py --sizes 10000,100000 --models gcn,sage
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch_geometric.utils import coalesce, remove_self_loops, to_torch_csr_tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, record_invocation, write_json, write_section  # noqa: E402

from mentor.graph.backbones import BackboneSpec  # noqa: E402


def graph(nodes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    edges = torch.randint(nodes, (2, nodes * 5), generator=generator)
    edges, _ = remove_self_loops(edges)  # GCN's two ways treat a self-loop differently (see above)
    edges = coalesce(torch.cat([edges, edges.flip(0)], dim=1), num_nodes=nodes)  # undirected, no repeated edge
    x = torch.randn(nodes, 100, generator=generator)
    y = torch.randint(8, (nodes,), generator=generator)
    train = torch.rand(nodes, generator=generator) < 0.6
    return x, edges, y, train


def epoch(model: torch.nn.Module, optimiser: torch.optim.Optimizer, x: torch.Tensor, structure: Any,
          y: torch.Tensor, train: torch.Tensor) -> float:  # fmt: skip
    started = time.perf_counter()
    model.train()
    optimiser.zero_grad()
    loss = F.cross_entropy(model(x, structure)[train], y[train])
    loss.backward()
    optimiser.step()
    model.eval()
    with torch.no_grad():
        model(x, structure)
    return time.perf_counter() - started


def measure(nodes: int, name: str, epochs: int) -> dict[str, Any]:
    x, edges, y, train = graph(nodes)
    # adj_t: row i holds the sources that send to node i (PyG's convention for sparse adjacencies)
    ways = {"edge_index": edges, "csr": to_torch_csr_tensor(edges.flip(0), size=(nodes, nodes))}
    torch.manual_seed(0)
    base = BackboneSpec.resolve(name, x.size(1), 8, nodes).build()
    models = {way: copy.deepcopy(base) for way in ways}
    base.eval()
    with torch.no_grad():
        difference = float((base(x, ways["edge_index"]) - base(x, ways["csr"])).abs().max())
    optimisers = {way: torch.optim.Adam(models[way].parameters(), lr=0.01) for way in ways}
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    for i in range(epochs + 2):
        for way in ways if i % 2 == 0 else reversed(list(ways)):
            spent = epoch(models[way], optimisers[way], x, ways[way], y, train)
            if i >= 2:
                seconds[way].append(spent)
    median = {way: statistics.median(values) for way, values in seconds.items()}
    return {"nodes": nodes, "edges": int(edges.size(1)), "model": name,
            "edge_index_s": round(median["edge_index"], 4), "csr_s": round(median["csr"], 4),
            "speedup": round(median["edge_index"] / median["csr"], 2), "max_logit_difference": difference}  # fmt: skip


def render(rows: list[dict[str, Any]], invocations: list[str]) -> str:
    lines = [
        "## A training epoch at scale: `edge_index` against a sparse adjacency (`bench/gnn_epoch.py`)",
        "",
        "Full-batch epoch (training step and one evaluation pass) on a random graph (average degree 10, no repeated "
        "edge, no self-loop, 100 features, 8 classes), the graph given as PyG `edge_index` or as a `torch.sparse` "
        "CSR adjacency; median seconds, measured side by side in one process. *Difference*: the largest "
        "absolute difference of the logits the two give from the same weights.",
        "",
        "Runs so far come from: " + "; ".join(f"`{i}`" for i in invocations),
        "",
        "| nodes | edges (both directions) | backbone | edge_index s | CSR s | speedup | difference |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['nodes']:,} | {r['edges']:,} | {r['model']} | {r['edge_index_s']:.3f} | {r['csr_s']:.3f} "
                     f"| {r['speedup']:.2f}× | {r['max_logit_difference']:.1e} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--models", default="gcn,sage")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, Any] = {"benchmark": "gnn_epoch", "rows": []}
    record_invocation(results, "gnn_epoch.py")
    for nodes in map(int, args.sizes.split(",")):
        for name in args.models.split(","):
            row = measure(nodes, name, args.epochs)
            print(row, flush=True)
            results["rows"].append(row)
    write_json("gnn_epoch", {**results, "machine": machine()})
    write_section("gnn_epoch", render(results["rows"], results["invocations"]))
    print(render(results["rows"], results["invocations"]))


if __name__ == "__main__":
    main()
