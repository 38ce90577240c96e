#!/usr/bin/env python3
"""The official `openai` Python client against a running `wendao serve` (run by scripts/test.sh).

Starts the server on a free loopback port over a fresh data directory holding the sample knowledge
base, with an admin key and one API key, then checks models, chat completions (plain and
streamed) with citations, and that a wrong key or another tenant's knowledge base are refused.
Exits non-zero on the first failure.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import openai
from openai import OpenAI

BIN = os.environ.get("WENDAO_BIN", ".build/debug/wendao")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, data):
    out = subprocess.run([BIN, *args, "--data", data], capture_output=True, text=True, check=True)
    return out.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    data = tempfile.mkdtemp(prefix="wendao-openai-")
    run("ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics"), "--exclude", "eval*",
        "--json", data=data)
    run("kb", "create", "private", data=data)
    key = json.loads(run("keys", "create", "--kb", "logistics", "--json", data=data))["key"]
    admin = "admin-" + os.urandom(12).hex()
    port = free_port()
    env = dict(os.environ, WENDAO_ADMIN_KEY=admin, WENDAO_LOG_LEVEL="warning")
    server = subprocess.Popen([BIN, "serve", "--port", str(port), "--data", data], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        client = OpenAI(base_url=base + "/v1", api_key=key)
        ids = [m.id for m in client.models.list().data]
        check(ids == ["kb:logistics"], f"models list shows only the key's knowledge base: {ids}")

        r = client.chat.completions.create(
            model="kb:logistics", messages=[{"role": "user", "content": "包裹丢了最多赔多少钱？"}])
        msg = r.choices[0].message
        check("5 倍" in msg.content, "plain completion answers from the knowledge base")
        cites = msg.model_extra.get("citations") or []
        check(len(cites) >= 1 and cites[0]["document"].startswith("logistics/"), "message carries citations")
        check(r.usage is not None, "usage present")

        stream = client.chat.completions.create(
            model="kb:logistics", messages=[{"role": "user", "content": "能寄充电宝吗？"}], stream=True,
            stream_options={"include_usage": True})
        text, final_cites, saw_usage = "", None, False
        for chunk in stream:
            if chunk.usage is not None:
                saw_usage = True
            for choice in chunk.choices:
                if choice.delta.content:
                    text += choice.delta.content
                extra = choice.delta.model_extra or {}
                if extra.get("citations"):
                    final_cites = extra["citations"]
        check("100Wh" in text, "streamed completion answers")
        check(final_cites, "final chunk carries citations")
        check(saw_usage, "usage chunk when include_usage")

        r = client.chat.completions.create(
            model="kb:logistics", messages=[{"role": "user", "content": "保价费怎么收？"}],
            extra_body={"wendao": {"citation_footer": True}})
        check("\n\n[1] logistics/" in r.choices[0].message.content, "citation footer on request")

        try:
            client.chat.completions.create(model="kb:private", messages=[{"role": "user", "content": "x"}])
            check(False, "another knowledge base is refused")
        except openai.NotFoundError:
            check(True, "another knowledge base answers 404")
        try:
            OpenAI(base_url=base + "/v1", api_key="wdk_" + "x" * 32).models.list()
            check(False, "a wrong key is refused")
        except openai.AuthenticationError:
            check(True, "a wrong key answers 401")
        ids = [m.id for m in OpenAI(base_url=base + "/v1", api_key=admin).models.list().data]
        check(set(ids) >= {"kb:logistics", "kb:private"}, "the admin key sees every knowledge base")
        # Embeddings from the local e5-small model (pulled by scripts/test.sh).
        emb = client.embeddings.create(model="e5-small", input=["充电宝能寄吗？", "Can I ship a power bank?"])
        vectors = [d.embedding for d in emb.data]
        norms = [sum(x * x for x in v) ** 0.5 for v in vectors]
        check(len(vectors) == 2 and all(len(v) == 384 for v in vectors), "embeddings: two 384-dimension vectors")
        check(all(abs(n - 1) < 1e-3 for n in norms), f"embeddings are normalised: {norms}")
        cosine = sum(a * b for a, b in zip(*vectors))
        check(cosine > 0.8, f"a Chinese question and its English translation are close: cosine {cosine:.3f}")
        # The local language model (SmolLM2-135M, pulled by scripts/test.sh): a provider's model by
        # name, for the administrator, whole and streamed; then a knowledge base answering with it.
        admin_client = OpenAI(base_url=base + "/v1", api_key=admin)
        ids = [m.id for m in admin_client.models.list().data]
        check("local:smollm2-135m" in ids, f"the administrator's model list has the pulled local model: {ids}")
        r = admin_client.chat.completions.create(
            model="local:smollm2-135m", messages=[{"role": "user", "content": "Say hello in one word."}],
            max_tokens=8, temperature=0)
        check(r.choices[0].message.content.strip() != "", f"local model answers: {r.choices[0].message.content!r}")
        check(r.usage is not None and r.usage.completion_tokens > 0, "local model reports its usage")
        stream = admin_client.chat.completions.create(
            model="local:smollm2-135m", messages=[{"role": "user", "content": "Count to three."}],
            max_tokens=12, temperature=0, stream=True)
        pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
        check("".join(pieces).strip() != "", "local model streams")
        req = urllib.request.Request(
            base + "/api/v1/kbs/logistics", method="PATCH", data=json.dumps({"model": "local:smollm2-135m"}).encode(),
            headers={"Authorization": "Bearer " + admin, "Content-Type": "application/json"})
        check(urllib.request.urlopen(req, timeout=10).status == 200, "the knowledge base's model set to local:smollm2-135m")
        r = client.chat.completions.create(
            model="kb:logistics", messages=[{"role": "user", "content": "可以用 PayPal 付运费吗？"}])
        check("没有找到" in r.choices[0].message.content, f"the knowledge base on the local model says not found: {r.choices[0].message.content!r}")
        r = client.chat.completions.create(
            model="kb:logistics", messages=[{"role": "user", "content": "How do I track my parcel?"}])
        cites = r.choices[0].message.model_extra.get("citations") or []
        check(cites and all(c["document"].startswith("logistics/") for c in cites),
              f"the knowledge base on the local model answers with citations: {r.choices[0].message.content!r}")
        try:
            client.embeddings.create(model="text-embedding-3-small", input="x")
            check(False, "an unknown embedding model is refused")
        except openai.NotFoundError:
            check(True, "an unknown embedding model answers 404")
    finally:
        server.terminate()
        code = server.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)
        check(code == 0, f"server stops cleanly on SIGTERM (exit {code})")


if __name__ == "__main__":
    main()
