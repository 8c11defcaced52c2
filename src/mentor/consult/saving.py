"""The small model a consultation run leaves in ``DIR/model/`` (:mod:`mentor.graph.saved`): the GNN the run
selected (gated: the kept round's; login: the best round's) and, for the gated strategy, the gate fitted with that
GNN on the run's calibration answers (no LLM call)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from mentor.consult.gated import GatedConsultation, GatedResult
from mentor.consult.loop import Consultation, ConsultResult
from mentor.consult.prompt import template_texts
from mentor.graph.saved import SavedModel, save_model, training_record


def save_run_model(directory: Path, consultation: Consultation, result: GatedResult | ConsultResult) -> SavedModel:
    """Save the GNN ``consultation`` selected in ``result`` into ``directory`` (a run's ``model/``), with the
    fingerprint of the graph as it was given (the run may have augmented its texts or pruned its edges)."""
    common: dict[str, Any] = {"command": "consult", "split": consultation.split_name}
    if isinstance(result, GatedResult):
        assert isinstance(consultation, GatedConsultation)
        kept = [r for r in result.rounds if r.round <= result.selected_round]
        training = training_record(result.selected, **common, strategy="gated", round=result.selected_round,
                                   texts_augmented=sum(r.texts_augmented for r in kept),
                                   pseudo_labels=kept[-1].pseudo_labels if kept else 0)  # fmt: skip
        return save_model(directory, result.selected, result.graph, fingerprint=consultation.fingerprint,
                          training=training, gate=gate_record(consultation, result))  # fmt: skip
    kept_rounds = result.rounds[1 : result.best_round + 1]
    training = training_record(result.best, **common, strategy="login", round=result.best_round,
                               texts_augmented=sum(r.texts_augmented for r in kept_rounds),
                               edges_pruned=sum(r.edges_pruned for r in kept_rounds))  # fmt: skip
    return save_model(directory, result.best, result.graph, fingerprint=consultation.fingerprint, training=training)


def gate_record(consultation: GatedConsultation, result: GatedResult) -> dict[str, Any]:
    """``gate.json``: the gate re-fitted on the run's calibration answers with the saved GNN's class distributions
    (what pools that GNN with new answers), the gate the run calibrated with its first GNN, and the consultant and
    prompt (options and template texts) the gate was fitted with, so that new nodes are asked the same way."""
    calibration = [a for a in result.asked if a.phase == "calibration"]
    if any(a.part == "train" for a in calibration):  # the saved GNN trained on them: keep the cross-fitted gate
        gate = result.calibration_gate
        fitted_on = f"{gate.calibration_nodes} calibration answers on training nodes, cross-fitted GNN distributions"
    else:
        checked = consultation._checked(calibration, result.selected.probs)
        gate = consultation._calibrate(checked)
        fitted_on = f"{len(checked)} calibration answers with the saved GNN (round {result.selected_round})"
    return {
        "gate": gate.as_dict(),
        "fitted_on": fitted_on,
        "rule": result.config.combine,
        "min_gain": result.config.min_gain,
        "calibration_gate": result.calibration_gate.as_dict(),
        "llm": consultation.client.identity,
        "prompt": {
            "options": asdict(consultation.options),
            "templates": template_texts(consultation.templates),
            "token_count": result.config.token_count,
            "features": result.config.features,
            "class_descriptions": consultation.graph.class_descriptions,
        },
    }


__all__ = ["gate_record", "save_run_model"]
