#!/usr/bin/env python3
"""Benchmarks of the image studio (issue 20); prints JSON (figures go to BENCHMARKS.md).

A fake DashScope on loopback (started here; the same task shape the Swift tests and
scripts/images_browser_test.py fake) stands in for the provider: `POST …/image-synthesis` answers a task
id, `GET /api/v1/tasks/{id}` reports PENDING → RUNNING → SUCCEEDED after LATENCY seconds of "work", with
at most LIMIT tasks worked on at once (later ones wait PENDING in its queue, as DashScope's concurrency
limit does), and the result URL serves a PNG made here (512×384, distinct per task, so every record has
its own file and thumbnail).

  gallery  10,000 records made by `wendao image batch` (the real path: submitted, polled, downloaded,
           stored, thumbnailed), then `wendao serve` over them: a page of 50 (and a two-word search)
           timed server-side (the request log's `ms=`) and on the client, and the Images page opened in
           headless Chromium on loopback until its 50 grid thumbnails are shown (performance.now()).
  tasks    100 generate requests POSTed to `wendao serve` at once (each answered 202), the provider taking
           2 s per task: time until all 100 records are finished, the server's threads (idle, peak,
           after) from /proc, and the polls the provider saw.
  batch    1,000 CSV rows through `wendao image batch --concurrency N` against a provider limited to N
           tasks at once, each taking LATENCY: the elapsed time against the ideal rows × LATENCY / N.

Usage: python3 scripts/bench-images.py gallery|tasks|batch|all
Environment: WENDAO_BIN (default .build/release/wendao), CHROMIUM, CHROMEDRIVER (headless render),
BENCH_GALLERY_RECORDS (default 10000), BENCH_BATCH_ROWS (1000), BENCH_BATCH_LIMIT (10),
BENCH_BATCH_LATENCY (0.5).
"""
import heapq
import http.server
import json
import os
import re
import shutil
import socket
import socketserver
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.abspath(os.environ.get("WENDAO_BIN", os.path.join(ROOT, ".build/release/wendao")))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
MODEL = "dashscope:wanx2.1-t2i-turbo"


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


W, H = 512, 384
BASE_ROWS = [bytes(v for x in range(W) for v in ((x * 255) // W, (y * 255) // H, 128)) for y in range(H)]


def result_png(n):
    """A 512×384 RGB PNG whose first row encodes `n` (so each task's picture is a distinct file)."""
    first = bytearray(BASE_ROWS[0])
    first[0:8] = n.to_bytes(8, "big")
    raw = b"".join(b"\x00" + (bytes(first) if y == 0 else BASE_ROWS[y]) for y in range(H))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


class FakeDashScope:
    """DashScope's task API with a work time per task and a limit on tasks worked on at once."""

    def __init__(self, latency, limit):
        self.latency = latency
        self.limit = limit
        self.lock = threading.Lock()
        self.tasks = {}  # id → (start, finish) in monotonic seconds
        self.slots = [0.0] * limit  # when each worker is next free (a heap)
        self.polls = 0
        self.submits = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body, kind="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.monotonic()
                with fake.lock:
                    fake.submits += 1
                    tid = f"t-{fake.submits}"
                    free = heapq.heappop(fake.slots)
                    start = max(now, free)
                    heapq.heappush(fake.slots, start + fake.latency)
                    fake.tasks[tid] = (start, start + fake.latency)
                self.reply(200, json.dumps({"request_id": tid, "output": {"task_id": tid, "task_status": "PENDING"}}).encode())

            def do_GET(self):
                port = self.server.server_address[1]
                if self.path.startswith("/r/"):
                    n = int(self.path[len("/r/t-"):].split(".")[0])
                    return self.reply(200, result_png(n), "image/png")
                tid = self.path.rstrip("/").split("/")[-1]
                now = time.monotonic()
                with fake.lock:
                    fake.polls += 1
                    span = fake.tasks.get(tid)
                if span is None:
                    return self.reply(200, json.dumps({"output": {"task_id": tid, "task_status": "UNKNOWN"}}).encode())
                start, finish = span
                if now < start:
                    out = {"task_id": tid, "task_status": "PENDING"}
                elif now < finish:
                    out = {"task_id": tid, "task_status": "RUNNING"}
                else:
                    out = {"task_id": tid, "task_status": "SUCCEEDED",
                           "results": [{"url": f"http://127.0.0.1:{port}/r/{tid}.png"}]}
                self.reply(200, json.dumps({"request_id": "r", "output": out}).encode())

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self):
        return dict(os.environ, WENDAO_DASHSCOPE_BASE_URL=f"http://127.0.0.1:{self.port}/compatible-mode/v1",
                    DASHSCOPE_API_KEY="sk-bench-0123456789abcdef0123456789")

    def stop(self):
        self.server.shutdown()


def data_dir(poll_initial, poll_max):
    d = tempfile.mkdtemp(prefix="wendao-bench-images-")
    with open(os.path.join(d, "config.yaml"), "w", encoding="utf-8") as f:
        f.write("images:\n  download: { allow: ['127.0.0.1/32'] }\n"
                f"  poll: {{ initial: {poll_initial}, max: {poll_max} }}\n  task_timeout: 600\n")
    return d


WORDS = ["真丝连衣裙", "保温杯", "月饼礼盒", "帆布鞋", "蓝牙耳机", "羊毛围巾", "陶瓷茶具", "双肩包"]
SCENES = ["", "海边度假", "中秋节", "咖啡馆", "", "春节", "露营", ""]


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        f.write("name,description,scene\n")
        for i in range(rows):
            f.write(f"{WORDS[i % len(WORDS)]} {i},款式 {i % 97} 颜色 {i % 13},{SCENES[(i // 8) % len(SCENES)]}\n")


def batch(data, fake, rows, concurrency):
    csv = os.path.join(data, "products.csv")
    write_csv(csv, rows)
    started = time.monotonic()
    p = subprocess.run([BIN, "image", "batch", csv, "--model", MODEL, "--template", "auto", "--concurrency",
                        str(concurrency), "--data", data, "--json"], env=fake.env(), capture_output=True, text=True)
    seconds = time.monotonic() - started
    if p.returncode != 0:
        raise SystemExit(f"wendao image batch failed ({p.returncode}): {p.stderr[-2000:]}")
    report = json.loads(p.stdout)
    made = [m for m in report["made"] if m["status"] == "succeeded"]
    return seconds, len(made)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """`wendao serve` over a data directory (no keys: the UI and the API are open on loopback)."""

    def __init__(self, data, env=None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(data, "serve.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([BIN, "serve", "--port", str(self.port), "--data", data],
                                     env=dict(env or os.environ, WENDAO_LOG_LEVEL="info"),
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.1)
        raise SystemExit("wendao serve was not ready within 60 s")

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=60) as r:
            return json.loads(r.read())

    def post(self, path, body):
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())

    def threads(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        return 0

    def server_ms(self, path):
        """The handler times (`ms=`) the request log recorded for `path` (query values are logged as REDACTED)."""
        self.log.flush()
        out = []
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.search(r"ms=([\d.]+) path=(\S+)", line)
                if m and m.group(2) == path:
                    out.append(float(m.group(1)))
        return out

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def render_time(base, runs=3):
    """Milliseconds from navigation start until the Images page shows 50 grid thumbnails (best and each)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    hook = """
    window.__shown = null;
    const timer = setInterval(() => {
      const n = document.querySelectorAll('#images-grid img[src^="data:image/"]').length;
      if (n >= 50) { window.__shown = performance.now(); clearInterval(timer); }
    }, 5);
    """
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": hook})
    times = []
    try:
        for _ in range(runs):
            driver.get("about:blank")
            driver.get(base + "/#/images")
            WebDriverWait(driver, 60, poll_frequency=0.05).until(lambda d: d.execute_script("return window.__shown;"))
            times.append(round(driver.execute_script("return window.__shown;"), 1))
    finally:
        driver.quit()
    return {"best_ms": min(times), "runs_ms": times}


def bench_gallery():
    records = int(os.environ.get("BENCH_GALLERY_RECORDS", "10000"))
    fake = FakeDashScope(latency=0.0, limit=64)
    data = data_dir(0.05, 0.1)
    try:
        fill_seconds, made = batch(data, fake, records, 32)
        server = Served(data)
        try:
            total = server.get("/api/v1/images?limit=1")["total"]
            client = []
            for _ in range(20):
                t = time.monotonic()
                page = server.get("/api/v1/images?limit=50")
                client.append((time.monotonic() - t) * 1000)
                assert len(page["records"]) == 50
            search_client = []
            q = urllib.request.quote("保温杯 海边")
            for _ in range(5):
                t = time.monotonic()
                server.get(f"/api/v1/images?limit=50&query={q}")
                search_client.append((time.monotonic() - t) * 1000)
            thumbs = [f for r in page["records"] for f in r["files"] if f.get("thumbnail_path")]
            time.sleep(0.5)
            page_server = server.server_ms("/api/v1/images?limit=REDACTED")[1:]  # after the limit=1 call
            search_server = server.server_ms("/api/v1/images?limit=REDACTED&query=REDACTED")
            render = render_time(server.base)
        finally:
            server.stop()
    finally:
        fake.stop()
        shutil.rmtree(data, ignore_errors=True)
    return {
        "records": total, "made_by_batch": made, "fill_seconds": round(fill_seconds, 1),
        "page_of_50_server_ms": {"median": round(statistics.median(page_server), 1), "best": min(page_server)},
        "page_of_50_client_ms": {"median": round(statistics.median(client), 1), "best": round(min(client), 1)},
        "search_page_server_ms": {"median": round(statistics.median(search_server), 1)},
        "search_page_client_ms": {"median": round(statistics.median(search_client), 1)},
        "thumbnails_on_first_page": len(thumbs),
        "render_50_thumbnails": render,
    }


def bench_tasks():
    fake = FakeDashScope(latency=2.0, limit=1000)
    data = data_dir(0.2, 0.5)
    try:
        server = Served(data, env=fake.env())
        try:
            idle = server.threads()
            peak = idle
            samples = []
            done = threading.Event()

            def sample():
                nonlocal peak
                while not done.is_set():
                    n = server.threads()
                    samples.append(n)
                    peak = max(peak, n)
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(lambda i: server.post("/api/v1/images", {"prompt": f"白底 产品 {i}", "model": MODEL}),
                                        range(100)))
            accepted = time.monotonic() - started
            assert all(status == 202 for status, _ in answers), answers[:2]
            ids = {body["id"] for _, body in answers}
            while True:
                page = server.get("/api/v1/images?limit=100")
                finished = [r for r in page["records"] if r["id"] in ids and r["status"] not in ("submitting", "pending", "running")]
                if len(finished) == len(ids):
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            done.set()
            sampler.join()
            time.sleep(1)
            after = server.threads()
            succeeded = sum(1 for r in finished if r["status"] == "succeeded")
        finally:
            server.stop()
    finally:
        fake.stop()
        shutil.rmtree(data, ignore_errors=True)
    return {
        "tasks": 100, "succeeded": succeeded, "provider_seconds_per_task": 2.0, "poll": "0.2 s growing by half to 0.5 s",
        "all_accepted_202_seconds": round(accepted, 2), "all_finished_seconds": round(elapsed, 2),
        "provider_polls": fake.polls, "server_threads": {"idle": idle, "peak": peak, "after": after},
    }


def bench_batch():
    rows = int(os.environ.get("BENCH_BATCH_ROWS", "1000"))
    limit = int(os.environ.get("BENCH_BATCH_LIMIT", "10"))
    latency = float(os.environ.get("BENCH_BATCH_LATENCY", "0.5"))
    fake = FakeDashScope(latency=latency, limit=limit)
    data = data_dir(0.05, 0.1)
    try:
        seconds, made = batch(data, fake, rows, limit)
    finally:
        fake.stop()
        shutil.rmtree(data, ignore_errors=True)
    ideal = rows * latency / limit
    return {
        "rows": rows, "made": made, "provider_limit": limit, "latency_seconds": latency, "concurrency": limit,
        "poll": "0.05 s growing by half to 0.1 s", "elapsed_seconds": round(seconds, 1),
        "ideal_seconds": round(ideal, 1), "ratio": round(seconds / ideal, 2), "provider_polls": fake.polls,
    }


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what not in ("gallery", "tasks", "batch", "all"):
        raise SystemExit(__doc__)
    if not os.path.exists(BIN):
        raise SystemExit(f"no wendao binary at {BIN} (set WENDAO_BIN)")
    out = {"binary": BIN}
    if what in ("tasks", "all"):
        out["tasks"] = bench_tasks()
    if what in ("batch", "all"):
        out["batch"] = bench_batch()
    if what in ("gallery", "all"):
        out["gallery"] = bench_gallery()
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
