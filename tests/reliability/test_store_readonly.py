"""A store that cannot be written (file 444 in a directory 555) is read: stats, check, export, answers already
stored and `consult --dry-run` work; what must write says "read-only" and names the file; nothing is changed.

Root ignores file permissions, so under root the commands run in a child process without the capabilities that
let it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, dropped from its bounding set before it starts)."""

import ctypes
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from mentor.llm import ResponseStore, StoreError

ROOT = Path(__file__).resolve().parents[2]
PR_CAPBSET_DROP, DAC_CAPABILITIES = 24, (1, 2, 3)

#: Run in the child: each CLI command, its exit code and output, as JSON on the last line.
CHILD = r"""
import json, sys
from typer.testing import CliRunner
from mentor.cli import app
runner, results = CliRunner(), []
for args in json.loads(sys.argv[1]):
    result = runner.invoke(app, args)
    results.append({"args": args, "code": result.exit_code, "out": result.output,
                    "error": None if result.exception is None or isinstance(result.exception, SystemExit)
                    else repr(result.exception)})
print(json.dumps(results))
"""


def _without_root_powers() -> None:
    """In the child, before it starts: root without the capabilities that ignore file permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in DAC_CAPABILITIES:
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _as_reader(commands: list[list[str]]) -> list[dict]:
    """Run CLI commands in a child process for which file permissions hold (root's are dropped)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (os.environ.get("PYTHONPATH"), str(ROOT))))}
    preexec = _without_root_powers if os.geteuid() == 0 else None
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(commands)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, preexec_fn=preexec)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def store(tmp_path):
    """Where the store goes; its directory is made writable again afterwards, for the clean-up."""
    path = tmp_path / "store" / "responses.sqlite"
    yield path
    path.parent.chmod(0o755)


def test_a_store_that_cannot_be_written_is_read_and_writes_say_read_only(tmp_path, store, fault_server):
    llm = ["--llm", "openai:fake", "--llm-base-url", fault_server.base_url]
    for i in range(3):
        asked = CliRunner().invoke(app, ["llm", "ask", f"stored {i} [answer:b]", "--labels", "a,b", *llm, "--store",
                                         str(store)])  # fmt: skip
        assert asked.exit_code == 0, asked.output
    export = tmp_path / "answers.jsonl"
    with ResponseStore(store) as db:
        export.write_text("".join(json.dumps(record) + "\n" for record in db.iter_records()))
    store.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    store.parent.chmod(0o555)
    before = sorted((p.name, p.read_bytes()) for p in store.parent.iterdir())
    sent = len(fault_server.requests)

    s = ["--store", str(store)]
    stats, check, exported, hit, miss, imported, release, plan = _as_reader([
        ["llm", "stats", "--json", *s],
        ["llm", "check", *s],
        ["llm", "export", *s],
        ["llm", "ask", "stored 1 [answer:b]", "--labels", "a,b", "--json", *llm, *s],
        ["llm", "ask", "new question [answer:a]", "--labels", "a,b", *llm, *s],
        ["llm", "import", str(export), *s],
        ["llm", "claims", "--release", *s],
        ["consult", "synthetic:num_nodes=120", "--strategy", "login", "--features", "bow", "--rounds", "1",
         "--max-calls", "2", "--epochs", "5", "--dry-run", "--json", *llm, *s],
    ])  # fmt: skip

    for result in (stats, check, exported, hit, plan):
        assert result["code"] == 0 and result["error"] is None, result
    assert json.loads(stats["out"])["models"][0]["calls"] == 3
    assert "sound, 3 answers" in check["out"]
    assert len(exported["out"].splitlines()) == 3
    assert json.loads(hit["out"])["cached"] is True
    assert "round1_already_in_store" in json.loads(plan["out"].strip().splitlines()[-1])
    for result in (miss, imported, release):
        flat = " ".join(result["out"].split())
        assert result["code"] == 1 and result["error"] is None, result
        assert "read-only" in flat and str(store) in flat and "Traceback" not in flat, result
    assert len(fault_server.requests) == sent  # nothing was asked (or paid) for a store that cannot keep it
    assert sorted((p.name, p.read_bytes()) for p in store.parent.iterdir()) == before


def test_readonly_true_never_creates_or_changes_a_file(tmp_path):
    with pytest.raises(StoreError, match="no response store here"):
        ResponseStore(tmp_path / "none.sqlite", readonly=True)
    assert not (tmp_path / "none.sqlite").exists()
    path = tmp_path / "s.sqlite"
    ResponseStore(path).close()
    with ResponseStore(path, readonly=True) as store:
        assert store.readonly and len(store) == 0
        with pytest.raises(StoreError, match=f"{path}: the response store is read-only"):
            store.release_claims()
