"""How mentor holds up when things go wrong: endpoint faults, SIGKILLs mid-run, corrupt stores, broken inputs.

Every target is on this machine: a fault-injecting OpenAI-compatible server on 127.0.0.1 (the test suite's
``tests/llm/fault_server.py``), the consult resume worker of ``tests/consult/resume_worker.py`` (a scripted
consultant), and stores and data directories made here. Writes ``bench/results/reliability.json`` and a row in
docs/benchmarks.md.

- **faults**: one request per fault class; *survived* = a result came back (an answer, or a ``Failure`` with a
  reason) with no exception, and a fault the retries can ride out (a 429 or 500 that passes, a reply cut short
  after its label) gave an answer;
- **kills**: a gated consult run SIGKILLed after k stored answers, then run again; *repeated* = paid requests
  sent again after the restart for answers the store already held; *identical* = the restarted run's
  ``result.json`` equals an uninterrupted run's (timings aside);
- **shared store**: two processes ask the same 100 requests at once on one store; *sent* = requests the
  server received (claims make it 100, not up to 200);
- **stores**: a store with 400 answers damaged several ways; *clear* = ``stats``, ``check`` and ``export`` each
  exit 0 or 1 with a one-line error, never a traceback; *destroyed* = answers that can no longer be read, even
  by the row-by-row salvage of ``export``;
- **inputs**: broken graph directories; *clear* = the load fails with an error naming the file (and line, where
  there is one), never a traceback;
- **probes**: the hostile inputs and faults of the second round (`bench/_probes.py`: pickles planted among the
  Planetoid raw files, claims left by other hosts, undecodable store rows, read-only and foreign stores,
  credentials in URLs, error objects in 200 replies, labels of the wrong kind, crafted run directories, odd paths,
  gzip-compressed answers), each ending ``ok``, ``clear_error``, ``silently_wrong``, ``traceback`` or
  ``code_executed``.

Every section is also counted as probes in ``summary``: ``probes``, ``clear_errors``, ``silently_wrong``,
``tracebacks``, ``code_executed`` and ``answers_lost`` (answers intact in a store or an export that could not be
read back, exported or replayed; answers destroyed by byte damage to a store file are ``destroyed`` instead).

    python bench/reliability.py
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probes import OUTCOMES, Probe, round_two, summary  # noqa: E402
from _report import invocations_note, machine, record_invocation, write_json, write_section  # noqa: E402

from mentor.errors import DataError  # noqa: E402
from mentor.graph.datasets import load_files  # noqa: E402
from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig, ResponseStore  # noqa: E402
from mentor.paths import data_root  # noqa: E402
from tests.consult.test_resume import _comparable  # noqa: E402
from tests.llm.fault_server import FaultServer  # noqa: E402

LABELS = Labels(labels=("a", "b", "c"))
#: fault directive -> whether retries (2) or repair should still give an answer
FAULTS = {
    "429x2": True, "500x2": True, "truncate": True, "500": False, "hang": False, "garbage": False,
    "badlabel": False, "empty": False, "badjson": False, "html": False, "slowbody": False, "echokey": False,
}  # fmt: skip
SECRET = "sk-bench-0123456789abcdefSECRET"


def faults(work: Path) -> list[dict[str, Any]]:
    rows = []
    os.environ["OPENAI_API_KEY"] = SECRET
    with FaultServer(hang_s=4.0, slow_chunks=10, slow_delay_s=0.4) as server:
        for fault, recoverable in [*FAULTS.items(), ("refused", False)]:
            url = "http://127.0.0.1:9/v1" if fault == "refused" else server.base_url
            # The key is named, so that it is sent to this server (a key is never sent to another host unasked).
            config = LLMConfig(llm="openai:fake", base_url=url, timeout_s=2.0, max_retries=2,
                               api_key_env="OPENAI_API_KEY")  # fmt: skip
            started, error = time.perf_counter(), None
            sent_before = len(server.requests)
            try:
                with LLMClient(config, store=work / f"fault-{fault}.sqlite") as client:
                    result = client.complete(ChatRequest.from_prompt(f"q [fault:{fault}] [answer:b]", output=LABELS))
                    requests = client.usage()["requests"]
            except Exception as exc:  # noqa: BLE001 - a raised exception is exactly what this counts
                result, requests, error = None, None, f"{type(exc).__name__}: {exc}"
            detail = "" if result is None or result.ok else result.detail
            rows.append({
                "fault": fault, "outcome": "answer" if result is not None and result.ok else
                (result.reason if result is not None else "exception"),
                "survived": error is None and (result.ok or not recoverable),
                "requests": requests, "server_requests": len(server.requests) - sent_before,
                "secret_shown": SECRET in detail, "seconds": round(time.perf_counter() - started, 2), "error": error,
            })  # fmt: skip
    os.environ.pop("OPENAI_API_KEY", None)
    return rows


def _worker(store: Path, out: Path, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.consult.resume_worker", str(store), str(out), str(log), "gated"]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def kills(work: Path, points: tuple[int, ...] = (2, 5, 8, 11, 14)) -> list[dict[str, Any]]:
    reference = work / "kill-ref"
    if _worker(work / "ref.sqlite", reference, work / "ref.log").wait(timeout=600) != 0:
        raise SystemExit("the uninterrupted consult run failed")
    rows = []
    for k in points:
        store, out, log = work / f"kill{k}.sqlite", work / f"kill{k}", work / f"kill{k}.log"
        worker = _worker(store, out, log)
        deadline = time.monotonic() + 300
        while not (store.exists() and len(ResponseStore(store)) >= k):
            if worker.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        killed = worker.poll() is None
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        with ResponseStore(store) as db:
            answered = {json.dumps(r["request"], sort_keys=True) for r in db.iter_records()}
        sent_before = len(log.read_text().splitlines()) if log.exists() else 0
        restarted = _worker(store, out, log).wait(timeout=600)
        sent_after = len(log.read_text().splitlines()) - sent_before
        with ResponseStore(store) as db:
            total = len(db)
        rows.append({"kill_after_answers": k, "killed_mid_run": killed, "answers_before_kill": len(answered),
                     "requests_after_restart": sent_after, "repeated": sent_after - (total - len(answered)),
                     "restart_exit": restarted,
                     "identical": restarted == 0 and _comparable(out) == _comparable(reference)})  # fmt: skip
    return rows


def shared_store(work: Path, count: int = 100, processes: int = 2) -> dict[str, Any]:
    """``processes`` runs asking the same ``count`` requests at once on one store: requests the server got."""
    store = work / "shared.sqlite"
    ResponseStore(store).close()
    with FaultServer(delay_s=0.05) as server:
        command = [sys.executable, "-m", "tests.reliability.store_worker", server.base_url, str(store), str(count)]
        workers = [subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
                   for _ in range(processes)]  # fmt: skip
        exits = [w.wait(timeout=600) for w in workers]
        return {"processes": processes, "unique_requests": count, "sent": server.count("shared"), "exits": exits}


def _filled_store(path: Path, answers: int = 400) -> None:
    from mentor.llm.types import Completion, Usage

    with ResponseStore(path) as store:
        for i in range(answers):
            request = ChatRequest.from_prompt(f"question {i} " + "x" * 300)
            store.put(Completion(key=request.key("bench"), text=f"answer {i} " + "y" * 300, usage=Usage(), cost=0.0,
                                 latency_s=0.1, model="m", endpoint="e", created=time.time(), run_id="r"),
                      request, "bench")  # fmt: skip
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def stores(work: Path) -> list[dict[str, Any]]:
    from typer.testing import CliRunner

    from mentor.cli import app

    runner = CliRunner()

    def damage(kind: str, path: Path) -> None:
        data = bytearray(path.read_bytes())
        if kind == "empty":
            path.write_bytes(b"")
            old = time.time() - 60
            os.utime(path, (old, old))  # not a store being created right now
            return
        elif kind == "truncated":
            data = data[: len(data) // 3]
        elif kind == "header":
            data[:14] = b"not a database"
        elif kind == "pages":
            for start in range(3 * 4096, len(data) - 4096, 5 * 4096):
                data[start + 16 : start + 4080] = bytes((i * 37) % 256 for i in range(4064))
        elif kind == "tail":
            data[-4096:] = b"\0" * 4096
        path.write_bytes(bytes(data))

    rows = []
    for kind in ("empty", "truncated", "header", "pages", "tail"):
        path = work / f"store-{kind}.sqlite"
        _filled_store(path)
        damage(kind, path)
        outcomes = {}
        for command in (["llm", "stats"], ["llm", "check"], ["llm", "export"]):
            result = runner.invoke(app, [*command, "--store", str(path)])
            clear = result.exit_code in (0, 1) and isinstance(result.exception, (SystemExit, type(None)))
            outcomes[command[1]] = {"exit": result.exit_code, "clear": clear}
        readable = 0
        try:
            with ResponseStore(path) as db:
                readable = sum(1 for _ in db.iter_records())
        except Exception:  # noqa: BLE001 - unreadable is what is counted
            readable = 0
        rows.append({"damage": kind, "commands": outcomes, "clear": all(o["clear"] for o in outcomes.values()),
                     "check_found_it": outcomes["check"]["exit"] == 1, "answers": 400,
                     "answers_destroyed": 400 - readable})  # fmt: skip
    return rows


def _nodes(n: int = 12) -> list[dict[str, str]]:
    return [{"id": f"n{i}", "text": f"page {i}", "label": "x" if i % 2 else "y"} for i in range(n)]


def inputs(work: Path) -> list[dict[str, Any]]:
    def jsonl(rows: list[dict[str, Any]]) -> bytes:
        return "".join(json.dumps(r) + "\n" for r in rows).encode()

    good_nodes, good_edges = jsonl(_nodes()), b"n1 n2\nn2 n3\n"
    cases: dict[str, dict[str, bytes]] = {
        "duplicate id": {"nodes.jsonl": jsonl([*_nodes(), {"id": "n3", "text": "again", "label": "x"}])},
        "empty text": {"nodes.jsonl": jsonl([*_nodes(), {"id": "m", "text": " ", "label": "x"}])},
        "missing text field": {"nodes.jsonl": jsonl([*_nodes(), {"id": "m", "label": "x"}])},
        "not JSON": {"nodes.jsonl": good_nodes + b"{not json\n"},
        "not an object": {"nodes.jsonl": good_nodes + b"[1, 2]\n"},
        "bad split value": {"nodes.jsonl": jsonl([*_nodes(), {"id": "m", "text": "t", "label": "x", "split": "dev"}])},
        "split without label": {"nodes.jsonl": jsonl([*_nodes(), {"id": "m", "text": "t", "split": "train"}])},
        "label outside classes.txt": {"classes.txt": b"x\n"},
        "duplicate class names": {"classes.txt": b"x\ny\nx\n"},
        "no labels": {"nodes.jsonl": jsonl([{**n, "label": ""} for n in _nodes()])},
        "no nodes": {"nodes.jsonl": b""},
        "dangling edge": {"edges.txt": b"n1 n2\nn2 zz\n"},
        "three ids on an edge line": {"edges.txt": b"n1 n2 n3\n"},
        "edges csv without target": {"edges.txt": None, "edges.csv": b"source\nn1\n"},  # type: ignore[dict-item]
        "non-UTF-8 nodes": {"nodes.jsonl": good_nodes.replace(b"page 7", b"p\xe9ge 7")},
        "non-UTF-8 edges": {"edges.txt": b"n1 n2\nn\xff2 n3\n"},
        "no edges file": {"edges.txt": None},  # type: ignore[dict-item]
        "two nodes files": {"nodes.csv": b"id,text,label\nn1,a,x\n"},
        "csv with a bad byte": {"nodes.jsonl": None,  # type: ignore[dict-item]
                                "nodes.csv": b"id,text,label\nn1,a,x\nn2,b\xe9,y\n"},
    }  # fmt: skip
    rows = []
    for name, files in cases.items():
        directory = work / "inputs" / name.replace(" ", "_")
        directory.mkdir(parents=True)
        content = {"nodes.jsonl": good_nodes, "edges.txt": good_edges, **files}
        for filename, data in content.items():
            if data is not None:
                (directory / filename).write_bytes(data)
        try:
            load_files(directory)
            outcome, message = "loaded", ""
        except DataError as error:
            outcome, message = "clear", str(error)
        except Exception as error:  # noqa: BLE001 - anything else is an unclear error
            outcome, message = "unclear", f"{type(error).__name__}: {error}"
        names_file = str(directory) in message
        rows.append(
            {
                "input": name,
                "outcome": outcome,
                "names_file": names_file,
                "clear": outcome == "clear" and names_file,
                "message": message.replace(str(directory), "DIR"),
            }
        )
    # a pickle planted in a data root's processed/ directory
    return rows


def planted_pickle(work: Path) -> dict[str, Any]:
    """A malicious ``processed/*.pt`` in a copy of the Cora raw files: does loading run it?"""
    from mentor.graph import load_dataset

    source = data_root() / "planetoid" / "Cora" / "raw"
    if not source.is_dir():
        return {"tried": False, "reason": f"{source} not found (set MENTOR_DATA_ROOT)"}
    import shutil

    root = work / "data"
    shutil.copytree(source, root / "planetoid" / "Cora" / "raw")
    processed = root / "planetoid" / "Cora" / "processed"
    processed.mkdir()
    marker = work / "planted-code-ran"

    class Planted:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    for name in ("pre_transform.pt", "pre_filter.pt", "data.pt"):
        (processed / name).write_bytes(pickle.dumps(Planted()))
    load_dataset("planetoid:Cora", root)
    return {"tried": True, "code_ran": marker.exists()}


def render(results: dict[str, Any]) -> str:
    f, k, s, i = results["faults"], results["kills"], results["stores"], results["inputs"]
    p = results["planted_pickle"]
    lines = [
        "## Reliability (`bench/reliability.py`)",
        "",
        "Faults from a fault-injecting OpenAI-compatible server on 127.0.0.1 (2 retries, 2 s deadline), SIGKILLs of "
        "a gated consult run with a scripted consultant, damaged response stores (400 answers), broken graph "
        "directories. See the script's docstring for what each column counts.",
        "",
    ]
    lines[4:4] = invocations_note([results])
    lines += [
        "| what | tried | held | detail |",
        "|---|---:|---:|---|",
        f"| endpoint fault classes | {len(f)} | {sum(r['survived'] for r in f)} survived | "
        + ", ".join(f"{r['fault']}: {r['outcome']} ({r['requests']} req.)" for r in f)
        + f"; API key shown in a failure: {sum(r['secret_shown'] for r in f)} |",
        f"| SIGKILLs mid-run | {len(k)} | {sum(r['identical'] for r in k)} identical results | "
        f"paid requests repeated after restart: {sum(r['repeated'] for r in k)} |",
        f"| processes sharing one store | {results['shared_store']['processes']} | "
        f"{results['shared_store']['sent']} requests sent | for {results['shared_store']['unique_requests']} "
        "unique requests asked by each process at once |",
        f"| damaged stores | {len(s)} | {sum(r['clear'] for r in s)} with clear errors only | "
        + ", ".join(
            f"{r['damage']}: {r['answers_destroyed']} of {r['answers']} answers destroyed, check "
            f"{'found it' if r['check_found_it'] else 'passed'}"
            for r in s
        )
        + " |",
        f"| broken inputs | {len(i)} | {sum(r['clear'] for r in i)} clear errors | "
        + (", ".join(r["input"] for r in i if not r["clear"]) or "none unclear")
        + " |",
        f"| pickle planted in the data root | {int(p.get('tried', False))} | "
        f"{int(p.get('tried', False) and not p.get('code_ran', True))} not run | "
        f"{'its code ran' if p.get('code_ran') else 'never loaded'} |",
    ]
    if "probes" in results:
        lines += ["", "Second round (`bench/_probes.py`), by group: what each probe ended in.", "",
                  "| group | probes | ok | clear errors | silently wrong | tracebacks | code run | answers lost |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        groups: dict[str, list[dict[str, Any]]] = {}
        for probe in results["probes"]:
            groups.setdefault(probe["group"], []).append(probe)
        for group, rows in groups.items():
            count = {o: sum(r["outcome"] == o for r in rows) for o in OUTCOMES}
            lines.append(f"| {group} | {len(rows)} | {count['ok']} | {count['clear_error']} | "
                         f"{count['silently_wrong']} | {count['traceback']} | {count['code_executed']} | "
                         f"{sum(r.get('answers_lost', 0) for r in rows)} |")  # fmt: skip
        t = results["summary"]
        lines += ["", f"All sections together: {t['probes']} probes, {t['ok']} ok, {t['clear_errors']} clear errors, "
                  f"{t['silently_wrong']} silently wrong, {t['tracebacks']} tracebacks, {t['code_executed']} with "
                  f"code run, {t['answers_lost']} intact answers lost (answers destroyed by byte damage to a store "
                  f"file: {results['destroyed_by_damage']})."]  # fmt: skip
        wrong = [r for r in results["probes"] if r["outcome"] not in ("ok", "clear_error")]
        lines += [
            f"- not held: {r['group']} / {r['name']}: {r['outcome']} ({r.get('detail', '')[:120]})" for r in wrong
        ]
    return "\n".join(lines)


def section_probes(results: dict[str, Any]) -> list[Probe]:
    """The first-round sections counted as probes, for the summary."""
    probes = []
    for r in results["faults"]:
        outcome = "ok" if r["survived"] else "traceback" if r["error"] else "silently_wrong"
        probes.append(Probe("endpoint faults", r["fault"], outcome, r["outcome"]))
    for r in results["kills"]:
        ok = r["identical"] and r["repeated"] == 0
        probes.append(Probe("SIGKILL and resume", f"after {r['kill_after_answers']} answers",
                            "ok" if ok else "silently_wrong", f"{r['repeated']} paid requests repeated"))  # fmt: skip
    shared = results["shared_store"]
    paid_once = "ok" if shared["sent"] == shared["unique_requests"] else "silently_wrong"
    probes.append(Probe("shared store", f"{shared['processes']} processes", paid_once, f"{shared['sent']} sent"))
    for r in results["stores"]:
        probes.append(Probe("damaged store file", r["damage"], "clear_error" if r["clear"] else "traceback",
                            extra={"destroyed": r["answers_destroyed"]}))  # fmt: skip
    for r in results["inputs"]:
        outcome = {"clear": "clear_error", "loaded": "silently_wrong"}.get(r["outcome"], "traceback")
        probes.append(Probe("broken graph files", r["input"], outcome if r["clear"] or outcome != "clear_error"
                            else "silently_wrong", r["message"][:200]))  # fmt: skip
    planted = results["planted_pickle"]
    if planted.get("tried"):
        probes.append(Probe("data root: planted pickle", "processed/*.pt", "code_executed" if planted["code_ran"]
                            else "ok", "never loaded"))  # fmt: skip
    return probes


def main() -> None:
    results: dict[str, Any] = {"benchmark": "reliability", "machine": machine()}
    record_invocation(results, "reliability.py")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        results["faults"] = faults(work)
        print(f"faults: {sum(r['survived'] for r in results['faults'])}/{len(results['faults'])} survived", flush=True)
        results["kills"] = kills(work)
        print(f"kills: {sum(r['repeated'] for r in results['kills'])} repeated requests", flush=True)
        results["shared_store"] = shared_store(work)
        results["stores"] = stores(work)
        results["inputs"] = inputs(work)
        os.environ.setdefault("MENTOR_CACHE_DIR", str(work / "cache"))
        results["planted_pickle"] = planted_pickle(work)
        probes = round_two(work, data_root())
        results["probes"] = [p.to_json() for p in probes]
        results["summary"] = summary([*section_probes(results), *probes])
        results["destroyed_by_damage"] = sum(r["answers_destroyed"] for r in results["stores"])
        results["seconds"] = round(time.perf_counter() - started, 1)
    write_json("reliability", results)
    write_section("reliability", render(results))
    print(render(results))


if __name__ == "__main__":
    main()
