"""What consulting the LLM gains the small model, honestly measured: the gated strategy against the GNN alone,
LOGIN's loop and the LLM as a predictor, at equal budgets, over many seeds.

For each graph, seed and backbone, every arm starts from the same GNN (round 0 is seeded, so "alone" is the same
model for all arms of a seed):

- ``alone``: the GNN on its training labels; ``login``: LOGIN's loop on training nodes (blind prompts, the same
  number of calls); ``gated-cascade`` / ``gated-teach`` / ``gated``: the gated strategy (the default ``pool``
  gate) with cascade only, teaching only, both; ``route`` (and ``route-cascade`` / ``route-teach`` /
  ``route-teach-improve``): the same with the threshold rule; ``llm-predictor``: the LLM's answer on every test
  node (its accuracy); ``simulated-pX``: the gated strategy with a **simulated** consultant right with
  probability X (an upper-bound study, not an LLM; it gives bare labels, no probabilities).

Test labels are read only to score. Blind prompts depend on the graph alone, so ``bench/consult_prefetch.py``
(or the first seed) answers each node once for every seed and arm. Per-run records accumulate in
``bench/results/consult_gain_runs.json`` (a later invocation adds or replaces runs); the summary rows go to
``bench/results/consult_gain.json`` and the table to ``docs/benchmarks.md``.

    python bench/consult_gain.py --datasets cornell,texas,wisconsin --models gcn,sage,mlp,linkx --seeds 0-9
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _prompts import DEFAULT_BEFORE  # noqa: E402
from _prompts import VARIANTS as PROMPTS  # noqa: E402
from _report import (  # noqa: E402
    RESULTS,
    ci95,
    invocations_note,
    machine,
    mean_ci,
    record_invocation,
    write_json,
    write_section,
)
from _simulated import simulated_client  # noqa: E402

from mentor.consult import Consultation, ConsultConfig, GatedConsultation, gated_summary  # noqa: E402
from mentor.graph import SentenceEncoder, load_dataset  # noqa: E402
from mentor.llm import LLMClient, LLMConfig  # noqa: E402

GATED_ARMS = {
    "gated": {"cascade": True, "teach": True},
    "gated-cascade": {"cascade": True, "teach": False},
    "gated-teach": {"cascade": False, "teach": True},
    "route": {"combine": "route", "cascade": True, "teach": True},
    "route-cascade": {"combine": "route", "cascade": True, "teach": False},
    "route-teach": {"combine": "route", "cascade": False, "teach": True},
    # model selection as the issue first proposed it: a retrained GNN must beat the kept one on validation
    "route-teach-improve": {"combine": "route", "cascade": False, "teach": True, "selection": "improve"},
}
RUNS = "consult_gain_runs"
# Student's t quantiles (two-sided 95 %) for n - 1 degrees of freedom.


def _seeds(text: str) -> list[int]:
    if "-" in text:
        low, high = map(int, text.split("-"))
        return list(range(low, high + 1))
    return [int(s) for s in text.split(",")]


def _split(dataset: str) -> str:
    return "public" if dataset == "cora" else "random"


def _graph_label(dataset: str, split: str) -> str:
    """The name a graph's rows carry: the data set, with the split where it is not the data set's usual one."""
    return dataset if split == _split(dataset) else f"{dataset}-{split}"


def _gated_record(payload: dict[str, Any], seconds: float) -> dict[str, Any]:
    totals = payload["totals"]

    def acc(block: dict[str, Any] | None) -> float | None:
        return None if block is None else block["acc"]

    return {
        "alone": payload["before"]["test"]["acc"],
        "mentor": payload["after"]["test"]["acc"],
        "mentor_gnn": payload["after_gnn"]["test"]["acc"],
        "last_gnn": payload["last_gnn"]["test"]["acc"],
        "last_gnn_not_consulted": acc(payload["last_gnn"]["test_not_consulted"]),
        "alone_not_consulted": acc(payload["before"]["test_not_consulted"]),
        "not_consulted": acc(payload["after"]["test_not_consulted"]),
        "test_not_consulted_nodes": (payload["after"]["test_not_consulted"] or {}).get("nodes", 0),
        "llm_accuracy_consulted": payload["llm_accuracy_on_test_consulted"],
        "gate_open": payload["gate"]["open"],
        "rule": payload["gate"]["calibration"]["rule"],
        "tau": payload["gate"]["calibration"].get("tau"),
        "kappa": payload["gate"]["calibration"].get("kappa"),
        "llm_weight": payload["gate"]["calibration"].get("llm_weight"),
        "gnn_weight": payload["gate"]["calibration"].get("gnn_weight"),
        "calls": totals["calls"],
        "new_calls": totals["new_calls"],
        "calibration_calls": totals["calibration_calls"],
        "accepted": totals["accepted"],
        "selected_round": payload["selected_round"],
        "seconds": round(seconds, 1),
    }


_ALONE: dict[tuple[Any, ...], Any] = {}


def _memoised(cls: type) -> type:
    """``cls`` whose round-0 training (no pseudo-labels) is computed once per backbone, seed and features: it is
    deterministic, and every arm of a seed starts from it."""

    class Memoised(cls):  # type: ignore[misc, valid-type]
        def train(self, x: torch.Tensor, pseudo: Any = None, split: Any = None) -> Any:
            if pseudo is not None or split is not None:  # retraining, or a cross-fitting fold
                return super().train(x, pseudo=pseudo, split=split)
            key = (self.graph.name, self.config.model, self.config.seed, self.split_name, hash(x.numpy().tobytes()))
            if key not in _ALONE:
                _ALONE[key] = super().train(x)
            return _ALONE[key]

    return Memoised


Gated, Login = _memoised(GatedConsultation), _memoised(Consultation)


def run_gated(config: ConsultConfig, client: LLMClient, graph: Any, encoder: Any) -> dict[str, Any]:
    started = time.perf_counter()
    result = Gated(config, client, graph=graph, encoder=encoder, progress=False).run()
    seconds = time.perf_counter() - started
    return _gated_record(gated_summary(result, client, seconds), seconds)


def run_login(config: ConsultConfig, client: LLMClient, graph: Any, encoder: Any) -> dict[str, Any]:
    started = time.perf_counter()
    result = Login(config, client, graph=graph, encoder=encoder, progress=False).run()
    seconds = time.perf_counter() - started
    calls = sum(r.calls for r in result.rounds[1:])
    return {"alone": result.before["test"]["acc"], "mentor": result.after["test"]["acc"],
            "alone_not_consulted": result.before["test"]["acc"], "not_consulted": result.after["test"]["acc"],
            "calls": calls, "new_calls": sum(r.new_calls for r in result.rounds[1:]),
            "seconds": round(seconds, 1)}  # fmt: skip


def run_predictor(config: ConsultConfig, client: LLMClient, graph: Any, encoder: Any) -> dict[str, Any]:
    """The LLM's answer on every test node (the GNN's prediction where it gave none)."""
    started = time.perf_counter()
    consultation = Gated(config, client, graph=graph, encoder=encoder, progress=False)
    before = consultation.train(consultation.features())
    test = consultation.split.test.nonzero().view(-1).tolist()
    answers = client.complete_many(consultation.blind_requests(test))
    predictions = before.probs.argmax(-1).clone()
    for node, answer in zip(test, answers, strict=True):
        if answer.ok:
            predictions[node] = graph.class_names.index(answer.label)
    y = consultation.graph.y
    mentor = float((predictions[test] == y[test]).float().mean())
    return {"alone": before.metrics["test"]["acc"], "mentor": mentor, "alone_not_consulted": None,
            "not_consulted": None, "calls": sum(a.ok for a in answers),
            "new_calls": sum(a.ok and not a.cached for a in answers),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cornell,texas,wisconsin")
    parser.add_argument("--models", default="gcn,sage,mlp,linkx")
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,1,2")
    parser.add_argument("--split", default=None, help="default: public for Cora, random (60/20/20) elsewhere")
    parser.add_argument("--budgets", default="0.1,0.25", help="LLM calls as shares of the graph's nodes")
    parser.add_argument("--arms", default="gated,gated-cascade,gated-teach,route,login,llm-predictor")
    parser.add_argument("--simulate", default="", help="p values for simulated consultants, e.g. 0.5,0.7,0.9")
    parser.add_argument("--simulate-combine", default="pool", choices=("pool", "route"))
    parser.add_argument("--simulate-budgets", default=None, help="budgets of the simulated arms (default: all)")
    parser.add_argument("--improve-budgets", default=None, help="budgets of route-teach-improve (default: all)")
    parser.add_argument("--llm", default="local:qwen2.5-1.5b")
    parser.add_argument("--prompt", default=DEFAULT_BEFORE,
                        help="a prompt variant of bench/_prompts.py; default: the prompts of the shipped answers "
                        f"({DEFAULT_BEFORE}, the gated default before 2026-12-07); runs with another variant are "
                        "recorded under the arm name ARM@VARIANT (the default since is text-384)")  # fmt: skip
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--table-only", action="store_true", help="only rewrite the summary from stored runs")
    args = parser.parse_args()
    if not args.table_only:
        collect(args)
    rows = summarise(json.loads((RESULTS / f"{RUNS}.json").read_text()))
    write_json("consult_gain", {"benchmark": "consult_gain", "rows": rows})
    write_section("consult_gain", render(rows, json.loads((RESULTS / f"{RUNS}.json").read_text())))


def collect(args: argparse.Namespace) -> None:
    path = RESULTS / f"{RUNS}.json"
    results = json.loads(path.read_text()) if path.exists() else {"benchmark": RUNS, "runs": {}}
    results["machine"] = machine()
    record_invocation(results, "consult_gain.py")
    encoder = SentenceEncoder("minilm")
    arms = [a for a in args.arms.split(",") if a]
    if args.prompt not in PROMPTS or "classes" in PROMPTS[args.prompt]:
        raise SystemExit(f"--prompt {args.prompt!r}: expected one of "
                         f"{', '.join(v for v in PROMPTS if 'classes' not in PROMPTS[v])}")  # fmt: skip
    prompt, suffix = PROMPTS[args.prompt], "" if args.prompt == DEFAULT_BEFORE else f"@{args.prompt}"
    if suffix and set(arms) - set(GATED_ARMS):
        raise SystemExit(f"--prompt {args.prompt}: only the gated arms ({', '.join(GATED_ARMS)}) take a prompt variant")
    llm_config = LLMConfig(llm=args.llm, concurrency=1)
    with LLMClient(llm_config, store=args.store) as client:
        for dataset in args.datasets.split(","):
            split = args.split or _split(dataset)
            label = _graph_label(dataset, split)
            for seed in _seeds(args.seeds):
                graph = load_dataset(dataset, seed=seed)
                for model in args.models.split(","):
                    for budget in map(float, args.budgets.split(",")):
                        base = ConsultConfig(dataset=dataset, model=model, split=split, seed=seed, budget=budget,
                                             **prompt)  # fmt: skip
                        calls = base.budget_calls(graph.num_nodes)
                        for arm in arms:
                            if arm == "route-teach-improve" and not _in(budget, args.improve_budgets):
                                continue
                            key = f"{label}|{model}|{arm}{suffix}|{budget:g}|{seed}"
                            if arm in GATED_ARMS:
                                config = base.model_copy(update=GATED_ARMS[arm])
                                record = run_gated(config, client, graph, encoder)
                            elif arm == "login":
                                config = ConsultConfig(dataset=dataset, model=model, split=split, seed=seed,
                                                       strategy="login", max_calls=calls, show_gnn_prediction=False,
                                                       show_neighbour_labels=False, token_count="estimate")  # fmt: skip
                                record = run_login(config, client, graph, encoder)
                            elif arm == "llm-predictor":
                                if budget != max(map(float, args.budgets.split(","))):
                                    continue  # one row per seed: it does not depend on the budget
                                key = f"{label}|{model}|{arm}|test|{seed}"
                                record = run_predictor(base, client, graph, encoder)
                            else:
                                raise SystemExit(f"unknown arm {arm!r}")
                            results["runs"][key] = record
                            _progress(key, record)
                        for p in filter(None, args.simulate.split(",") if _in(budget, args.simulate_budgets) else []):
                            with simulated_client(graph, float(p), seed) as sim:
                                record = run_gated(base.model_copy(update={"combine": args.simulate_combine}), sim,
                                                   graph, encoder)  # fmt: skip
                            name = "simulated" if args.simulate_combine == "pool" else "simulated-route"
                            key = f"{label}|{model}|{name}-p{p}|{budget:g}|{seed}"
                            results["runs"][key] = record
                            _progress(key, record)
                        write_json(RUNS, results)


def _in(budget: float, budgets: str | None) -> bool:
    return budgets is None or budget in map(float, budgets.split(","))


def _progress(key: str, record: dict[str, Any]) -> None:
    print(f"{key}: {100 * record['alone']:.1f} -> {100 * record['mentor']:.1f} ({record['calls']} calls, "
          f"{record['new_calls']} new, {record['seconds']:.0f} s)", flush=True)  # fmt: skip


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(100 * statistics.mean(present), 2) if present else None


def summarise(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (graph, backbone, arm, budget): means over seeds, accuracy in %."""
    groups: dict[tuple[str, str, str, str], dict[int, dict[str, Any]]] = {}
    for key, record in results["runs"].items():
        dataset, model, arm, budget, seed = key.split("|")
        groups.setdefault((dataset, model, arm, budget), {})[int(seed)] = record
    rows = []
    for (dataset, model, arm, budget), by_seed in sorted(groups.items()):
        runs = [by_seed[s] for s in sorted(by_seed)]
        gains = [r["mentor"] - r["alone"] for r in runs]
        nc_gains = [r["not_consulted"] - r["alone_not_consulted"] for r in runs
                    if r.get("not_consulted") is not None and r.get("alone_not_consulted") is not None]  # fmt: skip
        ci = ci95([r["mentor"] for r in runs])
        gain_ci = ci95(gains)
        nc_ci = ci95(nc_gains)
        rows.append({
            "graph": dataset, "backbone": model, "arm": arm,
            "budget_fraction": float(budget) if budget != "test" else None,
            "seeds": sorted(by_seed),
            "alone_mean": _mean([r["alone"] for r in runs]),
            "mentor_mean": _mean([r["mentor"] for r in runs]),
            "ci95": None if ci is None else round(100 * ci, 2),
            "gain_mean": _mean(gains),
            "gain_ci95": None if gain_ci is None else round(100 * gain_ci, 2),
            "not_consulted_mean": _mean([r.get("not_consulted") for r in runs]),
            "not_consulted_alone_mean": _mean([r.get("alone_not_consulted") for r in runs]),
            "not_consulted_gain_mean": _mean(nc_gains) if nc_gains else None,
            "not_consulted_gain_ci95": None if nc_ci is None else round(100 * nc_ci, 2),
            "gnn_after_teaching_mean": _mean([r.get("mentor_gnn") for r in runs]),
            "llm_accuracy_consulted_mean": _mean([r.get("llm_accuracy_consulted") for r in runs]),
            "gate_open_share": (round(statistics.mean(bool(r["gate_open"]) for r in runs), 2)
                                if "gate_open" in runs[0] else None),
            "calls_mean": round(statistics.mean(r["calls"] for r in runs), 1),
            "seconds_mean": round(statistics.mean(r["seconds"] for r in runs), 1),
        })  # fmt: skip
    return rows


def _fmt(value: float | None, ci: float | None = None, sign: bool = False) -> str:
    if value is None:
        return "–"
    return mean_ci(value, ci, "+" if sign else "")


def render(rows: list[dict[str, Any]], results: dict[str, Any]) -> str:
    lines = [
        "## What consulting gains the small model (`bench/consult_gain.py`)",
        "",
        "Test accuracy (%), mean over seeds, ± half-width of the 95 % confidence interval (Student's t). "
        "`alone` = the backbone on its training labels; `mentor` = the arm's final prediction; `gain` = mentor − "
        "alone, paired by seed; `never asked` = accuracy on the test nodes the LLM never saw, before → after, and "
        "its paired gain: what the small model itself learned. `gated` = gated strategy with the default `pool` "
        "gate (GNN and LLM distributions pooled, weights fitted on validation; cascade + teaching), `-cascade` / "
        "`-teach` one of the two; `route` = the same with the threshold rule (the LLM's label where GNN confidence "
        "≤ τ and LLM confidence ≥ κ); `login` = LOGIN's loop on training nodes with the same calls; "
        "`llm-predictor` = the LLM's answer on every test node (calls = test nodes); `simulated-p` = the gated "
        "strategy with a **simulated** consultant right with probability p (an upper bound, not an LLM). Budget = "
        "LLM calls as a share of the graph's nodes, calibration included. Teacher `local:qwen2.5-1.5b` "
        "(Qwen2.5-Coder-1.5B-Instruct Q4_K_M, llama.cpp, 2 CPU cores), blind prompts: the arms without a suffix use "
        f"`{DEFAULT_BEFORE}` (neighbourhood texts within 600 estimated tokens, label and explanation: the "
        "default before 2026-12-07, whose answers ship with the benchmark), `ARM@VARIANT` another variant of "
        "`bench/_prompts.py` (`text-384`: the node's text within 384 tokens, label alone, the default since); "
        "MiniLM features; WebKB: "
        "CS-TAG graphs with page text, 60/20/20 split drawn per seed; Cora: public split.",
        "",
        "| graph | backbone | arm | budget | seeds | alone | mentor | gain | never asked: alone → after (gain) "
        "| LLM acc. on asked test | gate open | calls | s/run |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    lines[4:4] = invocations_note([results])
    for r in rows:
        never = "–"
        if r["not_consulted_mean"] is not None and r["arm"] != "login":
            never = (f"{_fmt(r['not_consulted_alone_mean'])} → {_fmt(r['not_consulted_mean'])} "
                     f"({_fmt(r['not_consulted_gain_mean'], r['not_consulted_gain_ci95'], sign=True)})")  # fmt: skip
        elif r["arm"] == "login":
            never = "(all test nodes)"
        budget = "test" if r["budget_fraction"] is None else f"{r['budget_fraction']:g}"
        gate = "–" if r["gate_open_share"] is None else f"{100 * r['gate_open_share']:.0f}%"
        cells = [r["graph"], r["backbone"], r["arm"], budget, str(len(r["seeds"])), _fmt(r["alone_mean"]),
                 _fmt(r["mentor_mean"], r["ci95"]), _fmt(r["gain_mean"], r["gain_ci95"], sign=True), never,
                 _fmt(r["llm_accuracy_consulted_mean"]), gate, f"{r['calls_mean']:.0f}",
                 f"{r['seconds_mean']:.0f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
