#!/usr/bin/env python3
"""Two builds of Wendao side by side, in the same minutes: BM25 (index and query), server search
and extractive ask under load (wrk), and a local embedding model. Runs each benchmark alternately
(old, new, old, new…), keeps the best of --repeats for each build, and prints one JSON object with
both figures and new ÷ old (for times old ÷ new), so > 1 means the new build is faster.

    scripts/bench-compare.py --old /tmp/wendao-before --new .build/release/wendao [--repeats 2]

Both binaries must be release builds. Needs wrk (Debian) for the server figures, the e5-small model
(`wendao models pull e5-small`), and ../shared/data and ../shared/bench/texts_zh.txt.
"""
import argparse, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))


def last_json(cmd):
    """The last JSON object a command prints (one line, or indented over several)."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    decoder, objects, i = json.JSONDecoder(), [], 0
    while (i := out.find("{", i)) >= 0:
        try:
            obj, end = decoder.raw_decode(out, i)
            objects.append(obj)
            i = end
        except ValueError:
            i += 1
    return objects[-1]


def corpus(dir):
    """A BM25 corpus and queries from the CMRC trial set's contexts and questions."""
    src = os.path.join(SHARED, "data", "cmrc2018_trial.json")
    data = json.load(open(src, encoding="utf-8"))["data"]
    docs, queries = [], []
    for art in data:
        for p in art["paragraphs"]:
            docs.append(p["context"].replace("\n", " "))
            queries += [q["question"].replace("\n", " ") for q in p["qas"]]
    c, q = os.path.join(dir, "corpus.txt"), os.path.join(dir, "queries.txt")
    open(c, "w", encoding="utf-8").write("\n".join(docs) + "\n")
    open(q, "w", encoding="utf-8").write("\n".join(queries) + "\n")
    return c, q


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=8)
    args = ap.parse_args()
    bins = {"old": args.old, "new": args.new}
    runs = {k: {"bm25": [], "embed": [], "server": []} for k in bins}
    with tempfile.TemporaryDirectory() as tmp:
        c, q = corpus(tmp)
        texts = os.path.join(SHARED, "bench", "texts_zh.txt")
        for _ in range(args.repeats):
            for name, b in bins.items():
                runs[name]["bm25"].append(last_json([b, "bench", "bm25", "--corpus", c, "--queries", q, "--json"]))
                runs[name]["embed"].append(
                    last_json([b, "bench", "embed", "--embedder", "e5-small", "--texts", texts, "--json"]))
                runs[name]["server"].append(last_json([
                    sys.executable, os.path.join(ROOT, "scripts", "bench_server.py"), "--bin", b,
                    "--seconds", str(args.seconds), "--soak", "0", "--streams", "0"]))
    out = {"repeats": args.repeats, "old": {}, "new": {}, "ratio_new_over_old": {}}

    def pick(name, kind, key, higher):
        vals = [r[key] for r in runs[name][kind] if isinstance(r.get(key), (int, float))]
        return (max if higher else min)(vals) if vals else None

    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out[prefix + k] = v
        return out

    for name in runs:
        for kind in runs[name]:
            runs[name][kind] = [flat(r) for r in runs[name][kind]]

    def numeric_keys(kind):
        return list(runs["old"][kind][0].keys())

    for kind in ("bm25", "embed", "server"):
        for key in numeric_keys(kind):
            lower_better = any(t in key for t in ("_ms", "seconds", "latency", "p50", "p95", "p99", "rss", "_mb", "non_2xx", "ratio"))
            o, n = pick("old", kind, key, not lower_better), pick("new", kind, key, not lower_better)
            out["old"][f"{kind}.{key}"], out["new"][f"{kind}.{key}"] = o, n
            if o and n:
                out["ratio_new_over_old"][f"{kind}.{key}"] = round((o / n) if lower_better else (n / o), 3)
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
