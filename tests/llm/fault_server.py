"""A scripted OpenAI-compatible chat server for tests: each prompt says how the server should misbehave.

Directives in the last user message:
  ``[answer:X]``      reply ``{"label": X, "explanation": ...}`` (default label ``a``)
  ``[fault:429xN]``   answer HTTP 429 with ``Retry-After: 1`` the first N times, then reply
  ``[fault:500xN]``   answer HTTP 500 the first N times (``[fault:500]``: always)
  ``[retry_after:S]`` with 429 or 500: send ``Retry-After: S`` instead
  ``[fault:error200xN]`` status 200 with an OpenAI-style error object, ``"model overloaded"``, the first N times
  ``[fault:nochoices]`` status 200 with a chat completion whose ``choices`` is empty (also ``xN``)
  ``[fault:hang]``    sleep ``hang_s`` before replying (longer than the client's timeout)
  ``[fault:truncate]`` reply with JSON cut off in the middle of the explanation
  ``[fault:garbage]`` reply with text that is not JSON
  ``[fault:badlabel]`` reply with a label outside any allowed set
  ``[fault:empty]``   reply with an empty message
  ``[fault:badjson]`` status 200 with a JSON body cut off in the middle
  ``[fault:html]``    status 200 with an HTML page instead of JSON
  ``[fault:slowbody]`` status 200 with the body sent in ``slow_chunks`` pieces, ``slow_delay_s`` apart
  ``[fault:echokey]`` HTTP 401 whose message repeats the request's Authorization header (the API key)
  ``[fault:escape]``  reply with terminal escape sequences in the explanation
Every chat request is logged (prompt, ``response_format``, path with query, Authorization header) so tests can
count what was sent. ``GET /v1/models`` answers ``models`` (default: ``fake``, with nothing identifying); those
requests are logged apart, in ``model_requests``. ``reply_extra`` is merged into every chat completion (e.g. a
llama.cpp server's ``timings``). ``tokenizer`` names the tokenizer endpoint the server has, counting one token per
whitespace-separated word: ``llama.cpp`` (``POST /tokenize`` with ``content``), ``vllm`` (``POST /tokenize`` with
``prompt``, answering ``count``), ``llama-cpp-python`` (``POST /extras/tokenize/count`` with ``input``, a BOS token
counted too); every tokenizer request, answered or not, is logged in ``tokenize_requests``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_DIRECTIVE = re.compile(r"\[(answer|fault|retry_after):([^\]]+)\]")
OVERLOADED = "model overloaded, try again later"


@dataclass
class _Raw:
    """A body sent as it is (not JSON-encoded), optionally in slow pieces."""

    data: bytes
    content_type: str = "application/json"
    chunks: int = 1
    chunk_delay_s: float = 0.0


class FaultServer:
    def __init__(self, *, delay_s: float = 0.0, hang_s: float = 5.0, reject_json_schema: bool = False,
                 slow_chunks: int = 10, slow_delay_s: float = 0.3, models: list[dict[str, Any]] | None = None,
                 port: int = 0, reply_extra: dict[str, Any] | None = None,
                 tokenizer: str | None = None) -> None:  # fmt: skip
        self.delay_s = delay_s
        self.hang_s = hang_s
        self.slow_chunks, self.slow_delay_s = slow_chunks, slow_delay_s
        self.reject_json_schema = reject_json_schema
        self.requests: list[dict[str, Any]] = []
        self.models = models if models is not None else [{"id": "fake", "object": "model", "owned_by": "test"}]
        self.model_requests: list[dict[str, Any]] = []
        self.reply_extra = reply_extra or {}
        self.tokenizer = tokenizer
        self.tokenize_requests: list[dict[str, Any]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, fragment: str) -> int:
        with self._lock:
            return sum(fragment in r["prompt"] for r in self.requests)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def _respond(
        self, body: dict[str, Any], authorization: str = "", path: str = ""
    ) -> tuple[int, dict[str, str], Any]:
        prompt = body["messages"][-1]["content"]
        fmt = body.get("response_format")
        with self._lock:
            self.requests.append({"prompt": prompt, "response_format": fmt, "authorization": authorization,
                                  "path": path, "cache_prompt": body.get("cache_prompt")})  # fmt: skip
            self._seen[prompt] += 1
            attempt = self._seen[prompt]
        if self.reject_json_schema and fmt and fmt.get("type") == "json_schema":
            return (
                500,
                {},
                {"error": {"message": "response_format: only 'text' or 'json_object' are allowed"}},
            )
        directives = dict(_DIRECTIVE.findall(prompt))
        fault = directives.get("fault", "")
        label = directives.get("answer", "a")
        if self.delay_s:
            time.sleep(self.delay_s)
        if m := re.fullmatch(r"(429|500)(?:x(\d+))?", fault):
            code, times = int(m.group(1)), m.group(2)
            if times is None or attempt <= int(times):
                wait = directives.get("retry_after", "1" if code == 429 else None)
                headers = {"Retry-After": wait} if wait else {}
                return code, headers, {"error": {"message": f"injected {code}"}}
        if m := re.fullmatch(r"(error200|nochoices)(?:x(\d+))?", fault):
            if m.group(2) is None or attempt <= int(m.group(2)):
                return 200, {}, _error_200(m.group(1), attempt)
        if fault == "hang":
            time.sleep(self.hang_s)
        if fault == "echokey":
            return 401, {}, {"error": {"message": f"Incorrect API key provided: {authorization}"}}
        if fault == "html":
            return 200, {}, _Raw(b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        content = json.dumps({"label": label, "explanation": "Because the text says so."})
        if fault == "truncate":
            content = content[: content.index("says")]
        elif fault == "garbage":
            content = "I think the answer is probably the first one."
        elif fault == "badlabel":
            content = json.dumps({"label": "zzz-not-a-label", "explanation": "made up"})
        elif fault == "empty":
            content = ""
        elif fault == "escape":
            content = json.dumps({"label": label, "explanation": "\x1b[2J\x1b[31mcleared\x07 the screen"})
        elif fmt is None and "label" not in prompt:
            content = f"echo: {prompt[:40]}"
        reply = {
            "id": f"chatcmpl-{attempt}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": len(prompt) // 4 + 1, "completion_tokens": len(content) // 4 + 1,
                      "total_tokens": len(prompt) // 4 + len(content) // 4 + 2},
        }  # fmt: skip
        reply.update(self.reply_extra)
        if fault == "badjson":
            encoded = json.dumps(reply).encode()
            return 200, {}, _Raw(encoded[: len(encoded) // 2])
        if fault == "slowbody":
            return 200, {}, _Raw(json.dumps(reply).encode(), chunks=self.slow_chunks, chunk_delay_s=self.slow_delay_s)
        return 200, {}, reply

    def _tokenize(self, path: str, body: dict[str, Any], authorization: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.tokenize_requests.append({"path": path, "body": body, "authorization": authorization})
        route = path.split("?")[0]
        if self.tokenizer == "llama.cpp" and route == "/tokenize":
            return 200, {"tokens": list(range(len(str(body.get("content", "")).split())))}  # [] without content
        if self.tokenizer == "vllm" and route == "/tokenize":
            if not isinstance(body.get("prompt"), str):
                return 400, {"object": "error", "message": "Field required: prompt"}
            count = len(body["prompt"].split())
            return 200, {"count": count, "max_model_len": 2048, "tokens": list(range(count))}
        if self.tokenizer == "llama-cpp-python" and route == "/extras/tokenize/count":
            return 200, {"count": 1 + len(str(body.get("input", "")).split())}
        return 404, {"detail": "Not Found"}

    def _models(self, authorization: str) -> dict[str, Any]:
        with self._lock:
            self.model_requests.append({"authorization": authorization})
        return {"object": "list", "data": self.models}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.split("?")[0].rstrip("/").endswith("/models"):
                    self._send(200, {}, server._models(self.headers.get("Authorization", "")))
                else:
                    self._send(404, {}, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                if "tokenize" in self.path:
                    code, reply = server._tokenize(self.path, body, self.headers.get("Authorization", ""))
                    self._send(code, {}, reply)
                    return
                with server._lock:
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                try:
                    code, headers, payload = server._respond(body, self.headers.get("Authorization", ""), self.path)
                finally:
                    with server._lock:
                        server._in_flight -= 1
                self._send(code, headers, payload)

            def _send(self, code: int, headers: dict[str, str], payload: Any) -> None:
                raw = payload if isinstance(payload, _Raw) else _Raw(json.dumps(payload).encode())
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", raw.content_type)
                    self.send_header("Content-Length", str(len(raw.data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    size = -(-len(raw.data) // raw.chunks)
                    for start in range(0, len(raw.data), size):
                        self.wfile.write(raw.data[start : start + size])
                        self.wfile.flush()
                        if raw.chunk_delay_s and start + size < len(raw.data):
                            time.sleep(raw.chunk_delay_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def _error_200(kind: str, attempt: int) -> dict[str, Any]:
    """A status-200 body that is no answer: an error object (as some proxies send) or a completion without choices."""
    if kind == "error200":
        return {"error": {"message": OVERLOADED, "type": "server_error", "code": 503}}
    return {"id": f"chatcmpl-{attempt}", "object": "chat.completion", "created": int(time.time()), "model": "fake",
            "choices": []}  # fmt: skip
