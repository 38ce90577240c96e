#!/usr/bin/env python3
"""Turn a SQuAD-format file into a BEIR directory: each paragraph is a corpus document, each
question a query whose one relevant document is its paragraph. Used to run `wendao eval beir` and
the bm25s peer (`peer_bm25s.py`) on the same data.

Usage: scripts/squad_to_beir.py SQUAD.json OUT_DIR
"""
import json, os, sys

src, out = sys.argv[1], sys.argv[2]
data = json.load(open(src, encoding="utf-8"))["data"]
os.makedirs(os.path.join(out, "qrels"), exist_ok=True)
with open(os.path.join(out, "corpus.jsonl"), "w", encoding="utf-8") as c, \
     open(os.path.join(out, "queries.jsonl"), "w", encoding="utf-8") as q, \
     open(os.path.join(out, "qrels", "test.tsv"), "w", encoding="utf-8") as r:
    r.write("query-id\tcorpus-id\tscore\n")
    n = 0
    for a, art in enumerate(data):
        for p, para in enumerate(art["paragraphs"]):
            did = f"d{a}-{p}"
            c.write(json.dumps({"_id": did, "title": art.get("title", ""), "text": para["context"]}, ensure_ascii=False) + "\n")
            for qa in para["qas"]:
                n += 1
                qid = f"q{n}"
                q.write(json.dumps({"_id": qid, "text": qa["question"]}, ensure_ascii=False) + "\n")
                r.write(f"{qid}\t{did}\t1\n")
