#!/usr/bin/env python3
"""A deterministic OpenAI-compatible chat server for the evaluation gate (scripts/eval-gate.sh).

It answers like a careful but simple model, from the sources Wendao puts in the prompt: the first sentence of
source [1] (two sentences when the system prompt asks for conditions too), cited [1]; the not-found sentence
when there is no source. Judge prompts (rubric wendao-judge-v1) get a fixed JSON verdict, translation prompts
the query back. Usage is reported (about two characters a token), so costs can be computed.

Usage: python3 scripts/fake_openai_server.py [PORT]   (0 or nothing: any free port; the port is printed first)
FAKE_DELAY_MS=50 makes every chat answer take that long (for benchmarks).
"""
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(os.environ.get("FAKE_DELAY_MS", "0")) / 1000
SOURCE = re.compile(r'<source\s[^>]*>\s*(.*?)\s*</source>', re.S)
SENTENCE = re.compile(r'[^。！？!?.]*[。！？!?.]?')


def answer(messages):
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    user = messages[-1].get("content", "") if messages else ""
    if "wendao-judge-v1-pairwise" in system:
        return '{"winner": "tie", "reason": "both answers state the same fact"}'
    if "wendao-judge-v1" in system:
        return '{"faithfulness": 4, "relevance": 4, "correctness": 4, "reason": "answers from the cited source"}'
    if "Translate the search query" in user or "Rewrite the follow-up" in user:
        m = re.search(r'<(?:query|follow_up)>(.*?)</', user, re.S)
        return m.group(1).strip() if m else ""
    sources = SOURCE.findall(user)
    if not sources:
        return "知识库中没有找到答案。"
    sentences = [s.strip() for s in SENTENCE.findall(sources[0].replace("\n", " ")) if s.strip()]
    count = 2 if "conditions or exceptions" in system else 1
    return " ".join(s + " [1]" for s in sentences[:count]) or "知识库中没有找到答案。"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, body):
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self.send_json(400, {"error": {"message": "not JSON"}})
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self.send_json(404, {"error": {"message": "not found"}})
        messages = request.get("messages") or []
        text = answer(messages)
        time.sleep(DELAY)
        prompt_tokens = sum(len(m.get("content", "")) for m in messages) // 2 + 1
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text) // 2 + 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        model = request.get("model", "fake")
        if not request.get("stream"):
            return self.send_json(200, {
                "id": "fake", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        chunks = [
            {"id": "fake", "object": "chat.completion.chunk", "model": model,
             "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
            {"id": "fake", "object": "chat.completion.chunk", "model": model,
             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"id": "fake", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage},
        ]
        for c in chunks:
            self.wfile.write(("data: " + json.dumps(c, ensure_ascii=False) + "\n\n").encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
