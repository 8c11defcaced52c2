"""An OpenAI-compatible ``/v1/embeddings`` server for tests: each text's vector is made from its sha256, so tests
know what should come back; it logs every request, counts requests in flight, and misbehaves when told.

``fail_first``: that many requests answer HTTP 503 first (a retry then gets through). ``reply``: ``ok``, or a bad
reply: ``short`` (one embedding too few), ``nan`` (a NaN in the first vector), ``mixed`` (vectors of two lengths),
``badindex`` (every index 0). ``delay_s``: each request waits that long (for concurrency to show).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIM = 8


def vector_of(text: str) -> list[float]:
    """The (not normalised) vector the server gives ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 - 0.5 for b in digest[:DIM]]


class EmbeddingsServer:
    def __init__(self, *, fail_first: int = 0, reply: str = "ok", delay_s: float = 0.0) -> None:
        self.fail_first, self.reply, self.delay_s = fail_first, reply, delay_s
        self.requests: list[dict[str, Any]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def texts_sent(self) -> list[str]:
        return [text for request in self.requests for text in request["input"]]

    def __enter__(self) -> EmbeddingsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, body: dict[str, Any], authorization: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append({"input": body["input"], "model": body.get("model"), "authorization": authorization})
            number = len(self.requests)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.delay_s)
            if number <= self.fail_first:
                return 503, {"error": {"message": "injected 503"}}
            texts = body["input"]
            data = [{"object": "embedding", "index": i, "embedding": vector_of(t)} for i, t in enumerate(texts)]
            if self.reply == "short":
                data = data[:-1]
            elif self.reply == "nan":
                data[0]["embedding"][0] = float("nan")
            elif self.reply == "mixed" and len(data) > 1:
                data[1]["embedding"] = data[1]["embedding"][:-1]
            elif self.reply == "badindex":
                for item in data:
                    item["index"] = 0
            data.reverse()  # indexes, not order, say which text a vector is for
            return 200, {"object": "list", "data": data, "model": body.get("model"),
                         "usage": {"prompt_tokens": 1, "total_tokens": 1}}  # fmt: skip
        finally:
            with self._lock:
                self._in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not self.path.split("?")[0].rstrip("/").endswith("/embeddings"):
                    code, payload = 404, {"error": {"message": "not found"}}
                else:
                    body = json.loads(raw)
                    code, payload = server._answer(body, self.headers.get("Authorization", ""))
                data = json.dumps(payload, allow_nan=True).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
