"""What the CLI shows a terminal: model text without control sequences, failures without secrets."""

import json

from typer.testing import CliRunner

from mentor.cli import app
from mentor.cli.terminal import plain

runner = CliRunner()
SECRET = "sk-test-0123456789abcdefSECRET"


def _ask(server, store_path, *args):
    base = ["llm", "ask", "--llm", "openai:fake", "--llm-base-url", server.base_url, "--store", str(store_path)]
    return runner.invoke(app, [*base, *args])


def test_escape_sequences_from_the_model_do_not_reach_the_terminal(fault_server, store_path):
    result = _ask(fault_server, store_path, "q [fault:escape] [answer:b]", "--labels", "a,b,c")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "cleared the screen" in result.stdout


def test_json_output_keeps_the_model_text_as_data(fault_server, store_path):
    result = _ask(fault_server, store_path, "q [fault:escape] [answer:b]", "--labels", "a,b,c", "--json")
    assert result.exit_code == 0 and "\\u001b[2J" in result.stdout  # escaped by JSON, not sent raw


def test_a_key_echoed_by_the_server_is_not_printed(fault_server, store_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    named = ("--llm-api-key-env", "OPENAI_API_KEY")  # named, the key goes to this server (and may come back)
    result = _ask(fault_server, store_path, "q [fault:echokey]", "--labels", "a,b", "--llm-retries", "0", *named)
    assert result.exit_code == 1
    assert SECRET not in result.output and "[redacted]" in result.output


def test_plain_keeps_lines_and_tabs_and_drops_controls():
    assert plain("a\tb\nc\x1b[2Jd\x1b]0;title\x07e\x9bf\x00") == "a\tb\ncdef"


def test_json_output_escapes_c1_controls_and_keeps_the_exact_text(fault_server, store_path):
    prompt = "naïve \x9b2J café \x85 \x7f end"  # U+009B is CSI on terminals that take 8-bit controls
    result = _ask(fault_server, store_path, prompt, "--json")
    assert result.exit_code == 0, result.output
    assert not any("\x7f" <= char <= "\x9f" for char in result.stdout), repr(result.stdout)
    assert "\\u009b" in result.stdout and "naïve" in result.stdout  # other non-ASCII text stays readable
    assert json.loads(result.stdout)["answer"] == f"echo: {prompt[:40]}"
