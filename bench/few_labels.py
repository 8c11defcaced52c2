"""Few labels: does the small model itself learn from the LLM? Never-asked and held-out nodes, K labels per class.

For each graph, K (split ``few:K``: K labelled nodes per class **in total**, all of them training, no validation
part; the gate calibrates cross-fitted on them), backbone and seed, the gated strategy runs in these arms:

- ``uncertain``: every call after calibration goes to the least confident nodes (the gated strategy before few-label
  teaching: ``teaching=0``);
- ``teaching``: the defaults for few labels: half of each round's calls go to representative nodes (k-means centres
  of neighbourhood-averaged features), whose answers teach;
- ``teaching-filtered``: as ``teaching``, and an answer teaches only where the gate's combined probability of its
  label reaches ``--filter``;
- ``simulated-pX``: ``teaching`` with a **simulated** consultant right with probability X (bare labels): what any
  teacher of that accuracy could give, never a method.

Each arm is scored on the test nodes never asked (the small model's own learning, apart from the LLM's answers),
on all test nodes, and **inductively**: a random 20 % of the labelled nodes (and their edges) is removed before the
run and predicted afterwards by the saved GNN alone (no LLM call). ``K = 0`` is the label-free case: the LLM labels
representative nodes, its most confident answers train round 0's GNN; there the comparison is the GNN against the
LLM's own answers on the same never-asked test nodes (``llm`` arm: those nodes' stored answers).

Blind prompts depend on the graph alone, so the response store answers each node once for every K, seed, backbone
and arm; with ``bench/llm_seconds.py``'s store every WebKB node is already answered (0 new calls). Runs accumulate
in ``bench/results/few_labels_runs.json``; the table goes to ``few_labels.json`` (with the ``summary`` block) and
docs/benchmarks.md.

    python bench/few_labels.py --datasets cornell,texas,wisconsin --ks 0,3,5 --models sage,mlp --seeds 0-9 \\
        --store ~/.cache/mentor/bench-llm-seconds.sqlite
"""

from __future__ import annotations

import argparse
import fcntl
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prompts import DEFAULT_AFTER  # noqa: E402
from _prompts import VARIANTS as PROMPTS  # noqa: E402
from _report import (  # noqa: E402
    RESULTS,
    ci95,
    export_new_answers,
    machine,
    mean_ci,
    record_invocation,
    seeded_store,
    write_json,
    write_section,
)
from _simulated import simulated_client  # noqa: E402
from consult_gain import _seeds  # noqa: E402
from inductive import HELD_OUT, without  # noqa: E402

from mentor.consult import ConsultConfig, GatedConsultation, gated_summary  # noqa: E402
from mentor.graph import SentenceEncoder, load_dataset  # noqa: E402
from mentor.graph.saved import SavedModel  # noqa: E402
from mentor.llm import LLMClient, LLMConfig  # noqa: E402
from mentor.paths import cache_dir  # noqa: E402

RUNS = "few_labels_runs"
#: Answers this benchmark replays: the prompt benchmark's (every WebKB node) and the others shipped; answers it
#: adds (Cora) go to ``ANSWERS``.
SHIPPED = RESULTS / "llm_seconds_answers.jsonl.gz"
ALSO_SHIPPED = tuple(RESULTS / f"{name}_answers.jsonl.gz" for name in ("consult_gain", "inductive", "teacher_cascade"))
ANSWERS = RESULTS / "few_labels_answers.jsonl.gz"
#: Serialises additions to the runs file between invocations running side by side (one graph each).
LOCK = Path(tempfile.gettempdir()) / "mentor-few-labels.lock"


_TRAINED: dict[tuple[Any, ...], Any] = {}


class Memoised(GatedConsultation):
    """The gated strategy whose trainings without pseudo-labels (round 0, the cross-fitting folds) are computed
    once per graph, split, backbone and seed: they are deterministic, and every arm of a seed repeats them."""

    def train(self, x: torch.Tensor, pseudo: Any = None, split: Any = None) -> Any:
        if pseudo is not None:
            return super().train(x, pseudo=pseudo, split=split)
        parts = split or self.split
        key = (self.graph.name, self.graph.num_nodes, self.config.model, self.config.seed,
               hash(torch.cat([parts.train, parts.val]).numpy().tobytes()), hash(x.numpy().tobytes()))  # fmt: skip
        if key not in _TRAINED:
            _TRAINED[key] = super().train(x, split=split)
        return _TRAINED[key]


def arms(filter_at: float) -> dict[str, dict[str, Any]]:
    """The real-teacher arms: ConsultConfig fields over the defaults."""
    return {
        "uncertain": {"teaching": 0.0, "teach_min_confidence": 0.0},
        "teaching": {},
        "teaching-filtered": {"teach_min_confidence": filter_at},
    }


def run_arm(config: ConsultConfig, client: LLMClient, graph: Any, full: Any, removed: torch.Tensor,
            encoder: SentenceEncoder, llm_alone: bool) -> dict[str, Any]:  # fmt: skip
    """One arm on ``graph`` (and on ``graph`` without ``removed``, for the inductive score)."""
    started = time.perf_counter()
    consultation = Memoised(config, client, graph=graph, encoder=encoder, progress=False)
    result = consultation.run()
    seconds = time.perf_counter() - started
    summary = gated_summary(result, client, seconds)
    split = result.split
    asked = torch.zeros(graph.num_nodes, dtype=torch.bool)
    asked[[a.node for a in result.asked]] = True
    never = split.test & ~asked
    y = graph.y

    def acc(probs_or_labels: torch.Tensor, mask: torch.Tensor) -> float | None:
        labels = probs_or_labels if probs_or_labels.dim() == 1 else probs_or_labels.argmax(-1)
        return float((labels[mask] == y[mask]).float().mean()) if bool(mask.any()) else None

    record: dict[str, Any] = {
        "label_free": result.label_free,
        "alone": acc(result.before.probs, split.test),
        "after": acc(result.predictions, split.test),
        "never_asked_nodes": int(never.sum()),
        "never_asked_alone": acc(result.before.probs, never),
        "never_asked_after": acc(result.selected.probs, never),
        "gate_open": bool(result.calibration_gate.open),
        "calls": summary["totals"]["calls"],
        "calibration_calls": summary["totals"]["calibration_calls"],
        "new_calls": summary["totals"]["new_calls"],
        "representative": summary["totals"]["representative"],
        "accepted": summary["totals"]["accepted"],
        "pseudo_labels": summary["totals"]["pseudo_labels"],
        "llm_seconds": summary["totals"]["spent_llm_seconds"],
        "seconds": round(seconds, 1),
    }
    if llm_alone:  # the LLM's own answers on the never-asked test nodes (blind prompts: from the store)
        nodes = never.nonzero().view(-1).tolist()
        answers = client.complete_many(consultation.blind_requests(nodes), progress=False)
        names = graph.class_names
        right = [a.ok and names.index(a.label) == int(y[v]) for v, a in zip(nodes, answers, strict=True)]
        record["never_asked_llm"] = sum(right) / len(right) if right else None
        record["llm_alone_new_calls"] = sum(a.ok and not a.cached for a in answers)
    # Inductive: the same arm on the graph without the removed nodes; its saved GNNs predict them.
    rest = without(full, removed, config.seed)
    held = Memoised(config, client, graph=rest, encoder=encoder, progress=False).run()
    truth = full.y[removed]

    def inductive(train_result: Any) -> float:
        probs = SavedModel.from_training(train_result, rest).predict_proba(full)
        return float((probs[removed].argmax(-1) == truth).float().mean())

    record["inductive_alone"] = inductive(held.before)
    record["inductive_after"] = inductive(held.selected)
    record["inductive_calls"] = len(held.answered)
    return record


def collect(args: argparse.Namespace) -> None:
    path = RESULTS / f"{RUNS}.json"
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(path.read_text()) if path.exists() else {"benchmark": RUNS, "runs": {}}
        results["machine"] = machine()
        record_invocation(results, "few_labels.py")
        write_json(RUNS, results)
    encoder = SentenceEncoder("minilm")
    prompt = PROMPTS[args.prompt]
    seeded_store(args.store, SHIPPED, *ALSO_SHIPPED, ANSWERS)
    with LLMClient(LLMConfig(llm=args.llm, concurrency=1), store=args.store) as client:
        for dataset in args.datasets.split(","):
            for k in map(int, args.ks.split(",")):
                for seed in _seeds(args.seeds):
                    _TRAINED.clear()  # what a seed trained is not needed by the next
                    full = load_dataset(dataset, seed=seed)
                    graph = full  # the transductive runs see the whole graph
                    generator = torch.Generator().manual_seed(1000 + seed)
                    removed = torch.randperm(full.num_nodes, generator=generator)[: round(HELD_OUT * full.num_nodes)]
                    removed = removed[full.y[removed] >= 0]
                    for model in args.models.split(","):
                        base = ConsultConfig(dataset=dataset, model=model, split=f"few:{k}", seed=seed,
                                             budget=args.budget, **prompt)  # fmt: skip
                        plan = [(name, base.model_copy(update=update), None)
                                for name, update in arms(args.filter).items()
                                if not (k == 0 and name == "uncertain")]  # fmt: skip
                        plan += [(f"simulated-p{p}", base, float(p)) for p in filter(None, args.simulate.split(","))]
                        for name, config, p in plan:
                            key = f"{dataset}|{k}|{model}|{name}|{args.budget:g}|{seed}"
                            if key in results["runs"] and not args.rerun:
                                continue
                            if p is None:
                                record = run_arm(config, client, graph, full, removed, encoder, args.llm_alone)
                            else:
                                with simulated_client(full, p, seed) as sim:
                                    record = run_arm(config, sim, graph, full, removed, encoder, args.llm_alone)
                            print(key, json.dumps(record), flush=True)
                            # another invocation (another graph) may run beside this one: add under a lock
                            with LOCK.open("w") as lock:
                                fcntl.flock(lock, fcntl.LOCK_EX)
                                results = json.loads(path.read_text())
                                results["runs"][key] = record
                                write_json(RUNS, results)
                    if client.usage()["requests"]:  # new answers this invocation: ship them with the results
                        known = tuple(path for path in ALSO_SHIPPED if path.exists())
                        export_new_answers(client.store, SHIPPED, ANSWERS, also_known=known)


def _pct(values: list[float | None]) -> list[float]:
    return [100 * v for v in values if v is not None]


def summarise(runs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, int, str, str, str], list[dict[str, Any]]] = {}
    for key, record in runs.items():
        dataset, k, model, arm, budget, _seed = key.split("|")
        groups.setdefault((dataset, int(k), model, arm, budget), []).append(record)
    rows = []
    for (dataset, k, model, arm, budget), records in sorted(groups.items()):
        if k == 0:  # label-free: the GNN against the LLM's own answers on the same never-asked nodes
            pairs = [(r["never_asked_after"], r.get("never_asked_llm")) for r in records]
            never_gain = _pct([a - b for a, b in pairs if a is not None and b is not None])
            baseline = "llm"
        else:
            pairs = [(r["never_asked_after"], r["never_asked_alone"]) for r in records]
            never_gain = _pct([a - b for a, b in pairs if a is not None and b is not None])
            baseline = "alone"
        inductive_gain = _pct([r["inductive_after"] - r["inductive_alone"] for r in records])
        never_after = _pct([r["never_asked_after"] for r in records])
        never_base = _pct([r["never_asked_alone"] if k else r.get("never_asked_llm") for r in records])
        never_llm = _pct([r.get("never_asked_llm") for r in records])
        rows.append({
            "graph": dataset, "k": k, "backbone": model, "arm": arm, "budget": float(budget),
            "seeds": len(records), "baseline": baseline,
            "never_asked_nodes": statistics.mean(r["never_asked_nodes"] for r in records),
            "never_asked_before": round(statistics.mean(never_base), 2) if never_base else None,
            "never_asked_after": round(statistics.mean(never_after), 2) if never_after else None,
            "never_asked_gain": _mean_ci(never_gain),
            "never_asked_llm": round(statistics.mean(never_llm), 2) if never_llm else None,
            "test_alone": _mean_ci(_pct([r["alone"] for r in records])),
            "test_after": _mean_ci(_pct([r["after"] for r in records])),
            "inductive_alone": _mean_ci(_pct([r["inductive_alone"] for r in records])),
            "inductive_gain": _mean_ci(inductive_gain),
            "calls": round(statistics.mean(r["calls"] for r in records), 1),
            "calibration_calls": round(statistics.mean(r["calibration_calls"] for r in records), 1),
            "representative": round(statistics.mean(r["representative"] for r in records), 1),
            "pseudo_labels": round(statistics.mean(r["pseudo_labels"] for r in records), 1),
            "new_calls": sum(r["new_calls"] for r in records),
            "llm_seconds": round(statistics.mean(r["llm_seconds"] for r in records), 1),
            "gate_open": sum(r["gate_open"] for r in records),
        })  # fmt: skip
    return rows


def _mean_ci(values: list[float]) -> dict[str, float | None] | None:
    if not values:
        return None
    ci = ci95(values)
    return {"mean": round(statistics.mean(values), 2), "ci95": None if ci is None else round(ci, 2)}


def headline(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per graph and K: the real-teacher arm (and backbone) with the best never-asked gain, and the simulated
    p = 0.9 arm on the same backbone."""
    out = []
    for graph, k in sorted({(r["graph"], r["k"]) for r in rows}):
        mine = [r for r in rows if r["graph"] == graph and r["k"] == k and r["never_asked_gain"]]
        real = [r for r in mine if not r["arm"].startswith("simulated")]
        if not real:
            continue
        best = max(real, key=lambda r: r["never_asked_gain"]["mean"])
        chosen = [best] + [r for r in mine if r["arm"] == "simulated-p0.9" and r["backbone"] == best["backbone"]]
        for r in chosen:
            out.append({"graph": graph, "k": k, "arm": r["arm"], "backbone": r["backbone"], "seeds": r["seeds"],
                        "baseline": r["baseline"], "never_asked_gain": r["never_asked_gain"],
                        "inductive_gain": r["inductive_gain"], "calls": r["calls"]})  # fmt: skip
    return out


def _gain(block: dict[str, float | None] | None) -> str:
    return "–" if block is None else mean_ci(block["mean"], block["ci95"], sign="+")


def render(rows: list[dict[str, Any]], invocations: list[str]) -> str:
    lines = [
        "## Few labels: what the small model itself learns from the LLM (`bench/few_labels.py`)",
        "",
        "Split `few:K`: K labelled nodes per class in total, all training, no validation part (the gate calibrates "
        "cross-fitted on them); every other labelled node is a test node. Teacher `local:qwen2.5-1.5b`, prompts "
        f"`{DEFAULT_AFTER}` (the gated default), *budget*: the share of the nodes asked, calibration included. "
        "Arms: `uncertain` "
        "(every call after calibration to the least confident nodes), `teaching` (the few-label default: half of "
        "each round's calls to representative nodes, whose answers teach), `teaching-filtered` (an answer teaches "
        "only where the combined probability of its label is at least the filter), `simulated-pX` (`teaching` "
        "with a simulated consultant right with probability X). *Never asked*: test nodes the LLM never saw, "
        "scored on the small model alone, before (round 0) → after (the kept GNN); K = 0 compares the GNN "
        "trained on the LLM's answers with the LLM's own answers on those nodes (*the LLM on them*: its "
        "accuracy on the never-asked nodes, from its stored answers; a simulated arm's is the simulation's). "
        "*Inductive*: 20 % of the "
        "labelled nodes removed before the run, predicted afterwards by the saved GNN alone. Gains are paired by "
        "seed, mean ± 95 % CI, in points.",
        "",
        "Runs so far come from: " + "; ".join(f"`{i}`" for i in invocations),
        "",
        "| graph | K | backbone | arm | budget | seeds | never asked: nodes | before → after | gain | "
        "the LLM on them | inductive: alone | gain | calls (calibration, to teach) | pseudo-labels | LLM s / run |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        before = "–" if r["never_asked_before"] is None else f"{r['never_asked_before']:.1f}"
        after = "–" if r["never_asked_after"] is None else f"{r['never_asked_after']:.1f}"
        base = " (LLM)" if r["baseline"] == "llm" else ""
        inductive = r["inductive_alone"]
        lines.append(
            f"| {r['graph']} | {r['k']} | {r['backbone']} | {r['arm']} | {r['budget']:g} | {r['seeds']} | "
            f"{r['never_asked_nodes']:.0f} | {before}{base} → {after} | {_gain(r['never_asked_gain'])} | "
            f"{'–' if r['never_asked_llm'] is None else format(r['never_asked_llm'], '.1f')} | "
            f"{'–' if inductive is None else format(inductive['mean'], '.1f')} | {_gain(r['inductive_gain'])} | "
            f"{r['calls']:.0f} ({r['calibration_calls']:.0f}, {r['representative']:.0f}) | "
            f"{r['pseudo_labels']:.0f} | {r['llm_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cornell,texas,wisconsin")
    parser.add_argument("--ks", default="0,3,5", help="labels per class (0: label-free)")
    parser.add_argument("--models", default="sage,mlp")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--budget", type=float, default=0.25)
    parser.add_argument("--filter", type=float, default=0.6, help="teaching-filtered: the minimum probability")
    parser.add_argument("--simulate", default="0.78,0.9")
    parser.add_argument("--prompt", default=DEFAULT_AFTER, choices=[v for v in PROMPTS if "classes" not in PROMPTS[v]])
    parser.add_argument("--llm", default="local:qwen2.5-1.5b")
    parser.add_argument("--store", type=Path, default=cache_dir() / "bench-llm-seconds.sqlite")
    parser.add_argument("--llm-alone", action=argparse.BooleanOptionalAction, default=True,
                        help="score the LLM answers on never-asked test nodes (new calls if unstored)")  # fmt: skip
    parser.add_argument("--rerun", action="store_true", help="replace runs already recorded")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if not args.report_only:
        collect(args)
    results = json.loads((RESULTS / f"{RUNS}.json").read_text())
    rows = summarise(results["runs"])
    write_json("few_labels", {"benchmark": "few_labels", "machine": results.get("machine"),
                              "invocations": results["invocations"], "summary": headline(rows),
                              "rows": rows})  # fmt: skip
    write_section("few_labels", render(rows, results["invocations"]))
    print(render(rows, results["invocations"]))


if __name__ == "__main__":
    main()
