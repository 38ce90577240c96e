#!/usr/bin/env python3
"""Team-scale figures (issue 18): PostgreSQL against SQLite on this machine; prints JSON.

    python3 scripts/bench_team.py --bin PATH/release/wendao [--seconds 10] [--ingest-docs 1000]
        [--catchup-chunks 1000000] [--pgvector-vectors 100000] [--pgvector-ef 40,100,200]
        [--skip search,ingest,pgvector,catchup]

- search: requests/s and latency (wrk, 32 connections, 2 threads) for BM25, dense and hybrid on the
  sample knowledge base (Samples/logistics, e5-small) served by one server on SQLite, one server on
  PostgreSQL, and two servers on PostgreSQL behind nginx (docs/nginx-wendao.conf): same knowledge
  base, same load, everything (PostgreSQL, servers, nginx, wrk) on the same machine;
- ingest: `wendao ingest` of synthetic Markdown documents (BM25 only) into SQLite and into PostgreSQL;
- pgvector: `wendao bench pgvector` on a database of the same cluster: N synthetic clustered vectors
  (the generator of `wendao bench vectors`, 384 dimensions by default) stored as Wendao stores them,
  pgvector's HNSW index (what `--vector-search pgvector` searches) against Wendao's own HNSW index on
  the same vectors, recall@10 against the exact top 10 and queries/s for each ef_search;
- catch-up: a knowledge base of N synthetic chunks written into PostgreSQL with SQL (generate_series,
  a 5,000-word vocabulary, BM25 only: no vectors), then a server from an empty disk: the time to its
  first answer (it builds its index from the database), and its RSS afterwards.
"""
import argparse
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pg_cluster import Cluster, free_port  # noqa: E402
from bench_server import lua_post, rss_mb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def wrk(url, seconds, script, connections=32):
    out = subprocess.run(["wrk", "-s", script, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return round(v / 1000 if unit == "us" else v * 1000 if unit == "s" else v, 2)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_second": rps, "p50_ms": pct(50), "p99_ms": pct(99),
            "non_2xx": int(errors.group(1)) if errors else 0}


def serve(binary, data, database=None, env=None):
    port = free_port()
    argv = [binary, "serve", "--port", str(port), "--data", data]
    if database:
        argv += ["--database", database]
    e = dict(os.environ, WENDAO_LOG_LEVEL="error", **(env or {}))
    e.pop("WENDAO_DATABASE_URL", None)
    p = subprocess.Popen(argv, env=e, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        if p.poll() is not None:
            raise SystemExit(f"serve exited: {argv}")
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            return p, base, port
        except Exception:
            time.sleep(0.1)
    raise SystemExit("server not ready")


def post(base, path, body, timeout=600):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed: {r.stderr[-600:]}")
    return r


def start_nginx(upstreams):
    d = tempfile.mkdtemp(prefix="wendao-bench-nginx-")
    port = free_port()
    conf = open(os.path.join(ROOT, "docs", "nginx-wendao.conf")).read()
    conf = conf.replace("        server 10.0.0.11:8080 max_fails=1 fail_timeout=2s;\n"
                        "        server 10.0.0.12:8080 max_fails=1 fail_timeout=2s;",
                        "\n".join(f"        server {u} max_fails=1 fail_timeout=2s;" for u in upstreams))
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    temps = "".join(f"    {k}_temp_path {d}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = conf.replace("http {\n", "http {\n" + temps + "    access_log off;\n", 1)
    path = os.path.join(d, "nginx.conf")
    with open(path, "w") as f:
        f.write(f"daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
                "events { worker_connections 1024; }\n" + conf)
    argv = [shutil.which("nginx") or "/usr/sbin/nginx", "-e", f"{d}/error.log", "-p", d, "-c", path]
    if os.getuid() == 0:
        os.chown(d, 65534, 65534)
        argv = ["/usr/sbin/runuser", "-u", "nobody", "--"] + argv
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return p, base, d
        except Exception:
            time.sleep(0.1)
    raise SystemExit("nginx did not start")


def search_bench(binary, cluster, seconds):
    out = {"connections": 32, "seconds": seconds, "query": "冷链 温度 保价"}
    sample = os.path.join(ROOT, "Samples/logistics")
    sqlite_dir = tempfile.mkdtemp(prefix="wendao-bench-sqlite-")
    run([binary, "kb", "create", "logistics", "--embedder", "e5-small", "--data", sqlite_dir])
    run([binary, "ingest", "--kb", "logistics", sample, "--exclude", "eval*", "--data", sqlite_dir])
    url = cluster.make_database("bench_search")
    pg_dirs = [tempfile.mkdtemp(prefix="wendao-bench-pg-") for _ in range(2)]
    run([binary, "kb", "create", "logistics", "--embedder", "e5-small", "--database", url, "--data", pg_dirs[0]])
    run([binary, "ingest", "--kb", "logistics", sample, "--exclude", "eval*", "--database", url,
         "--data", pg_dirs[0]])
    scripts = {m: lua_post("/api/v1/kbs/logistics/search", {"query": out["query"], "top_k": 10, "mode": m})
               for m in ("bm25", "dense", "hybrid")}

    def measure(base):
        res = {}
        for m, s in scripts.items():
            post(base, "/api/v1/kbs/logistics/search", {"query": out["query"], "top_k": 10, "mode": m})
            wrk(base + "/api/v1/kbs/logistics/search", 2, s)  # warm-up
            res[m] = wrk(base + "/api/v1/kbs/logistics/search", seconds, s)
        return res

    procs = []
    try:
        p, base, _ = serve(binary, sqlite_dir)
        procs.append(p)
        out["sqlite_one_server"] = measure(base)
        out["sqlite_one_server"]["rss_mb"] = round(rss_mb(p.pid), 1)
        p.terminate()
        p.wait()
        procs.clear()
        servers = [serve(binary, d, url) for d in pg_dirs]
        procs += [s[0] for s in servers]
        out["postgres_one_server"] = measure(servers[0][1])
        ng, nbase, ndir = start_nginx([f"127.0.0.1:{s[2]}" for s in servers])
        procs.append(ng)
        out["postgres_two_servers_nginx"] = measure(nbase)
        out["postgres_two_servers_nginx"]["rss_mb_each"] = [round(rss_mb(s[0].pid), 1) for s in servers]
        for m in scripts:
            out.setdefault("ratios_postgres_one_to_sqlite", {})[m] = {
                "rps": round(out["postgres_one_server"][m]["requests_per_second"]
                             / out["sqlite_one_server"][m]["requests_per_second"], 2),
                "p99": round(out["postgres_one_server"][m]["p99_ms"] / out["sqlite_one_server"][m]["p99_ms"], 2)}
            out.setdefault("ratios_postgres_two_to_sqlite", {})[m] = {
                "rps": round(out["postgres_two_servers_nginx"][m]["requests_per_second"]
                             / out["sqlite_one_server"][m]["requests_per_second"], 2),
                "p99": round(out["postgres_two_servers_nginx"][m]["p99_ms"] / out["sqlite_one_server"][m]["p99_ms"],
                             2)}
        shutil.rmtree(ndir, ignore_errors=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except Exception:
                p.kill()
        for d in [sqlite_dir] + pg_dirs:
            shutil.rmtree(d, ignore_errors=True)
    return out


def ingest_bench(binary, cluster, docs):
    rng = random.Random(7)
    vocab = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9))) for _ in range(5000)]
    src = tempfile.mkdtemp(prefix="wendao-bench-docs-")
    total_bytes = 0
    for i in range(docs):
        parts = [f"# Document {i}\n"]
        for s in range(8):
            parts.append(f"## Section {s}\n\n" + " ".join(rng.choice(vocab) for _ in range(120)) + ".\n")
        text = "\n".join(parts)
        total_bytes += len(text)
        with open(os.path.join(src, f"doc-{i:05d}.md"), "w") as f:
            f.write(text)
    out = {"documents": docs, "megabytes": round(total_bytes / 1e6, 2)}
    sqlite_dir = tempfile.mkdtemp(prefix="wendao-bench-sqlite-")
    pg_dir = tempfile.mkdtemp(prefix="wendao-bench-pg-")
    url = cluster.make_database("bench_ingest")
    try:
        for name, extra, data in (("sqlite", [], sqlite_dir), ("postgres", ["--database", url], pg_dir)):
            t0 = time.time()
            r = run([binary, "ingest", "--kb", "synth", "--create", src, "--data", data, "--json"] + extra)
            took = time.time() - t0
            chunks = sum(x.get("chunks", 0) for x in json.loads(r.stdout).get("results", [])) \
                if r.stdout.strip().startswith("{") else None
            out[name] = {"seconds": round(took, 2), "documents_per_second": round(docs / took, 1),
                         "chunks": chunks, "chunks_per_second": round(chunks / took, 1) if chunks else None}
        out["ratio_postgres_to_sqlite_seconds"] = round(out["postgres"]["seconds"] / out["sqlite"]["seconds"], 2)
    finally:
        for d in (src, sqlite_dir, pg_dir):
            shutil.rmtree(d, ignore_errors=True)
    return out


def pgvector_bench(binary, cluster, vectors, efs, queries=200):
    url = cluster.make_database("bench_pgvector")
    data = tempfile.mkdtemp(prefix="wendao-bench-pgvector-")
    try:
        t0 = time.time()
        r = run([binary, "bench", "pgvector", "--database", url, "--data", data, "--count", str(vectors),
                 "--dim", "384", "--queries", str(queries), "--ef", f"{max(map(int, efs.split(',')))},{efs}", "--keep"])
        out = json.loads(r.stdout)
        # The first sweep point is a warm-up (a fresh index is not yet in PostgreSQL's cache: the first
        # pass over the queries measured 28 queries/s where a warm one gives 300): kept apart.
        for side in ("pgvector", "wendao"):
            out[side]["warm_up"] = out[side]["sweep"].pop(0)
        out["wall_seconds"] = round(time.time() - t0, 1)
        out["sizes"] = dict(zip(("chunk_vector_table", "hnsw_index"), cluster.psql(
            "SELECT pg_size_pretty(pg_table_size('chunk_vector')) || '|' || (SELECT pg_size_pretty("
            "pg_relation_size(indexname::regclass)) FROM pg_indexes WHERE indexname LIKE 'chunk_vector_hnsw_kb%')",
            "bench_pgvector").split("|")))
        return out
    finally:
        shutil.rmtree(data, ignore_errors=True)


def catchup_bench(binary, cluster, chunks):
    url = cluster.make_database("bench_catchup")
    data = tempfile.mkdtemp(prefix="wendao-bench-catchup-")
    try:
        run([binary, "kb", "create", "big", "--database", url, "--data", data])
        per_doc = 100
        docs = max(1, chunks // per_doc)
        rng = random.Random(11)
        vocab = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9))) for _ in range(5000)]
        arr = "ARRAY[" + ",".join(f"'{w}'" for w in vocab) + "]"
        t0 = time.time()
        kb_id = cluster.psql("SELECT id FROM kb WHERE name = 'big'", "bench_catchup")
        cluster.psql(f"""
            INSERT INTO document (kb_id, path, title, format, content_hash, byte_count, chunk_count, ingested_at)
            SELECT {kb_id}, 'synthetic/doc-' || g || '.md', 'doc ' || g, 'markdown', md5(g::text), 40000, {per_doc},
                   extract(epoch from now())
            FROM generate_series(1, {docs}) g""", "bench_catchup")
        # 5,000 sentences of 30 words; a chunk is two of them (25 million pairs), joined by key.
        cluster.psql(f"""
            CREATE TABLE bench_sentence AS
            SELECT i, (SELECT string_agg(({arr})[1 + ((hashint8(i::bigint * 1000003 + k) & 2147483647) % 5000)], ' ')
                       FROM generate_series(1, 30) k) AS s
            FROM generate_series(0, 4999) i;
            CREATE UNIQUE INDEX ON bench_sentence(i);
            ANALYZE bench_sentence;""", "bench_catchup")
        cluster.psql(f"""
            INSERT INTO chunk (document_id, kb_id, ordinal, section, text, start_offset, end_offset)
            SELECT d.id, {kb_id}, o, 'Section ' || o, s1.s || ' ' || s2.s, o * 400, o * 400 + 399
            FROM document d CROSS JOIN generate_series(0, {per_doc - 1}) o
            JOIN bench_sentence s1 ON s1.i = (d.id * 7 + o) % 5000
            JOIN bench_sentence s2 ON s2.i = (d.id * 13 + o * 3 + 1) % 5000
            WHERE d.kb_id = {kb_id};
            DROP TABLE bench_sentence;
            -- As for a knowledge base whose change log no longer reaches back to generation 0: a new
            -- server compares chunk ids with the store and indexes every chunk.
            UPDATE kb SET generation = generation + 1, log_floor = generation + 1 WHERE id = {kb_id};""",
                     "bench_catchup")
        written = int(cluster.psql(f"SELECT count(*) FROM chunk WHERE kb_id = {kb_id}", "bench_catchup"))
        load_s = time.time() - t0
        size = cluster.psql("SELECT pg_size_pretty(pg_database_size('bench_catchup'))")
        empty = tempfile.mkdtemp(prefix="wendao-bench-empty-")
        t1 = time.time()
        p, base, _ = serve(binary, empty, url)
        ready = time.time() - t1
        query = " ".join(vocab[:3])
        t2 = time.time()
        hits = post(base, "/api/v1/kbs/big/search", {"query": query, "top_k": 10}, timeout=3600)["results"]
        first = time.time() - t2
        lat = []
        for i in range(50):
            q = " ".join(rng.choice(vocab) for _ in range(3))
            t = time.time()
            post(base, "/api/v1/kbs/big/search", {"query": q, "top_k": 10})
            lat.append((time.time() - t) * 1000)
        lat.sort()
        rss = rss_mb(p.pid)
        p.terminate()
        p.wait(timeout=60)
        index_mb = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(empty) for f in fs) / 1e6
        shutil.rmtree(empty, ignore_errors=True)
        return {"chunks": written, "documents": docs, "sql_load_seconds": round(load_s, 1), "database_size": size,
                "server_ready_seconds": round(ready, 2), "first_search_seconds_catch_up": round(first, 2),
                "first_search_hits": len(hits), "bm25_search_p50_ms": round(lat[len(lat) // 2], 2),
                "bm25_search_max_ms_of_50": round(lat[-1], 2), "rss_mb_after": round(rss, 1),
                "index_files_mb": round(index_mb, 1)}
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release/wendao"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--ingest-docs", type=int, default=1000)
    ap.add_argument("--catchup-chunks", type=int, default=1_000_000)
    ap.add_argument("--pgvector-vectors", type=int, default=100_000)
    ap.add_argument("--pgvector-ef", default="40,100,200")
    ap.add_argument("--skip", default="")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    binary = os.path.abspath(a.bin)
    # maintenance_work_mem: pgvector builds an HNSW graph in memory while it fits (100,000 × 384 does in 1 GB).
    cluster = Cluster(extra_settings=("shared_buffers=256MB", "synchronous_commit=on", "maintenance_work_mem=1GB"))
    out = {"cpus": os.cpu_count(), "postgres": cluster.bin}
    try:
        if "search" not in skip:
            out["search"] = search_bench(binary, cluster, a.seconds)
        if "ingest" not in skip:
            out["ingest"] = ingest_bench(binary, cluster, a.ingest_docs)
        if "pgvector" not in skip:
            out["pgvector"] = pgvector_bench(binary, cluster, a.pgvector_vectors, a.pgvector_ef)
        if "catchup" not in skip:
            out["catch_up"] = catchup_bench(binary, cluster, a.catchup_chunks)
    finally:
        cluster.close()
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
