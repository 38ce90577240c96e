#!/usr/bin/env bash
# The project's own evaluation gate: the sample suite (Samples/logistics/eval-suite.yaml: the extractive
# answerer and two prompts of an openai: model) against a deterministic fake OpenAI-compatible server
# (scripts/fake_openai_server.py), compared with the committed baseline; exits 1 naming the metric and the
# questions when a metric drops by more than 0.02. The HTML report goes to /tmp/wendao-artifacts.
#
#   bash scripts/eval-gate.sh                    # the gate (scripts/test.sh runs it)
#   bash scripts/eval-gate.sh --write-baseline   # after an intended change: write a new baseline
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${WENDAO_BIN:-${WENDAO_SCRATCH:-$HOME/.cache/wendao-ci}/debug/wendao}"
baseline=Tests/Fixtures/eval/logistics-guard-baseline.json
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
python3 scripts/fake_openai_server.py >"$work/port" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port="$(head -1 "$work/port")"
export WENDAO_DATA="$work/data" OPENAI_BASE_URL="http://127.0.0.1:$port/v1"
unset OPENAI_API_KEY WENDAO_OPENAI_API_KEY WENDAO_MODEL WENDAO_CONFIG
"$bin" ingest --kb logistics --create Samples/logistics --exclude "eval*" >/dev/null
mkdir -p /tmp/wendao-artifacts
if [ "${1:-}" = "--write-baseline" ]; then
  "$bin" eval run Samples/logistics/eval-suite.yaml --json --html /tmp/wendao-artifacts/eval-report.html >"$work/run.json"
  # Kept small: the passages' texts are left out (the gate compares metrics per question).
  mkdir -p "$(dirname "$baseline")"
  python3 - "$work/run.json" "$baseline" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for q in report["questions"]:
    for r in q["results"].values():
        r["sources"] = []
        r["retrieved"] = []
report["results_file"] = ""
json.dump(report, open(sys.argv[2], "w"), ensure_ascii=False, indent=1, sort_keys=True)
PY
  echo "baseline written: $baseline"
else
  "$bin" eval run Samples/logistics/eval-suite.yaml --baseline "$baseline" --max-drop 0.02 \
    --html /tmp/wendao-artifacts/eval-report.html
fi
