#!/usr/bin/env bash
# Records what the CLI (--json) and the HTTP API answer on the bundled sample knowledge base, with
# the values that change from run to run (times, durations, temporary paths, keys) masked, so two
# builds can be compared byte for byte:
#
#   WENDAO_BIN=old/wendao scripts/snapshot-outputs.sh /tmp/before
#   WENDAO_BIN=new/wendao scripts/snapshot-outputs.sh /tmp/after
#   diff -r /tmp/before /tmp/after
#
# Needs python3 and curl. The server listens on a free loopback port with an admin key.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: snapshot-outputs.sh OUTDIR}"
bin="${WENDAO_BIN:?set WENDAO_BIN to the wendao binary}"
rm -rf "$out"
mkdir -p "$out/cli" "$out/api"
data="$(mktemp -d)"
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$data"' EXIT

# Masks volatile values: times, durations, the data directory, ids of keys.
mask() {
  python3 -c '
import json, re, sys
data = sys.argv[1]
VOLATILE = re.compile(r"(_at|_ms|_seconds|seconds|elapsed|took|duration|latency|created|updated|last_used|timings?|time|per_second)$")
def walk(v, key=""):
    if isinstance(v, dict):
        return {k: ("<masked>" if VOLATILE.search(k) and not isinstance(x, (dict, list)) else walk(x, k)) for k, x in v.items()}
    if isinstance(v, list):
        return [walk(x, key) for x in v]
    if isinstance(v, str):
        v = v.replace(data, "<data>")
        v = re.sub(r"chatcmpl-[0-9a-f]+", "chatcmpl-<id>", v)
        return re.sub(r"wd_[A-Za-z0-9_\-]{16,}", "<key>", v)
    return v
text = sys.stdin.read()
lines = []
for line in text.splitlines():
    try:
        lines.append(json.dumps(walk(json.loads(line)), ensure_ascii=False, sort_keys=True))
    except ValueError:
        lines.append(line.replace(data, "<data>"))
print("\n".join(lines))
' "$data"
}

cli() {
  local name="$1"
  shift
  local rc=0
  "$bin" "$@" --data "$data" --json 2>/dev/null | mask >"$out/cli/$name.json" || rc=$?
  echo "exit $rc" >>"$out/cli/$name.json"
}

cli kb-create kb create logistics
cli ingest ingest --kb logistics Samples/logistics --exclude "eval*"
cli kb-list kb list
cli kb-show kb show logistics
cli kb-set kb set logistics --k1 1.3
cli docs-list docs list --kb logistics
cli search-zh search --kb logistics "冷链 温度" --top-k 5
cli search-en search --kb logistics "Can I send a power bank by air?" --top-k 5
cli search-budget search --kb logistics "保价费" --top-k 5 --budget-chars 600
cli ask-zh ask --kb logistics "保价费怎么收？"
cli ask-en ask --kb logistics "How do I track my parcel?"
cli ask-none ask --kb logistics "公司的股票代码是多少？"
cli doctor doctor --kb logistics
cli eval-answers eval answers --kb logistics Samples/logistics/eval.jsonl
cli kb-missing kb show nothing-here
cli kb-bad-set kb set logistics --chunk-size 5
cli models models list
cli embedders models embedders
cli kb-bad-retrieval kb set logistics --retrieval fuzzy
cli kb-bad-fusion kb set logistics --fusion max
cli kb-bad-model kb set logistics --model nosuchprovider:x
cli kb-bad-cjk kb create other --cjk-mode trigram

# The API, on a server with an admin key.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export WENDAO_ADMIN_KEY="snapshot-admin-key-0123456789abcdef"
"$bin" serve --data "$data" --port "$port" >/dev/null 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
api() {
  local name="$1" method="$2" path="$3" body="${4:-}"
  local args=(-s -X "$method" -H "Authorization: Bearer $WENDAO_ADMIN_KEY" -w '\nstatus %{http_code}\n')
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data "$body")
  curl "${args[@]}" "http://127.0.0.1:$port$path" | mask >"$out/api/$name.json" || true
}
api kbs GET /api/v1/kbs
api kb GET /api/v1/kbs/logistics
api kb-create POST /api/v1/kbs '{"name":"客服知识库","chunk_size":300}'
api kb-zh GET /api/v1/kbs/%E5%AE%A2%E6%9C%8D%E7%9F%A5%E8%AF%86%E5%BA%93
api kb-patch PATCH /api/v1/kbs/logistics '{"k1":1.25,"fusion":"rrf"}'
api kb-patch-bad PATCH /api/v1/kbs/logistics '{"retrieval":"fuzzy"}'
api kb-patch-bad-fusion PATCH /api/v1/kbs/logistics '{"fusion":"max"}'
api kb-patch-bad-model PATCH /api/v1/kbs/logistics '{"model":"nosuchprovider:x"}'
api kb-patch-bad-ocr PATCH /api/v1/kbs/logistics '{"ocr_languages":["../x"]}'
api kb-create-bad-cjk POST /api/v1/kbs '{"name":"y","cjk_mode":"trigram"}'
api kb-create-bad POST /api/v1/kbs '{"name":"x","chunk_size":3}'
api docs GET /api/v1/kbs/logistics/documents
api search POST /api/v1/kbs/logistics/search '{"query":"冷链 温度","top_k":5}'
api search-dense POST /api/v1/kbs/logistics/search '{"query":"冷链","mode":"dense"}'
api ask POST /api/v1/kbs/logistics/ask '{"question":"保价费怎么收？"}'
api ask-stream POST /api/v1/kbs/logistics/ask '{"question":"保价费怎么收？","stream":true}'
api ask-none POST /api/v1/kbs/logistics/ask '{"question":"公司的股票代码是多少？"}'
api chunk GET /api/v1/kbs/logistics/chunks/1
api keys GET /api/v1/keys
api models GET /v1/models
api chat POST /v1/chat/completions '{"model":"kb:logistics","messages":[{"role":"user","content":"保价费怎么收？"}]}'
api missing GET /api/v1/kbs/nothing-here
api health GET /healthz
echo "snapshot written to $out"
