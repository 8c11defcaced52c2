"""An OpenAI-compatible chat server that answers at once, for measuring mentor's own cost (a benchmark device, not
a model): ``bench/scale.py`` runs it as a separate process so that its work is not counted as mentor's.

It reads the target node's text from the prompt and answers the class whose topic words (those of the
``synthetic`` data set) it holds most, as ``{"label": ...}``. ``GET /v1/models`` names the model ``instant``;
``GET /v1/stats`` says how many chat answers it has sent (``{"answered": N}``).

    python bench/_instant_server.py            # prints the port it listens on, then serves until killed
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mentor.graph.datasets.synthetic import TOPICS

_TARGET = re.compile(r"TARGET node:\n<text>(.*?)</text>", re.DOTALL)
_WORD_TOPIC = {word: topic for topic, words in TOPICS.items() for word in words}


def answer(prompt: str, classes: list[str]) -> str:
    """The class among ``classes`` whose topic words the target text holds most (ties: the first)."""
    match = _TARGET.search(prompt)
    text = match.group(1) if match else prompt
    counts = Counter(_WORD_TOPIC.get(word.strip('.,"').lower()) for word in text.split())
    return max(classes, key=lambda name: (counts.get(name, 0), -classes.index(name)))


def _classes(body: dict[str, Any]) -> list[str]:
    """The allowed labels, from the request's JSON schema (``enum`` of ``label``), else every topic."""
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    enum = schema.get("properties", {}).get("label", {}).get("enum")
    return list(enum) if enum else list(TOPICS)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # connections waiting to be accepted: many clients connect at once


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    answered = 0
    lock = threading.Lock()

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/").endswith("/stats"):
            self._send(200, {"answered": Handler.answered})
            return
        self._send(200, {"object": "list", "data": [{"id": "instant", "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found"}})
            return
        prompt = body["messages"][-1]["content"]
        content = json.dumps({"label": answer(prompt, _classes(body))})
        self._send(200, {
            "id": "instant", "object": "chat.completion", "created": 0, "model": body.get("model", "instant"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 8,
                      "total_tokens": len(prompt) // 4 + 8},
        })  # fmt: skip
        with Handler.lock:
            Handler.answered += 1

    def _send(self, code: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def spawn() -> tuple[subprocess.Popen, str]:
    """Start this server as another process; the process and its base URL (``http://127.0.0.1:PORT/v1``)."""
    process = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return process, f"http://127.0.0.1:{port}/v1"


def main() -> None:
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
