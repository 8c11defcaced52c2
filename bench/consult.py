"""LLM-consulted GNN training (LOGIN) with a local teacher, against the GNN alone and against baselines.

For each data set, backbone and seed: test accuracy before consultation (round 0) and after (the round with the
best validation accuracy), calls and wall time; the same with random instead of uncertainty selection (equal
calls); the LLM-as-predictor accuracy on a sample of test nodes; and, clearly labelled as a simulation, the loop
with a consultant that is right with probability p. Runs accumulate in ``bench/results/consult_<dataset>.json``
(a later invocation adds or replaces runs), the raw LLM answers are exported to
``bench/results/consult_answers.jsonl`` (local, not committed; replay with ``mentor llm import``), and the table
is rewritten in ``docs/benchmarks.md`` from all stored runs.

    python bench/consult.py --datasets cornell,texas,wisconsin --models gcn,sage,mlp --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import RESULTS, invocations_note, machine, record_invocation, write_json, write_section  # noqa: E402
from _simulated import simulated_client  # noqa: E402

from mentor.consult import Consultation, ConsultConfig, summary  # noqa: E402
from mentor.consult.baselines import llm_as_predictor  # noqa: E402
from mentor.graph import load_dataset  # noqa: E402
from mentor.llm import LLMClient, LLMConfig, ResponseStore  # noqa: E402
from mentor.paths import default_store_path  # noqa: E402

LOGIN_PUBLISHED = {"cora": 0.869, "wisconsin": 0.506, "texas": 0.579, "cornell": 0.523}  # GCN + LOGIN, Vicuna-7B


def _split(dataset: str) -> str:
    return "public" if dataset == "cora" else "random"


def _load(dataset: str) -> dict:
    path = RESULTS / f"consult_{dataset}.json"
    return json.loads(path.read_text()) if path.exists() else {"benchmark": "consult", "dataset": dataset, "runs": {}}


def _record(summary_: dict, seconds: float) -> dict:
    return {
        "before_test_acc": summary_["before"]["test"]["acc"],
        "after_test_acc": summary_["after"]["test"]["acc"],
        "before_val_acc": summary_["before"]["val"]["acc"],
        "after_val_acc": summary_["after"]["val"]["acc"],
        "best_round": summary_["best_round"],
        "calls": summary_["totals"]["calls"],
        "new_calls": summary_["totals"]["new_calls"],
        "llm_accuracy": summary_["totals"]["llm_accuracy"],
        "echo_gnn_rate": [r["echo_gnn_rate"] for r in summary_["rounds"][1:]],
        "texts_augmented": summary_["totals"]["texts_augmented"],
        "edges_pruned": summary_["totals"]["edges_pruned"],
        "seconds": round(seconds, 1),
        "llm": summary_["llm"]["model"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="cora,cornell,texas,wisconsin")
    parser.add_argument("--models", default="gcn,sage,mlp")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--llm", default="local:qwen2.5-1.5b")
    parser.add_argument("--select", default="uncertainty,random")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--max-calls", type=int, default=None, help="LLM answers per run (overrides --fraction)")
    parser.add_argument("--max-prompt-tokens", type=int, default=1500)
    parser.add_argument("--features", default="minilm")
    parser.add_argument("--predictor-sample", type=int, default=0, help="test nodes for LLM-as-predictor (0: skip)")
    parser.add_argument(
        "--blind",
        action="store_true",
        help="hide the GNN's predictions and neighbours' labels in prompts (runs tagged +blind)",
    )
    parser.add_argument("--simulate", default="", help="comma-separated p values for the simulated consultant")
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--table-only", action="store_true", help="only rewrite the table from stored runs")
    args = parser.parse_args()
    if args.table_only:
        write_section("consult", render_table())
        return

    llm_config = LLMConfig(llm=args.llm, concurrency=1)
    for dataset in args.datasets.split(","):
        results = _load(dataset)
        results["machine"] = machine()
        record_invocation(results, "consult.py")
        for seed in map(int, args.seeds.split(",")):
            graph = load_dataset(dataset, seed=seed)
            for model in args.models.split(","):
                base = ConsultConfig(dataset=dataset, strategy="login", model=model, features=args.features,
                                     split=_split(dataset), seed=seed, rounds=args.rounds, fraction=args.fraction,
                                     max_calls=args.max_calls,
                                     max_prompt_tokens=args.max_prompt_tokens, token_count="estimate",
                                     show_gnn_prediction=not args.blind,
                                     show_neighbour_labels=not args.blind)  # fmt: skip
                tag = "+blind" if args.blind else ""
                for select in filter(None, args.select.split(",")):
                    config = base.model_copy(update={"select": select})
                    with LLMClient(llm_config, store=args.store) as client:
                        started = time.perf_counter()
                        result = Consultation(config, client, graph=graph, progress=False).run()
                        seconds = time.perf_counter() - started
                        record = _record(summary(result, client, seconds), seconds)
                    results["runs"][f"{model}|{select}{tag}|{seed}"] = record
                    print(
                        f"{dataset} {model} {select} seed {seed}: {record['before_test_acc']:.3f} -> "
                        f"{record['after_test_acc']:.3f} ({record['calls']} calls, {seconds:.0f}s)",
                        flush=True,
                    )
                    write_json(f"consult_{dataset}", results)
                for p in filter(None, args.simulate.split(",")):
                    with simulated_client(graph, float(p), seed) as client:
                        started = time.perf_counter()
                        result = Consultation(base, client, graph=graph, progress=False).run()
                        seconds = time.perf_counter() - started
                        record = _record(summary(result, client, seconds), seconds)
                    results["runs"][f"{model}|simulated-p{p}{tag}|{seed}"] = record
                    write_json(f"consult_{dataset}", results)
            if args.predictor_sample:
                with LLMClient(llm_config, store=args.store) as client:
                    config = ConsultConfig(
                        dataset=dataset,
                        features=args.features,
                        split=_split(dataset),
                        seed=seed,
                        max_prompt_tokens=args.max_prompt_tokens,
                        token_count="estimate",
                        context="neighbourhood",
                    )
                    predicted = llm_as_predictor(config, client, sample=args.predictor_sample, graph=graph,
                                                 progress=False)  # fmt: skip
                results.setdefault("predictor", {})[str(seed)] = predicted
                write_json(f"consult_{dataset}", results)
    with (
        ResponseStore(args.store or default_store_path()) as store,
        (RESULTS / "consult_answers.jsonl").open("w") as handle,
    ):
        store.export_jsonl(handle)
    write_section("consult", render_table())


def _echo(runs: list[dict]) -> str:
    rates = [rate for r in runs for rate in r["echo_gnn_rate"] if rate is not None]
    return f"{100 * statistics.mean(rates):.0f}%" if rates else "–"


def _cell(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.pstdev(values):.1f} (n={len(values)})"


def render_table() -> str:
    lines = [
        "## LLM-consulted GNN training (`bench/consult.py`)",
        "",
        "Test accuracy (%) of the GNN before consultation and after (round with the best validation accuracy), "
        "mean ± std over seeds, with the consultant named per row. `uncertainty` = LOGIN's MC-dropout selection "
        "among training nodes; `random` = same number of calls on random training nodes. `simulated-p` rows use "
        "a **simulated** consultant that is right with probability p (an upper-bound study, not an LLM); `+blind` = "
        "prompts without the GNN's predictions and neighbours' labels. `echo` = share of answers equal to the GNN's "
        "prediction for the node. All rows: GNN on MiniLM features, 2 rounds, teacher `local:qwen2.5-1.5b` "
        "(Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, llama.cpp on 2 CPU cores) unless simulated; "
        "Cora: public split; WebKB: CS-TAG graphs with page text, 60/20/20 split drawn per seed. "
        "LOGIN's published GCN numbers used Vicuna-7B and fine-tuned LM features, on Geom-GCN's WebKB splits.",
        "",
        "| data set | model | selection | before | after | calls/run | LLM acc. | echo | s/run | LOGIN GCN (paper) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    files = [json.loads(path.read_text()) for path in sorted(RESULTS.glob("consult_*.json"))]
    lines[4:4] = invocations_note(files)
    for results in files:
        dataset = results["dataset"]
        groups: dict[tuple[str, str], list[dict]] = {}
        for key, run in results["runs"].items():
            model, select, _seed = key.split("|")
            groups.setdefault((model, select), []).append(run)
        for (model, select), runs in sorted(groups.items()):
            accuracy = [r["llm_accuracy"] for r in runs if r["llm_accuracy"] is not None]
            published = LOGIN_PUBLISHED.get(dataset) if model == "gcn" and select == "uncertainty" else None
            cells = [
                dataset, model, select, _cell([r["before_test_acc"] for r in runs]),
                _cell([r["after_test_acc"] for r in runs]), f"{statistics.mean(r['calls'] for r in runs):.0f}",
                f"{100 * statistics.mean(accuracy):.0f}%" if accuracy else "–",
                _echo(runs),
                f"{statistics.mean(r['seconds'] for r in runs):.0f}",
                "" if published is None else f"{100 * published:.1f}",
            ]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        for seed, predicted in sorted(results.get("predictor", {}).items()):
            lines.append(
                f"| {dataset} | LLM as predictor | {predicted['sampled_test_nodes']} test nodes, seed {seed} | "
                f"GCN {100 * predicted['gnn_test_accuracy_on_sample']:.1f} | "
                f"LLM {100 * (predicted['accuracy'] or 0):.1f} | {predicted['answered']} | | | "
                f"{predicted['llm_seconds']:.0f} | |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
