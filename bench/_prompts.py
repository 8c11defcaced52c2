"""Prompt variants of the gated strategy that the benchmarks compare (``bench/llm_seconds.py`` measures them on
every node; ``bench/consult_gain.py --prompt`` runs the gated strategy with one, its answers replayed)."""

from __future__ import annotations

from typing import Any

#: Prompt variants: ConsultConfig fields over the gated strategy's, each spelt out so that a variant names the same
#: prompts whatever the defaults become. ``neighbourhood-600`` is the gated default before 2026-12-07 (the prompts
#: of the shipped answers), ``text-384`` the default since.
BEFORE = {"context": "neighbourhood", "max_prompt_tokens": 600, "token_count": "estimate", "augment": True}
TEXT = {"context": "text", "token_count": "exact", "augment": False, "explain": False}
VARIANTS: dict[str, dict[str, Any]] = {
    "neighbourhood-600": BEFORE,
    "label-only": {**BEFORE, "explain": False},
    "exact-label-only": {**BEFORE, "explain": False, "token_count": "exact"},
    "text-256": {**TEXT, "max_prompt_tokens": 256},
    "text-384": {**TEXT, "max_prompt_tokens": 384},
    "text-640": {**TEXT, "max_prompt_tokens": 640},
    "similar-3": {**TEXT, "context": "similar", "similar_k": 3, "max_prompt_tokens": 600},
    # class descriptions: the class names replaced by terse codes, with and without a description of each
    "codes-text-384": {**TEXT, "max_prompt_tokens": 384, "classes": "codes"},
    "described-codes-text-384": {**TEXT, "max_prompt_tokens": 384, "classes": "described codes"},
}  # fmt: skip

#: The gated default before and after 2026-12-07.
DEFAULT_BEFORE, DEFAULT_AFTER = "neighbourhood-600", "text-384"

#: Terse codes for the WebKB classes and Cora's, and what each means (the descriptions a user would write).
CODES: dict[str, tuple[str, str]] = {
    "course": ("CRS", "a university course: syllabus, lectures, assignments, exams"),
    "faculty": ("FAC", "a faculty member's home page: a professor's research, publications, teaching"),
    "project": ("PRJ", "a research project: its goals, members, publications, software"),
    "staff": ("STF", "a staff member's home page: a non-faculty employee, e.g. a research scientist or system "
              "administrator"),
    "student": ("STU", "a student's home page: a graduate or undergraduate student, interests, advisor, courses"),
    "Case_Based": ("CB", "case-based reasoning"),
    "Genetic_Algorithms": ("GA", "genetic algorithms and evolutionary computation"),
    "Neural_Networks": ("NN", "neural networks"),
    "Probabilistic_Methods": ("PM", "probabilistic methods: Bayesian networks, graphical models"),
    "Reinforcement_Learning": ("RL", "reinforcement learning"),
    "Rule_Learning": ("RUL", "rule learning and inductive logic programming"),
    "Theory": ("TH", "learning theory: PAC learning, complexity, bounds"),
}  # fmt: skip
