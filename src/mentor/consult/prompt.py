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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from torch import Tensor

from mentor.errors import DataError
from mentor.llm import ChatRequest, Labels, Message

TEMPLATE_FILES = ("system.txt", "user.txt")


def estimate_tokens(text: str) -> int:
    """Rough token count for English text (4 characters per token)."""
    return len(text) // 4 + 1


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
    show_gnn_prediction: bool = True
    show_neighbour_labels: bool = True
    node_text_chars: int = 1000
    neighbour_text_chars: int = 150
    max_prompt_tokens: int = 600
    max_explanation_chars: int = 200
    max_answer_tokens: int = 100


@dataclass(frozen=True)
class NodeView:
    """What the prompt may know about the graph: train-node labels only, the GNN's predictions for the rest."""

    texts: list[str]
    class_names: list[str]
    known_labels: Tensor  # class id for training nodes, -1 elsewhere: val/test labels never get here
    predictions: Tensor
    confidence: Tensor
    neighbours: list[list[int]]


#: The placeholders each template may use (``$$`` is a dollar sign).
PLACEHOLDERS = {
    "system.txt": (),
    "user.txt": ("classes", "node_text", "gnn_line", "n1_shown", "n1_total", "neighbours_1", "n2_shown", "n2_total",
                 "neighbours_2"),
}  # fmt: skip


def load_templates(directory: Path | None = None) -> tuple[Template, Template]:
    """The system and user templates, from ``directory`` when given (both files must be there). A file that
    cannot be read, or a placeholder the template may not use, is a :class:`DataError` naming the file and line,
    so that a bad template fails before any work."""
    if directory is None:
        folder = resources.files("mentor.consult").joinpath("templates")
        system, user = (Template(folder.joinpath(name).read_text("utf-8")) for name in TEMPLATE_FILES)
    else:
        system, user = (_template_file(Path(directory) / name) for name in TEMPLATE_FILES)
    return system, user


def _template_file(path: Path) -> Template:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"template missing (a template directory needs {', '.join(TEMPLATE_FILES)})",
                        file=path) from None  # fmt: skip
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else f"not UTF-8 ({error.reason})"
        raise DataError(f"template cannot be read: {reason}", file=path) from None
    return checked_template(text, path.name, path)


def template_texts(templates: tuple[Template, Template]) -> dict[str, str]:
    """The texts of the system and user templates, by file name (what :func:`templates_from_texts` reads)."""
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
    node: int, view: NodeView, options: PromptOptions, templates: tuple[Template, Template]
) -> ChatRequest:
    """The consultation request for ``node``; neighbours are added most informative first while the estimated
    prompt stays within ``options.max_prompt_tokens``; the rest are summarised as counts per class. The answer
    carries the LLM's probability of each class where the backend reports token log-probabilities."""
    system, user = templates
    one_hop = view.neighbours[node]
    seen = {node, *one_hop}
    two_hop = sorted({w for u in one_hop for w in view.neighbours[u] if w not in seen})
    gnn_line = ""
    if options.show_gnn_prediction:
        gnn_line = (f"GNN prediction for the target: {class_name(view.class_names[int(view.predictions[node])])} "
                    f"(confidence {float(view.confidence[node]):.2f})\n")  # fmt: skip
    fields = {
        "classes": ", ".join(map(class_name, view.class_names)),
        "node_text": quote(view.texts[node], options.node_text_chars)[1:-1],
        "gnn_line": gnn_line,
    }
    base = system.template + user.substitute(
        **fields, n1_shown=0, n1_total=len(one_hop), neighbours_1="", n2_shown=0, n2_total=len(two_hop), neighbours_2=""
    )
    budget = options.max_prompt_tokens - estimate_tokens(base)
    lines1, rest1, budget = _neighbour_lines(_ranked(one_hop, view, options), view, options, budget)
    lines2, rest2, _ = _neighbour_lines(_ranked(two_hop, view, options), view, options, budget)
    content = user.substitute(
        **fields,
        n1_shown=len(lines1), n1_total=len(one_hop), neighbours_1=_join(lines1, rest1, view, options),
        n2_shown=len(lines2), n2_total=len(two_hop), neighbours_2=_join(lines2, rest2, view, options),
    )  # fmt: skip
    output = Labels(
        labels=tuple(view.class_names), max_explanation_chars=options.max_explanation_chars, probabilities=True
    )
    messages = (Message(role="system", content=system.substitute()), Message(role="user", content=content))
    return ChatRequest(messages=messages, output=output, decoding={"max_tokens": options.max_answer_tokens})


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


def _neighbour_lines(nodes: list[int], view: NodeView, options: PromptOptions, budget: int):
    lines: list[str] = []
    for position, u in enumerate(nodes):
        tag = _tag(u, view, options)
        line = f"- [{tag}] " if tag else "- "
        line += f"<text>{quote(view.texts[u], options.neighbour_text_chars)[1:-1]}</text>"
        cost = estimate_tokens(line) + 1
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
    """Adjacency lists (sorted) from an undirected ``edge_index``."""
    lists: list[list[int]] = [[] for _ in range(num_nodes)]
    for u, v in edge_index.t().tolist():
        lists[u].append(v)
    return [sorted(set(n)) for n in lists]


__all__ = ["PLACEHOLDERS", "NodeView", "PromptOptions", "build_prompt", "checked_template", "class_name",
           "estimate_tokens", "load_templates", "neighbour_lists", "prompt_hash", "quote", "template_texts",
           "templates_from_texts"]  # fmt: skip
