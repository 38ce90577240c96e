#!/usr/bin/env python3
"""Load figures for `wendao serve` with wrk (Debian) on loopback; prints JSON.

    python3 scripts/bench_server.py --bin .build/release/wendao [--seconds 10] [--soak 600]

Measures, on the bundled sample knowledge base: search and extractive ask requests/s and latency
at 64 connections, static UI file requests/s, search p99 while an ingest job runs, and the server's
RSS at the start and end of a soak of mixed traffic. wrk runs on the same 2-core machine as the
server, so the figures are conservative.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lua_post(path, body):
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
    f.write("wrk.body = " + json.dumps(json.dumps(body, ensure_ascii=False), ensure_ascii=False) + "\n")
    f.close()
    return f.name


def wrk(url, seconds, connections=64, threads=2, script=None):
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_second": rps, "p50_ms": pct(50), "p99_ms": pct(99),
            "non_2xx": int(errors.group(1)) if errors else 0}


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release/wendao"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--soak", type=int, default=600)
    a = ap.parse_args()
    data = tempfile.mkdtemp(prefix="wendao-bench-")
    subprocess.run([a.bin, "ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics"),
                    "--exclude", "eval.jsonl", "--data", data, "--json"], capture_output=True, check=True)
    port = free_port()
    env = dict(os.environ, WENDAO_LOG_LEVEL="error")
    server = subprocess.Popen([a.bin, "serve", "--port", str(port), "--data", data], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        search = lua_post("/api/v1/kbs/logistics/search", {"query": "冷链 温度 保价", "top_k": 10})
        ask = lua_post("/api/v1/kbs/logistics/ask", {"question": "包裹丢了最多赔多少钱？"})
        out = {"connections": 64, "seconds": a.seconds}
        wrk(base + "/healthz", 2)  # warm-up
        out["search"] = wrk(base + "/api/v1/kbs/logistics/search", a.seconds, script=search)
        out["ask_extractive"] = wrk(base + "/api/v1/kbs/logistics/ask", a.seconds, script=ask)
        out["static_ui"] = wrk(base + "/ui/app.js", a.seconds)
        # Search while an ingest job re-ingests the whole sample (forced, repeatedly).
        stop = time.time() + a.seconds
        ingest = subprocess.Popen(
            ["bash", "-c", f"while [ $(date +%s) -lt {int(stop)} ]; do {a.bin} ingest --kb logistics "
             f"{os.path.join(ROOT, 'Samples/logistics')} --exclude eval.jsonl --force --data {data} >/dev/null 2>&1; done"])
        out["search_during_ingest"] = wrk(base + "/api/v1/kbs/logistics/search", a.seconds, script=search)
        ingest.wait()
        out["search_p99_ratio_during_ingest"] = out["search_during_ingest"]["p99_ms"] / max(out["search"]["p99_ms"], 1e-9)
        # Soak: mixed traffic, RSS at start and end.
        out["rss_mb_start"] = rss_mb(server.pid)
        t_end = time.time() + a.soak
        rounds = 0
        while time.time() < t_end:
            span = max(1, min(30, int(t_end - time.time())))
            wrk(base + "/api/v1/kbs/logistics/search", span, connections=16, script=search)
            rounds += 1
        out["soak_seconds"] = a.soak
        out["rss_mb_end"] = rss_mb(server.pid)
        print(json.dumps(out, indent=2, ensure_ascii=False))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
