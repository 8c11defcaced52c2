"""``mentor llm`` end to end through Typer's runner, against the scripted server."""

import json

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from tests.llm.fault_server import FaultServer

runner = CliRunner()


@pytest.fixture
def server():
    with FaultServer() as fake:
        yield fake


def _ask(server, store_path, *args):
    base = [
        "llm",
        "ask",
        "--llm",
        "openai:fake",
        "--llm-base-url",
        server.base_url,
        "--store",
        str(store_path),
    ]
    return runner.invoke(app, [*base, *args])


def test_ask_json_then_cached(server, store_path):
    first = _ask(server, store_path, "Classify this [answer:b]", "--labels", "a,b,c", "--json")
    assert first.exit_code == 0, first.output
    payload = json.loads(first.stdout)
    assert payload["label"] == "b" and payload["cached"] is False
    assert {"answer", "prompt_tokens", "completion_tokens", "latency_s", "explanation"} <= set(payload)
    second = json.loads(_ask(server, store_path, "Classify this [answer:b]", "--labels", "a,b,c", "--json").stdout)
    assert second["cached"] is True and server.count("Classify") == 1


def test_ask_plain_text(server, store_path):
    result = _ask(server, store_path, "hello")
    assert result.exit_code == 0 and "echo: hello" in result.stdout


def test_failed_call_exits_non_zero_with_the_reason(server, store_path):
    result = _ask(server, store_path, "x [fault:badlabel]", "--labels", "a,b")
    assert result.exit_code == 1
    assert "invalid_label" in result.output


def test_budget_of_zero_calls_refuses_cleanly(server, store_path):
    result = _ask(server, store_path, "x", "--max-calls", "0")
    assert result.exit_code == 1 and "budget reached" in result.output
    assert server.count("x") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--llm", "gpt4"], "--llm"),
        (["--labels", "a,,b"], "--labels"),
        (["--llm-structured", "xml"], "--llm-structured"),
    ],
)
def test_bad_options_name_the_option(store_path, args, message):
    result = runner.invoke(app, ["llm", "ask", "q", "--store", str(store_path), *args])
    assert result.exit_code == 2 and message in result.output


def test_stats_export_import(server, store_path, tmp_path):
    for prompt in ("alpha", "beta"):
        assert _ask(server, store_path, prompt, "--labels", "a,b").exit_code == 0
    _ask(server, store_path, "alpha", "--labels", "a,b")
    stats = json.loads(runner.invoke(app, ["llm", "stats", "--store", str(store_path), "--json"]).stdout)
    [row] = stats["models"]
    assert (row["model"], row["calls"], row["hits"], row["hit_rate"]) == (
        "fake",
        2,
        1,
        pytest.approx(1 / 3, abs=1e-3),
    )

    exported = tmp_path / "out" / "answers.jsonl"
    assert runner.invoke(app, ["llm", "export", str(exported), "--store", str(store_path)]).exit_code == 0
    assert len(exported.read_text().splitlines()) == 2
    other = tmp_path / "other.sqlite"
    imported = runner.invoke(app, ["llm", "import", str(exported), "--store", str(other)])
    assert imported.exit_code == 0 and "imported 2" in imported.output
    # the imported answers are served without contacting the model
    replay = _ask(server, other, "alpha", "--labels", "a,b", "--json")
    assert json.loads(replay.stdout)["cached"] is True and server.count("alpha") == 1


def test_import_of_a_bad_file_names_the_line(tmp_path, store_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": 1}\n')
    result = runner.invoke(app, ["llm", "import", str(bad), "--store", str(store_path)])
    assert result.exit_code == 1 and "bad.jsonl, line 1" in result.output


def test_stats_of_a_missing_store(tmp_path):
    result = runner.invoke(app, ["llm", "stats", "--store", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 1 and "no response store" in result.output


def test_models_lists_the_builtins():
    result = runner.invoke(app, ["llm", "models"])
    assert result.exit_code == 0 and "local:smollm2-135m" in result.output


def test_repeated_labels_are_a_clear_option_error(store_path):
    result = runner.invoke(app, ["llm", "ask", "q", "--store", str(store_path), "--labels", "a,b,a"])
    flat = " ".join(result.output.replace("│", " ").split())  # the error box wraps lines
    assert result.exit_code == 2 and "--labels" in flat and "'a' given more than once" in flat
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_store_path_too_long_for_the_file_system_is_one_error(server, tmp_path):
    store = tmp_path / ("d" * 300) / "responses.sqlite"
    result = _ask(server, store, "hello")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "File name too long" in result.output and "cannot open or create the response store" in result.output
    assert server.count("hello") == 0


def test_claims_are_listed_and_released(tmp_path):
    from mentor.llm import ResponseStore

    store = tmp_path / "s.sqlite"
    with ResponseStore(store) as db:
        for key in ("k1", "k2"):
            db.claim(key, "ci-runner:4242:old-run", 3600)
        db.claim("k3", "laptop:7:other-run", 3600)
    listed = runner.invoke(app, ["llm", "claims", "--store", str(store)])
    assert listed.exit_code == 0 and "ci-runner:4242:old-run" in listed.stdout and "laptop:7:other-run" in listed.stdout
    one = runner.invoke(app, ["llm", "claims", "--release", "--owner", "laptop:7:other-run", "--store", str(store)])
    assert one.exit_code == 0 and "released 1 claim" in one.stdout
    rest = runner.invoke(app, ["llm", "claims", "--release", "--store", str(store)])
    assert rest.exit_code == 0 and "released 2 claim" in rest.stdout
    assert "no claims" in runner.invoke(app, ["llm", "claims", "--store", str(store)]).stdout
