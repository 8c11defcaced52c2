"""Consultation prompts: the target node, its 1- and 2-hop neighbourhood, and the GNN's view, within a budget.

Templates are plain files (``system.txt``, ``user.txt`` in :mod:`string.Template` syntax) that a user can replace
with a directory of their own. Node texts are data: each is JSON-encoded (quotes, newlines and angle brackets
escaped) inside ``<text>…</text>``, so a text cannot close its delimiter or pose as part of the instructions.
Class names are data too: a name that is one word (letters, digits, ``_``, ``-``, ``.``) is shown as it is, any
other as a JSON string, so that a name cannot pose as instructions, as several classes or as a delimiter. (Plain
names are left bare so that the prompts of the usual data sets, and the stored answers to them, stay the same.)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import torch
from torch import Tensor

from mentor.errors import DataError
from mentor.llm import ChatRequest, Labels, Message
from mentor.llm.client import estimate_tokens

TEMPLATE_FILES = ("system.txt", "user.txt")
#: What a prompt shows besides the target's text: ``neighbourhood`` (1- and 2-hop neighbours' texts within the
#: token budget, the rest as counts), ``similar`` (the ``similar_k`` neighbours within two hops whose features are
#: closest to the target's) or ``text`` (the target's text alone, cut to the token budget).
CONTEXTS = ("neighbourhood", "similar", "text")
#: The user template of each context (the system template is ``system.txt`` for all).
USER_TEMPLATES = {"neighbourhood": "user.txt", "similar": "user-similar.txt", "text": "user-text.txt"}
#: What the system template's ``$answer`` says the reply holds, with and without an explanation.
ANSWER_WITH_EXPLANATION = (
    '"label" (exactly one of the classes) and "explanation" (one or two sentences naming the\n'
    "evidence in the target's text that decides the class)"
)
ANSWER_LABEL_ONLY = '"label" (exactly one of the classes) and nothing else'


#: Counts the tokens of a text: the teacher's tokenizer where the client has one, else :func:`estimate_tokens`.
TokenCounter = Callable[[str], int]


def quote(text: str, limit: int) -> str:
    """A node text as inert data: truncated to ``limit`` characters and JSON-encoded, ``<``/``>`` escaped."""
    clipped = text if len(text) <= limit else text[:limit].rstrip() + " …"
    return json.dumps(clipped, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


_PLAIN_NAME = re.compile(r"\w[\w.\-]*")


def class_name(name: str) -> str:
    """A class name as shown in a prompt: bare when it is one plain word, else quoted like a node text."""
    return name if _PLAIN_NAME.fullmatch(name) else quote(name, len(name))


@dataclass(frozen=True)
class PromptOptions:
    """How a consultation prompt is built and what the answer holds (``explain``: an explanation beside the
    label; without one the answer is a single short generation, and the label's distribution still comes from
    token log-probabilities)."""

    show_gnn_prediction: bool = True
    show_neighbour_labels: bool = True
    node_text_chars: int = 1000
    neighbour_text_chars: int = 150
    max_prompt_tokens: int = 600
    max_explanation_chars: int = 200
    max_answer_tokens: int = 100
    context: str = "neighbourhood"
    similar_k: int = 3
    explain: bool = True

    def __post_init__(self) -> None:
        if self.context not in CONTEXTS:
            raise ValueError(f"context {self.context!r}: expected one of {', '.join(CONTEXTS)}")


@dataclass(frozen=True)
class NodeView:
    """What the prompt may know about the graph: train-node labels only, the GNN's predictions for the rest."""

    texts: list[str]
    class_names: list[str]
    known_labels: Tensor  # class id for training nodes, -1 elsewhere: val/test labels never get here
    predictions: Tensor
    confidence: Tensor
    neighbours: list[list[int]]
    #: Row-normalised node features (``context="similar"`` ranks neighbours by cosine with them); ``None``
    #: otherwise. Made from the graph's own texts, so blind prompts stay independent of the split and the seed.
    features: Tensor | None = None
    #: A short description of each class (``None`` where it has none), shown beside the names as data.
    class_descriptions: list[str | None] | None = None


#: The placeholders each template may use (``$$`` is a dollar sign): the system template, and every user template.
_USER_PLACEHOLDERS = ("classes", "node_text", "gnn_line", "n1_shown", "n1_total", "neighbours_1", "n2_shown",
                      "n2_total", "neighbours_2", "similar_shown", "similar_total", "similar")  # fmt: skip
PLACEHOLDERS = {"system.txt": ("answer",), **{name: _USER_PLACEHOLDERS for name in USER_TEMPLATES.values()}}


def load_templates(directory: Path | None = None, context: str = "neighbourhood") -> tuple[Template, Template]:
    """The system template and the user template of ``context``, from ``directory`` when given (``system.txt``
    and, for the default context, ``user.txt``; ``user-similar.txt`` / ``user-text.txt`` for the others). A file
    that cannot be read, or a placeholder the template may not use, is a :class:`DataError` naming the file and
    line, so that a bad template fails before any work."""
    if context not in USER_TEMPLATES:
        raise ValueError(f"context {context!r}: expected one of {', '.join(CONTEXTS)}")
    names = ("system.txt", USER_TEMPLATES[context])
    if directory is None:
        folder = resources.files("mentor.consult").joinpath("templates")
        system, user = (Template(folder.joinpath(name).read_text("utf-8")) for name in names)
    else:
        system, user = (_template_file(Path(directory) / name, names) for name in names)
    return system, user


def _template_file(path: Path, names: tuple[str, str]) -> Template:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"template missing (this template directory needs {', '.join(names)})",
                        file=path) from None  # fmt: skip
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else f"not UTF-8 ({error.reason})"
        raise DataError(f"template cannot be read: {reason}", file=path) from None
    return checked_template(text, path.name, path)


def template_texts(templates: tuple[Template, Template]) -> dict[str, str]:
    """The texts of the system and user templates, as ``system.txt`` and ``user.txt`` whatever the context
    (what :func:`templates_from_texts` reads)."""
    return {name: template.template for name, template in zip(TEMPLATE_FILES, templates, strict=True)}


def templates_from_texts(texts: object, source: Path | str) -> tuple[Template, Template]:
    """The templates saved as :func:`template_texts` (e.g. in a model's ``gate.json``), checked like template
    files: a missing or non-text entry, or a placeholder a template may not use, is a :class:`DataError` naming
    ``source``."""
    if not isinstance(texts, dict) or not all(isinstance(texts.get(name), str) for name in TEMPLATE_FILES):
        raise DataError(f"expected the prompt templates as texts named {' and '.join(TEMPLATE_FILES)}", file=source)
    system, user = (checked_template(texts[name], name, source) for name in TEMPLATE_FILES)
    return system, user


def checked_template(text: str, name: str, source: Path | str) -> Template:
    """``text`` as the template ``name`` (``system.txt`` or ``user.txt``), refused with a :class:`DataError`
    naming ``source`` and the line when it uses a placeholder ``name`` may not use or a stray ``$``."""
    template = Template(text)
    allowed = PLACEHOLDERS[name]
    for match in template.pattern.finditer(template.template):
        placeholder = match.group("named") or match.group("braced")
        line = template.template.count("\n", 0, match.start()) + 1
        if match.group("invalid") is not None:
            raise DataError("a $ that starts no placeholder (write $$ for a dollar sign)", file=source, line=line)
        if placeholder is not None and placeholder not in allowed:
            known = ", ".join(f"${n}" for n in allowed) or "none"
            raise DataError(f"unknown placeholder ${placeholder}; {name} may use: {known} ($$ for a dollar sign)",
                            file=source, line=line)  # fmt: skip
    return template


def build_prompt(
    node: int,
    view: NodeView,
    options: PromptOptions,
    templates: tuple[Template, Template],
    count_tokens: TokenCounter = estimate_tokens,
) -> ChatRequest:
    """The consultation request for ``node``. What it shows besides the target's text is ``options.context``:
    neighbours are added most informative (or, ``similar``, most similar) first while the prompt stays within
    ``options.max_prompt_tokens`` as ``count_tokens`` counts them; the rest are summarised as counts per class;
    ``text`` cuts the target's own text to the budget. The answer carries the LLM's probability of each class where
    the backend reports token log-probabilities, and an explanation only if ``options.explain``."""
    system, user = templates
    one_hop = view.neighbours[node]
    seen = {node, *one_hop}
    two_hop = sorted({w for u in one_hop for w in view.neighbours[u] if w not in seen})
    gnn_line = ""
    if options.show_gnn_prediction:
        gnn_line = (f"GNN prediction for the target: {class_name(view.class_names[int(view.predictions[node])])} "
                    f"(confidence {float(view.confidence[node]):.2f})\n")  # fmt: skip
    fields: dict[str, object] = {
        "classes": _classes(view),
        "node_text": quote(view.texts[node], options.node_text_chars)[1:-1],
        "gnn_line": gnn_line,
        "n1_shown": 0, "n1_total": len(one_hop), "neighbours_1": "",
        "n2_shown": 0, "n2_total": len(two_hop), "neighbours_2": "",
        "similar_shown": 0, "similar_total": len(one_hop) + len(two_hop), "similar": "",
    }  # fmt: skip
    system_text = system.substitute(answer=ANSWER_WITH_EXPLANATION if options.explain else ANSWER_LABEL_ONLY)

    def room(**blanks: str) -> int:
        """Tokens left under the budget by the prompt with the fields so far (``blanks``: left empty)."""
        return options.max_prompt_tokens - count_tokens(system_text + user.substitute(**{**fields, **blanks}))

    if options.context == "text":
        fields["node_text"] = _fitted_text(view.texts[node], options.node_text_chars, room(node_text=""), count_tokens)
    elif options.context == "similar":
        ranked = _most_similar(node, [*one_hop, *two_hop], view)[: options.similar_k]
        lines, left_out, _ = _neighbour_lines(ranked, view, options, room(), count_tokens)
        fields.update(similar_shown=len(lines), similar=_join(lines, left_out, view, options))
    else:
        budget = room()
        lines1, rest1, budget = _neighbour_lines(_ranked(one_hop, view, options), view, options, budget, count_tokens)
        lines2, rest2, _ = _neighbour_lines(_ranked(two_hop, view, options), view, options, budget, count_tokens)
        fields.update(n1_shown=len(lines1), neighbours_1=_join(lines1, rest1, view, options),
                      n2_shown=len(lines2), neighbours_2=_join(lines2, rest2, view, options))  # fmt: skip
    content = user.substitute(**fields)
    output = Labels(labels=tuple(view.class_names), explain=options.explain,
                    max_explanation_chars=options.max_explanation_chars, probabilities=True)  # fmt: skip
    max_tokens = options.max_answer_tokens if options.explain else _label_tokens(view.class_names, count_tokens)
    messages = (Message(role="system", content=system_text), Message(role="user", content=content))
    return ChatRequest(messages=messages, output=output, decoding={"max_tokens": max_tokens})


#: Characters of a class description shown in a prompt.
DESCRIPTION_CHARS = 200


def _classes(view: NodeView) -> str:
    """The classes as a prompt lists them: names on one line, or one per line with their descriptions (quoted as
    data, like node texts) where the data set gives any."""
    descriptions = view.class_descriptions
    if not descriptions or not any(descriptions):
        return ", ".join(map(class_name, view.class_names))
    lines = [f"- {class_name(name)}" + (f": {quote(text, DESCRIPTION_CHARS)}" if text else "")
             for name, text in zip(view.class_names, descriptions, strict=True)]  # fmt: skip
    return "\n" + "\n".join(lines)


def _label_tokens(class_names: list[str], count_tokens: TokenCounter) -> int:
    """Room for a label-only reply: ``{"label": "<longest class name>"}`` with a margin for whitespace."""
    return 16 + max(count_tokens(json.dumps(name, ensure_ascii=False)) for name in class_names)


def _fitted_text(text: str, limit: int, budget: int, count_tokens: TokenCounter) -> str:
    """The target's text quoted (at most ``limit`` characters), cut further so that it takes at most ``budget``
    tokens (the longest prefix that fits, found by bisection on its length)."""
    if count_tokens(quote(text, limit)) <= budget:
        return quote(text, limit)[1:-1]
    low, high = 0, min(len(text), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(quote(text, middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    return quote(text, max(low, 1))[1:-1]


def _most_similar(node: int, candidates: list[int], view: NodeView) -> list[int]:
    """``candidates`` by cosine similarity of their features with ``node``'s, most similar first (ties by id)."""
    if view.features is None:
        raise ValueError("context 'similar' needs the nodes' features in the prompt view")
    if not candidates:
        return []
    scores = (view.features[candidates] @ view.features[node]).tolist()
    return [u for _, u in sorted(zip((-s for s in scores), candidates, strict=True))]


def prompt_hash(request: ChatRequest) -> str:
    text = "\n".join(f"{m.role}: {m.content}" for m in request.messages)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _ranked(nodes: list[int], view: NodeView, options: PromptOptions) -> list[int]:
    """Neighbours in the order they are shown: labelled (training) ones first if labels are shown, then by the
    GNN's confidence if its predictions are shown, then by id. So a blind prompt depends on the graph alone, not
    on the split or the GNN, and the response store answers it once for every seed."""

    def key(u: int) -> tuple[bool, float, int]:
        labelled = options.show_neighbour_labels and int(view.known_labels[u]) >= 0
        confidence = float(view.confidence[u]) if options.show_gnn_prediction else 0.0
        return (not labelled, -confidence, u)

    return sorted(nodes, key=key)


def _tag(u: int, view: NodeView, options: PromptOptions) -> str | None:
    """The class shown for a neighbour, or None when the options hide it."""
    label = int(view.known_labels[u])
    if label >= 0:
        return f"label: {class_name(view.class_names[label])}" if options.show_neighbour_labels else None
    if options.show_gnn_prediction:
        return f"GNN prediction: {class_name(view.class_names[int(view.predictions[u])])}"
    return None


def _neighbour_lines(nodes: list[int], view: NodeView, options: PromptOptions, budget: int,
                     count_tokens: TokenCounter = estimate_tokens) -> tuple[list[str], list[int], int]:  # fmt: skip
    lines: list[str] = []
    for position, u in enumerate(nodes):
        tag = _tag(u, view, options)
        line = f"- [{tag}] " if tag else "- "
        line += f"<text>{quote(view.texts[u], options.neighbour_text_chars)[1:-1]}</text>"
        cost = count_tokens(line) + 1
        if cost > budget - 30:  # keep room for the summary line
            return lines, nodes[position:], budget
        lines.append(line)
        budget -= cost
    return lines, [], budget


def _join(lines: list[str], rest: list[int], view: NodeView, options: PromptOptions) -> str:
    if rest:
        counts = Counter(_tag(u, view, options) or "not shown" for u in rest)
        summary = ", ".join(f"{n} [{tag}]" for tag, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        lines = [*lines, f"- … and {len(rest)} more: {summary}"]
    return "\n".join(lines) if lines else "- (none)"


def neighbour_lists(edge_index: Tensor, num_nodes: int) -> list[list[int]]:
    """Adjacency lists (sorted, without repeats) from an undirected ``edge_index``: one sort of the edges (a CSR
    layout), then one slice per node, so a graph of millions of edges takes a second or two."""
    if edge_index.numel() == 0:
        return [[] for _ in range(num_nodes)]
    edges = edge_index.to(torch.int64)
    keys = torch.unique(edges[0] * num_nodes + edges[1])  # sorted by source, then target; repeats dropped
    ptr = torch.zeros(num_nodes + 1, dtype=torch.int64)
    ptr[1:] = torch.cumsum(torch.bincount(keys // num_nodes, minlength=num_nodes), dim=0)
    targets, bounds = (keys % num_nodes).tolist(), ptr.tolist()
    return [targets[bounds[v] : bounds[v + 1]] for v in range(num_nodes)]


__all__ = ["ANSWER_LABEL_ONLY", "ANSWER_WITH_EXPLANATION", "CONTEXTS", "PLACEHOLDERS", "USER_TEMPLATES", "NodeView",
           "PromptOptions", "TokenCounter", "build_prompt", "checked_template", "class_name", "estimate_tokens",
           "load_templates", "neighbour_lists", "prompt_hash", "quote", "template_texts",
           "templates_from_texts"]  # fmt: skip
