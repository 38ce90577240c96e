#!/usr/bin/env python3
"""Wendao against its peers, in one run, on this machine.

Runs each peer script from ../shared/bench and the matching `wendao` benchmark alternately, keeps
the best of --repeats runs for each, and prints one JSON object with the figures and the ratios
(Wendao ÷ peer, or peer ÷ Wendao for times, so that > 1 always means Wendao is better).

Needs: a release build (`swift build -c release`) and the peers' Python packages
(`pip install bm25s jieba tantivy numba PyStemmer`).

Usage: scripts/bench.py [--repeats 2] [--sizes 50000 500000] [--skip-synthetic] [--skip-quality]
"""
import argparse, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
BENCH = os.path.join(SHARED, "bench")
DATA = os.path.join(SHARED, "data")
WENDAO = os.path.join(ROOT, ".build", "release", "wendao")
ANCHOR = "/tmp/perf_anchor_data"


def run_json(cmd, last_line=True):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.strip().startswith("{")]
    return json.loads(lines[-1] if last_line else lines[0]) if lines else {}


def run_json_lines(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(l) for l in out.splitlines() if l.strip().startswith("{")]


def best(runs, key, higher=True):
    vals = [r[key] for r in runs if key in r]
    return (max if higher else min)(vals)


def synthetic(sizes, repeats):
    out = {}
    for n in sizes:
        bm, tv, wd = [], [], []
        for _ in range(repeats):
            lines = run_json_lines([sys.executable, f"{BENCH}/peer_bm25s_synthetic.py", str(n)])
            bm += [l for l in lines if l.get("n_docs") == n]
            wd.append(run_json([WENDAO, "bench", "bm25", "--corpus", f"{ANCHOR}/corpus_{n}.txt",
                                "--queries", f"{ANCHOR}/queries_{n}.txt", "--top-k", "10"]))
            lines = run_json_lines([sys.executable, f"{BENCH}/peer_tantivy_synthetic.py", str(n)])
            tv += [l for l in lines if l.get("n_docs") == n]
        w = {
            "index_docs_per_second": best(wd, "index_docs_per_second"),
            "queries_per_second": best(wd, "queries_per_second"),
            "p50_ms": best(wd, "p50_ms", higher=False),
            "p99_ms": best(wd, "p99_ms", higher=False),
            "peak_rss_mb": best(wd, "peak_rss_mb", higher=False),
        }
        b = {
            "index_docs_per_second": best(bm, "numba_tok+index_docs_per_s"),
            "index_only_docs_per_second": best(bm, "numba_index_docs_per_s"),
            "batch_qps_1t": best(bm, "numba_batch_qps_1t"),
            "p50_ms": best(bm, "numba_single_p50_ms", higher=False),
            "p99_ms": best(bm, "numba_single_p99_ms", higher=False),
            "peak_rss_mb": best(bm, "peak_rss_mb", higher=False),
        }
        t = {
            "index_docs_per_second_1t": best(tv, "index_1t_docs_per_s"),
            "queries_per_second": best(tv, "topk_qps_1t"),
            "p50_ms": best(tv, "topk_p50_ms", higher=False),
            "p99_ms": best(tv, "topk_p99_ms", higher=False),
            "peak_rss_mb": best(tv, "peak_rss_mb", higher=False),
        }
        out[str(n)] = {
            "wendao": w, "bm25s_numba": b, "tantivy": t,
            "ratios": {
                "p50_vs_bm25s": round(b["p50_ms"] / w["p50_ms"], 2),
                "qps_vs_bm25s_batch": round(w["queries_per_second"] / b["batch_qps_1t"], 2),
                "p50_vs_tantivy": round(t["p50_ms"] / w["p50_ms"], 2),
                "qps_vs_tantivy": round(w["queries_per_second"] / t["queries_per_second"], 2),
                "index_vs_bm25s_tok+index": round(w["index_docs_per_second"] / b["index_docs_per_second"], 2),
                "index_vs_tantivy_1t": round(w["index_docs_per_second"] / t["index_docs_per_second_1t"], 2),
                "rss_tantivy_over_wendao": round(t["peak_rss_mb"] / w["peak_rss_mb"], 2),
            },
        }
    return out


def quality(repeats):
    out = {}
    tmp = tempfile.mkdtemp(prefix="wendao-bench-")
    for name in ("cmrc2018_trial", "drcd_dev"):
        f = f"{DATA}/{name}.json"
        peers = {}
        for tok in ("bigram", "jieba"):
            runs = [run_json([sys.executable, f"{BENCH}/peer_context_hit.py", f, "--tokenizer", tok])
                    for _ in range(repeats)]
            peers[tok] = {"context_hit": runs[0]["context_hit"],
                          "index_seconds": best(runs, "index_seconds", higher=False),
                          "qps": best(runs, "qps")}
        ours = [run_json([WENDAO, "eval", "squad", f, "--budget-chars", "600", "--json"]) for _ in range(repeats)]
        w = dict(ours[0])
        w["index_seconds"] = best(ours, "index_seconds", higher=False)
        w["queries_per_second"] = best(ours, "queries_per_second")
        beir = os.path.join(tmp, name)
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "squad_to_beir.py"), f, beir], check=True)
        beir_peer = {tok: run_json([sys.executable, f"{BENCH}/peer_bm25s.py", beir, "--tokenizer", tok])
                     for tok in ("bigram", "jieba")}
        beir_ours = run_json([WENDAO, "eval", "beir", beir, "--json"])
        strongest = max(peers.values(), key=lambda p: p["context_hit"])
        out[name] = {
            "wendao_squad": w, "peer_context_hit": peers,
            "wendao_beir": beir_ours, "peer_beir": beir_peer,
            "ratios": {
                "context_hit_points_vs_strongest_peer": round(100 * (w["context_hit"] - strongest["context_hit"]), 2),
                "index_speed_vs_jieba_peer": round(peers["jieba"]["index_seconds"] / w["index_seconds"], 2),
                "ndcg10_points_vs_bigram_peer": round(100 * (beir_ours["ndcg@10"] - beir_peer["bigram"]["ndcg@10"]), 2),
            },
        }
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="*", default=[50000, 500000])
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(WENDAO):
        sys.exit("build first: swift build -c release")
    res = {"machine": {"cpus": os.cpu_count()}}
    if not a.skip_quality:
        res["quality"] = quality(a.repeats)
    if not a.skip_synthetic:
        res["synthetic"] = synthetic(a.sizes, a.repeats)
    print(json.dumps(res, indent=1, ensure_ascii=False))


main()
