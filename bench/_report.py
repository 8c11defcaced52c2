"""Shared by the benchmark scripts: machine description, JSON results and the rows in docs/benchmarks.md."""

from __future__ import annotations

import gzip
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"


def machine() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """``bench/results/<name>.json``, replaced atomically (a reader never sees half a file)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    partial = path.with_suffix(f".json.{os.getpid()}.partial")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(partial, path)
    return path


def write_section(name: str, markdown: str) -> None:
    """Replace the section between ``<!-- name:start -->`` and ``<!-- name:end -->`` in docs/benchmarks.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.DOTALL)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)


def rss_bytes() -> int:
    """This process's resident memory now, in bytes (from /proc)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def record_invocation(results: dict[str, Any], script: str) -> None:
    """Remember, in a results file, the command line that added runs to it (each distinct one once)."""
    home = str(Path.home())
    arguments = ("~" + a[len(home) :] if a == home or a.startswith(home + os.sep) else a for a in sys.argv[1:])
    invocation = " ".join([f"python bench/{script}", *arguments])  # no machine's home directory in the results
    if invocation not in results.setdefault("invocations", []):
        results["invocations"].append(invocation)


def invocations_note(files: list[dict[str, Any]]) -> list[str]:
    """A 'Runs so far come from: …' paragraph naming every command recorded in the given (loaded) results files."""
    invocations = sorted({i for results in files for i in results.get("invocations", [])})
    return ["Runs so far come from: " + "; ".join(f"`{i}`" for i in invocations), ""] if invocations else []


#: two-sided 95 % quantiles of Student's t by degrees of freedom
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
       11: 2.201, 12: 2.179, 14: 2.145, 19: 2.093, 29: 2.045}  # fmt: skip


def ci95(values: list[float]) -> float | None:
    """Half-width of the 95 % t-interval of the mean of ``values`` (None for fewer than two)."""
    if len(values) < 2:
        return None
    t = T95.get(len(values) - 1) or T95[min(T95, key=lambda k: abs(k - (len(values) - 1)))]
    return t * statistics.stdev(values) / math.sqrt(len(values))


def mean_ci(mean: float, ci: float | None, sign: str = "") -> str:
    """``"51.8 ± 10.4"`` (no interval for a single seed); ``sign="+"`` writes differences as ``"+2.2 ± 8.3"``."""
    return f"{mean:{sign}z.1f}" + (f" ± {ci:.1f}" if ci is not None else "")  # z: never "-0.0"


def seeded_store(store_path: Path, *answer_files: Path) -> None:
    """Import the shipped answer files (gzip JSON Lines exports) into the benchmark's store, so that a rerun
    replays them; answers already there are kept."""
    from mentor.llm import ResponseStore

    with ResponseStore(store_path) as store:
        for answers in answer_files:
            if answers.exists():
                with gzip.open(answers, "rt", encoding="utf-8") as handle:
                    store.import_jsonl(handle, name=str(answers))


def export_new_answers(store: Any, shipped: Path, out: Path, also_known: tuple[Path, ...] = ()) -> None:
    """The store's answers that ``shipped`` (and ``also_known``) do not hold, as a reproducible gzip JSON Lines
    file ``out``."""
    known: set[str] = set()
    for path in (shipped, *also_known):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            known |= {json.loads(line)["key"] for line in handle if line.strip()}
    new = [r for r in store.iter_records() if r["key"] not in known]
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as stream:
        stream.write("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in new).encode())
