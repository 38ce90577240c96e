#!/usr/bin/env bash
# Fuzzes the parsers with libFuzzer (recipe in DESIGN.md). Usage:
#   bash scripts/fuzz.sh TARGET [SECONDS]     (targets: swift run wendao-fuzz --list)
# Inputs that crash are saved under Tests/Fixtures/fuzz/TARGET/ (replayed by `swift test`); the
# corpus grows in $HOME/.cache/wendao-fuzz/corpus/TARGET, seeded from Tests/Fixtures/fuzz-seeds.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?target}"
seconds="${2:-300}"
scratch="${WENDAO_FUZZ_SCRATCH:-$HOME/.cache/wendao-fuzz/build}"
swift build -c debug --product wendao-fuzz --scratch-path "$scratch" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xswiftc -DWENDAO_LIBFUZZER >&2
corpus="$HOME/.cache/wendao-fuzz/corpus/$target"
crashes="Tests/Fixtures/fuzz/$target"
mkdir -p "$corpus" "$crashes"
# Seeds: files of the matching kind from the sample knowledge base and the test fixtures.
case "$target" in
  text) pattern='*.txt' ;; markdown) pattern='*.md' ;; html) pattern='*.htm*' ;; csv) pattern='*.csv' ;;
  json) pattern='*.json' ;; jsonl) pattern='*.jsonl' ;; svg) pattern='*.svg' ;; docx) pattern='*.docx' ;;
  xlsx) pattern='*.xlsx' ;; pptx) pattern='*.pptx' ;; epub) pattern='*.epub' ;; sniff) pattern='*' ;;
  robots) pattern='robots*.txt' ;; sitemap) pattern='*sitemap*.xml' ;; *) pattern='*.html' ;;
esac
# The server targets (multipart, router) take their own input format: seeds under fuzz-seeds/TARGET.
if [ -d "Tests/Fixtures/fuzz-seeds/$target" ]; then
  seeds=("Tests/Fixtures/fuzz-seeds/$target")
  pattern='*'
else
  seeds=(Samples Tests/Fixtures)
fi
find "${seeds[@]}" -type f -name "$pattern" -size -256k -not -path '*/fuzz/*' 2>/dev/null | head -200 \
  | while read -r f; do cp -n "$f" "$corpus/seed-$(sha1sum "$f" | cut -c1-12)" 2>/dev/null || true; done
export SWIFT_BACKTRACE=enable=no WENDAO_FUZZ_TARGET="$target"
"$scratch/debug/wendao-fuzz" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -max_len=262144 -artifact_prefix="$crashes/" -print_final_stats=1
