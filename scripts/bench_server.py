#!/usr/bin/env python3
"""Load figures for `wendao serve` with wrk (Debian) on loopback; prints JSON.

    python3 scripts/bench_server.py --bin .build/release/wendao [--seconds 10] [--soak 600] [--streams 500]

Measures, on the bundled sample knowledge base: search and extractive ask requests/s and latency
at 64 connections, static UI file requests/s, search p99 while an ingest job runs, and the server's
RSS at the start and end of a soak of mixed traffic (search, ask and static files in turn), and N
concurrent streaming answer clients (how many were served, how many were turned away with 503 and
Retry-After, none left hanging). wrk runs on the same 2-core machine as the
server, so the figures are conservative.
"""
import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
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


async def one_stream(port, body, timeout):
    """One streaming ask over a raw socket: (status, retry_after, got_done_event, seconds)."""
    t0 = time.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body, ensure_ascii=False).encode()
    writer.write(b"POST /api/v1/kbs/logistics/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Connection: close\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
    await writer.drain()
    raw = b""
    try:
        while True:
            piece = await asyncio.wait_for(reader.read(65536), timeout)
            if not piece:
                break
            raw += piece
    finally:
        writer.close()
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status = int(head.split(" ", 2)[1])
    retry = re.search(r"(?im)^retry-after:\s*(\d+)", head)
    return status, retry is not None, b"event: done" in raw or b"event: usage" in raw, time.time() - t0


async def streams(port, n, timeout=60):
    body = {"question": "包裹丢了最多赔多少钱？", "stream": True}
    results = await asyncio.gather(*(one_stream(port, body, timeout) for _ in range(n)), return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception) and r[0] == 200]
    busy = [r for r in results if not isinstance(r, Exception) and r[0] == 503]
    errors = [r for r in results if isinstance(r, Exception) or r[0] not in (200, 503)]
    return {"clients": n, "served": len(ok), "served_complete": sum(1 for r in ok if r[2]),
            "turned_away_503": len(busy), "turned_away_with_retry_after": sum(1 for r in busy if r[1]),
            "errors_or_hung": len(errors), "max_seconds": round(max((r[3] for r in ok + busy), default=0), 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release/wendao"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--soak", type=int, default=600)
    ap.add_argument("--streams", type=int, default=500, help="concurrent streaming ask clients (0: skip)")
    a = ap.parse_args()
    data = tempfile.mkdtemp(prefix="wendao-bench-")
    subprocess.run([a.bin, "ingest", "--kb", "logistics", "--create", os.path.join(ROOT, "Samples/logistics"),
                    "--exclude", "eval*", "--data", data, "--json"], capture_output=True, check=True)
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
        # Search while the server's own ingest jobs re-ingest every document of the sample, round
        # after round (each re-ingest is forced and bumps the knowledge base's generation).
        stop = time.time() + a.seconds
        import threading

        def api(method, path):
            # The server admits a bounded number of queued ingest jobs per key (503 with
            # Retry-After beyond it): wait as asked and try again.
            while True:
                req = urllib.request.Request(base + path, method=method)
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        return json.loads(r.read() or b"{}")
                except urllib.error.HTTPError as e:
                    if e.code != 503:
                        raise
                    time.sleep(float(e.headers.get("Retry-After") or 1))

        jobs_run = [0]

        def reingest_loop():
            while time.time() < stop:
                docs = api("GET", "/api/v1/kbs/logistics/documents")["documents"]
                for d in docs:
                    api("POST", f"/api/v1/kbs/logistics/documents/{d['id']}/reingest")
                    jobs_run[0] += 1
                while time.time() < stop:
                    states = [j["state"] for j in api("GET", "/api/v1/kbs/logistics/jobs")["jobs"]]
                    if all(s not in ("queued", "running") for s in states):
                        break
                    time.sleep(0.05)

        loop = threading.Thread(target=reingest_loop)
        loop.start()
        out["search_during_ingest"] = wrk(base + "/api/v1/kbs/logistics/search", a.seconds, script=search)
        loop.join()
        out["search_during_ingest"]["ingest_jobs_run"] = jobs_run[0]
        out["search_p99_ratio_during_ingest"] = out["search_during_ingest"]["p99_ms"] / max(out["search"]["p99_ms"], 1e-9)
        # For comparison: a separate `wendao ingest` process (not the server's) forcing a full
        # re-ingest in a loop competes for the same two cores at normal priority.
        stop = time.time() + a.seconds
        ingest = subprocess.Popen(
            ["bash", "-c", f"while [ $(date +%s) -lt {int(stop)} ]; do {a.bin} ingest --kb logistics "
             f"{os.path.join(ROOT, 'Samples/logistics')} --exclude 'eval*' --force --data {data} >/dev/null 2>&1; done"])
        out["search_during_cli_ingest_process"] = wrk(base + "/api/v1/kbs/logistics/search", a.seconds, script=search)
        ingest.wait()
        if a.streams:
            rss_before = rss_mb(server.pid)
            out["streaming_clients"] = asyncio.run(streams(port, a.streams))
            out["streaming_clients"]["rss_mb_before"] = round(rss_before, 2)
            out["streaming_clients"]["rss_mb_after"] = round(rss_mb(server.pid), 2)
        # Soak: mixed traffic, RSS at start and end.
        out["rss_mb_start"] = rss_mb(server.pid)
        t_end = time.time() + a.soak
        rounds = 0
        targets = [("/api/v1/kbs/logistics/search", search), ("/api/v1/kbs/logistics/ask", ask), ("/ui/app.js", None)]
        rss_samples = []
        while time.time() < t_end:
            span = max(1, min(20, int(t_end - time.time())))
            path, script = targets[rounds % len(targets)]
            wrk(base + path, span, connections=16, script=script)
            rounds += 1
            rss_samples.append(round(rss_mb(server.pid), 2))
        out["rss_mb_samples"] = rss_samples
        out["soak_seconds"] = a.soak
        out["rss_mb_end"] = rss_mb(server.pid)
        print(json.dumps(out, indent=2, ensure_ascii=False))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
