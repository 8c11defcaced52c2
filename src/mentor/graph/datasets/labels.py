"""The cells of a user's graph files read as text, and labels checked to be what they say.

A cell is text, an integer (read as its decimal text: ``7`` is ``"7"``) or missing (JSON ``null``, an empty CSV
cell, a Parquet null); a list, object, true/false or fractional number is an error. A label is one line of
printable text; two labels differing only in case are an error (the LLM's answers are matched regardless of
case, so ``COURSE`` and ``course`` could not be told apart), and so is a label spelled like a missing value
(``NaN``, ``null``…) unless ``classes.txt`` names it as a class.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd

from mentor.errors import DataError
from mentor.readers import utf8_lines

#: Spellings of a missing value (compared case-insensitively) that are not taken for a class name.
MISSING_SPELLINGS = frozenset({"nan", "na", "n/a", "null", "none", "<na>"})


def _kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return f"true/false ({str(bool(value)).lower()})"
    if isinstance(value, float | np.floating):
        return f"a number with a fraction ({value!r})"
    if isinstance(value, list | tuple | np.ndarray):
        return f"a list ({list(value)!r:.60})"
    if isinstance(value, dict):
        return f"an object ({value!r:.60})"
    return f"a {type(value).__name__} ({value!r:.60})"


def cell(value: Any, path: Path, line: int, field: str) -> str:
    """``value`` as stripped text ('' when missing); a value of another kind is a :class:`DataError`."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return str(int(value))
    raise DataError(f"expected text or an integer, got {_kind(value)}", file=path, line=line, field=field)


def class_file(path: Path) -> list[str]:
    """The class names in ``classes.txt``: one per line, distinct, also regardless of case (a tab and a
    description may follow a name: see :func:`class_entries`)."""
    return list(class_entries(path))


def class_entries(path: Path) -> dict[str, str | None]:
    """Each class of a classes file with its description: a line is ``name`` or ``name<TAB>description`` (what a
    prompt shows beside a terse code such as ``DB``). Names are distinct, also regardless of case."""
    names: dict[str, tuple[str, int, str | None]] = {}
    for number, line in utf8_lines(path):
        name, tab, description = line.partition("\t")
        name, description = name.strip(), " ".join(description.split())
        if not name:
            if tab:
                raise DataError("a description without a class name before the tab", file=path, line=number)
            continue
        if not name.isprintable():
            raise DataError(f"class name {name!r} contains a control character", file=path, line=number)
        if not description.isprintable():
            raise DataError(f"the description of {name!r} contains a control character", file=path, line=number)
        first = names.setdefault(name.casefold(), (name, number, description or None))
        if first[1] != number:
            same = "is repeated" if first[0] == name else f"and {first[0]!r} (line {first[1]}) differ only in case"
            raise DataError(f"class {name!r} {same}: class names must be distinct, also regardless of case",
                            file=path, line=number)  # fmt: skip
    if not names:
        raise DataError("no class names: expected one per line", file=path)
    return {name: description for name, _, description in names.values()}


def class_descriptions(path: Path, class_names: list[str]) -> list[str | None]:
    """The description of each of ``class_names`` from a classes file (``--class-descriptions``): every name in
    the file must be one of ``class_names``; a class the file leaves out has none."""
    entries = class_entries(path)
    unknown = [name for name in entries if name not in class_names]
    if unknown:
        line = next(n for n, text in utf8_lines(path) if text.strip().partition("\t")[0].strip() == unknown[0])
        raise DataError(f"{unknown[0]!r} is not a class of the graph (its classes: {', '.join(class_names)})",
                        file=path, line=line)  # fmt: skip
    return [entries.get(name) for name in class_names]


class LabelReader:
    """Reads the label of each row of a nodes file, checking it as above and against ``classes`` when given."""

    def __init__(self, path: Path, classes: list[str] | None = None, classes_path: Path | None = None) -> None:
        self.path, self.classes, self.classes_path = path, classes, classes_path
        self._spellings: dict[str, tuple[str, int]] = {}  # casefolded label: first spelling and its line

    def read(self, value: Any, line: int) -> str:
        """The row's label ('' for an unlabelled node)."""
        label = cell(value, self.path, line, "label")
        if not label:
            return ""
        if not label.isprintable():
            self._error(f"label {label!r:.60} contains a line break or another control character: a label is one "
                        "line of text", line)  # fmt: skip
        if self.classes is not None:
            if label not in self.classes:
                near = [c for c in self.classes if c.casefold() == label.casefold()]
                hint = f" (did you mean {near[0]!r}? labels are case-sensitive)" if near else ""
                where = self.classes_path.name if self.classes_path else "the class list"
                self._error(f"label {label!r} is not one of the classes in {where}: {self.classes}{hint}", line)
            return label
        if label.casefold() in MISSING_SPELLINGS:
            self._error(f"label {label!r} looks like a missing value: leave it empty for an unlabelled node (or "
                        f"name {label!r} in classes.txt if it is a class)", line)  # fmt: skip
        first, first_line = self._spellings.setdefault(label.casefold(), (label, line))
        if first != label:
            self._error(f"labels {first!r} (line {first_line}) and {label!r} differ only in case: write one class "
                        "one way", line)  # fmt: skip
        return label

    def _error(self, message: str, line: int) -> NoReturn:
        raise DataError(message, file=self.path, line=line, field="label")


__all__ = ["MISSING_SPELLINGS", "LabelReader", "cell", "class_descriptions", "class_entries", "class_file"]
