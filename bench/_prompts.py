"""Prompt variants of the gated strategy that the benchmarks compare (``bench/llm_seconds.py`` measures them on
every node; ``bench/consult_gain.py --prompt`` runs the gated strategy with one, its answers replayed)."""

from __future__ import annotations

from typing import Any

#: Prompt variants: ConsultConfig fields over the gated defaults (``default`` is today's prompt).
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "label-only": {"explain": False},
    "exact-label-only": {"explain": False, "token_count": "exact"},
    "text-256": {"context": "text", "max_prompt_tokens": 256, "token_count": "exact", "explain": False},
    "text-384": {"context": "text", "max_prompt_tokens": 384, "token_count": "exact", "explain": False},
    "text-640": {"context": "text", "max_prompt_tokens": 640, "token_count": "exact", "explain": False},
    "similar-3": {"context": "similar", "similar_k": 3, "token_count": "exact", "explain": False},
    # class descriptions: the class names replaced by terse codes, with and without a description of each
    "codes-text-384": {"context": "text", "max_prompt_tokens": 384, "token_count": "exact", "explain": False,
                       "classes": "codes"},
    "described-codes-text-384": {"context": "text", "max_prompt_tokens": 384, "token_count": "exact",
                                 "explain": False, "classes": "described codes"},
}  # fmt: skip

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
