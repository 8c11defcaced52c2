"""The report's figures: matplotlib, rendered to SVG and inlined as ``data:`` URIs (an ``<img>`` runs no script,
so text from a data set or a model inside a figure can do nothing)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mentor.report.runs import Run  # noqa: E402

plt.rcParams.update({"svg.fonttype": "path", "figure.dpi": 100, "font.size": 9})


def data_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def accuracy_bars(run: Run) -> str | None:
    """Test accuracy of the GNN alone, after teaching and the final prediction, on all, answered and never-asked
    test nodes (a gated run)."""
    r = run.result
    stages = [("GNN alone", "before"), ("GNN after teaching", "after_gnn"), ("final", "after")]
    parts = [("all test", "test"), ("answered", "test_consulted"), ("never asked", "test_not_consulted")]
    if not all(r.get(key) for _, key in stages):
        return None
    if not any(r[key].get("test") for _, key in stages):  # no test part (split labelled): nothing to draw
        return None
    figure, axes = plt.subplots(figsize=(6.4, 2.8))
    width = 0.8 / len(stages)
    for i, (label, key) in enumerate(stages):
        values = [100 * ((r[key].get(part) or {}).get("acc") or 0.0) for _, part in parts]
        bars = axes.bar([x + i * width for x in range(len(parts))], values, width, label=label)
        axes.bar_label(bars, fmt="%.1f", fontsize=7)
    axes.set_xticks([x + width for x in range(len(parts))], [label for label, _ in parts])
    axes.set_ylabel("test accuracy (%)")
    axes.set_ylim(0, 105)
    axes.legend(loc="lower right", fontsize=7)
    return data_uri(figure)


def time_spent(run: Run) -> str | None:
    """Where a consult run's time went: encoding texts, training the GNN, and the LLM's answers split into prompt
    evaluation, generation and the rest of the model's time (as the backend timed them)."""
    totals = run.result.get("totals") or {}
    llm = totals.get("llm_time") or {}
    parts = [("features", totals.get("feature_seconds")), ("GNN training", totals.get("train_seconds")),
             ("LLM: reading prompts", llm.get("prefill_s")), ("LLM: generating", llm.get("decode_s")),
             ("LLM: sampling, grammar", llm.get("other_s"))]  # fmt: skip
    parts = [(label, float(value)) for label, value in parts if isinstance(value, int | float) and value > 0]
    if not llm.get("timed") or not parts:
        return None
    figure, axes = plt.subplots(figsize=(6.4, 1.6))
    left = 0.0
    for label, value in parts:
        axes.barh([0], [value], left=left, label=f"{label} {value:.0f} s")
        left += value
    axes.set_yticks([])
    axes.set_xlabel(f"seconds ({llm['timed']} LLM answers timed; the run took {run.result.get('seconds', 0):.0f} s)")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.55), ncol=3, fontsize=7, frameon=False)
    return data_uri(figure)


def accuracy_vs_calls(runs: Sequence[Run]) -> str | None:
    """Accuracy against LLM answers used, one line per consult run (login: test accuracy per round; gated:
    validation accuracy of the current GNN after calibration and each round, and the final test accuracy)."""
    figure, axes = plt.subplots(figsize=(6.4, 3.0))
    drawn = False
    for run in runs:
        points = _calls_curve(run)
        if len(points) < 2:
            continue
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", label=f"{run.name} ({_curve_kind(run)})")
        drawn = True
    if not drawn:
        plt.close(figure)
        return None
    return _lines(figure, "LLM answers used", "accuracy (%)")


def _lines(figure: Figure, xlabel: str, ylabel: str) -> str:
    axes = figure.axes[0]
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    return data_uri(figure)


def _curve_kind(run: Run) -> str:
    return "test" if run.kind == "consult-login" else "validation"


def _calls_curve(run: Run) -> list[tuple[float, float]]:
    r = run.result
    if run.kind == "consult-login":
        points, calls = [], 0
        for report in r.get("rounds") or []:
            calls += report.get("calls") or 0
            test = (report.get("metrics") or {}).get("test") or {}
            if test.get("acc") is not None:
                points.append((calls, 100 * test["acc"]))
        return points
    if run.kind != "consult-gated":
        return []
    before = ((r.get("before") or {}).get("val") or {}).get("acc")
    if before is None:
        return []
    calls = (r.get("totals") or {}).get("calibration_calls") or 0
    points, current = [(0, 100 * before), (calls, 100 * before)], before
    for report in r.get("rounds") or []:
        calls += report.get("answered") or 0
        if report.get("val_acc") is not None:
            current = report["val_acc"]
        points.append((calls, 100 * current))
    return points


def calibration(run: Run, bins: int = 4) -> str | None:
    """LLM and GNN accuracy on the calibration nodes, by GNN confidence (quantile bins)."""
    nodes = [c for c in run.records if c.get("phase") == "calibration" and c.get("correct") is not None
             and c.get("gnn_correct") is not None and c.get("gnn_confidence") is not None]  # fmt: skip
    if len(nodes) < 2:
        return None
    nodes.sort(key=lambda c: c["gnn_confidence"])
    groups = [nodes[i * len(nodes) // bins : (i + 1) * len(nodes) // bins] for i in range(bins)]
    groups = [g for g in groups if g]
    labels = [f"{g[0]['gnn_confidence']:.2f}–{g[-1]['gnn_confidence']:.2f}\n({len(g)} nodes)" for g in groups]
    figure, axes = plt.subplots(figsize=(6.4, 2.8))
    for offset, (name, key) in enumerate((("LLM", "correct"), ("GNN", "gnn_correct"))):
        values = [100 * sum(bool(c[key]) for c in g) / len(g) for g in groups]
        bars = axes.bar([x + 0.4 * offset for x in range(len(groups))], values, 0.4, label=name)
        axes.bar_label(bars, fmt="%.0f", fontsize=7)
    axes.set_xticks([x + 0.2 for x in range(len(groups))], labels, fontsize=7)
    axes.set_xlabel("GNN confidence on the calibration (validation) nodes")
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 110)
    axes.legend(fontsize=7)
    return data_uri(figure)


def loss_curves(runs: Sequence[Run]) -> str | None:
    """Training loss per step (and its parts, e.g. answer and rationale), one colour per distill run."""
    figure, axes = plt.subplots(figsize=(6.4, 3.0))
    drawn = False
    for run in runs:
        history: list[dict[str, Any]] = (run.result.get("training") or {}).get("loss_history") or []
        if not history:
            continue
        keys = sorted({k for h in history for k, v in h.items()
                       if k != "step" and isinstance(v, int | float) and not isinstance(v, bool)})  # fmt: skip
        for key in keys:
            points = [(h["step"], h[key]) for h in history if isinstance(h.get(key), int | float)]
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, label=f"{run.name}: {key}", linestyle="-" if key == "loss" else "--")
            drawn = True
    if not drawn:
        plt.close(figure)
        return None
    return _lines(figure, "training step", "loss")


def distill_accuracy(run: Run) -> str | None:
    """The student's test and validation accuracy beside the teacher's on the same test items."""
    r = run.result
    bars = [("student (test)", r.get("test_accuracy")), ("student (validation)", r.get("validation_accuracy")),
            ("teacher (test)", (r.get("teacher_test_accuracy") or {}).get("accuracy"))]  # fmt: skip
    bars = [(name, value) for name, value in bars if value is not None]
    if not bars:
        return None
    figure, axes = plt.subplots(figsize=(5.0, 2.6))
    drawn = axes.bar(
        [name for name, _ in bars], [100 * value for _, value in bars], color=["C0", "C1", "C2"][: len(bars)]
    )
    axes.bar_label(drawn, fmt="%.1f", fontsize=8)
    axes.set_ylabel("accuracy (%)")
    axes.set_ylim(0, 105)
    return data_uri(figure)


__all__ = ["accuracy_bars", "accuracy_vs_calls", "calibration", "data_uri", "distill_accuracy", "loss_curves"]
