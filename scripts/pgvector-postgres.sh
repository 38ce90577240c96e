#!/usr/bin/env bash
# PostgreSQL 16.2 with pgvector 0.6.2 for the tests and the benchmarks, from PyPI's pgserver 0.1.4 wheel
# (Apache-2.0, https://github.com/orm011/pgserver; PostgreSQL is under the PostgreSQL licence, pgvector
# under its own PostgreSQL-style licence). Debian 12 packages no pgvector; this wheel's binaries are
# plain glibc executables that need only libc and zlib (libpq is bundled beside them).
#
# Fetched with pip download (any local Python: the wheel is chosen by --python-version/--platform),
# SHA-256 checked, unpacked outside the clone, and made readable by `nobody` (PostgreSQL refuses to run
# as root: the tests run it as `nobody`, which cannot enter root's home, so as root the tree goes to
# /var/cache/wendao). Already unpacked: nothing is downloaded. Prints the `bin` folder on success (for
# WENDAO_PG_BIN); exits non-zero with a message on stderr on any failure.
#
#   WENDAO_PG_BIN="$(bash scripts/pgvector-postgres.sh)"
#
# The binaries use AVX2 and FMA (an x86-64-v3 CPU), as pgvector's build does by default.
set -euo pipefail

version=0.1.4
wheel="pgserver-${version}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
sha256=d595789b47624a3d963aa9aa6359da9be31beb7e61f1a45541953242068b8813

if [ -n "${WENDAO_PGSERVER_DIR:-}" ]; then
  dest="$WENDAO_PGSERVER_DIR"
elif [ "$(id -u)" = 0 ]; then
  dest="/var/cache/wendao/pgserver-$version"
else
  dest="${XDG_CACHE_HOME:-$HOME/.cache}/wendao/pgserver-$version"
fi
bin="$dest/pgserver/pginstall/bin"

if [ -f "$dest/.sha256" ] && [ "$(cat "$dest/.sha256")" = "$sha256" ] && [ -x "$bin/postgres" ]; then
  echo "$bin"
  exit 0
fi

if [ "$(uname -m)" != x86_64 ]; then
  echo "pgvector-postgres: the pgserver $version wheel is for x86_64 only (this is $(uname -m))" >&2
  exit 1
fi

parent="$(dirname "$dest")"
mkdir -p "$parent"
work="$(mktemp -d "$parent/.pgserver-XXXXXX")"
trap 'rm -rf "$work"' EXIT

if ! python3 -m pip download --quiet --disable-pip-version-check "pgserver==$version" --no-deps \
  --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 -d "$work/dl" >&2; then
  echo "pgvector-postgres: pip download pgserver==$version failed" >&2
  exit 1
fi
got="$(sha256sum "$work/dl/$wheel" | cut -d' ' -f1)"
if [ "$got" != "$sha256" ]; then
  echo "pgvector-postgres: $wheel has SHA-256 $got, expected $sha256: refusing it" >&2
  exit 1
fi

# Only the PostgreSQL tree, its bundled libpq (found by the binaries at $ORIGIN/../../../pgserver.libs)
# and the wheel's licence; not the Python package.
python3 - "$work/dl/$wheel" "$work/tree" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist()
             if n.startswith(("pgserver/pginstall/", "pgserver.libs/")) or n.endswith(".dist-info/LICENSE")]
    z.extractall(out, names)
PY
chmod -R a+rX "$work/tree"
chmod a+rx "$work/tree/pgserver/pginstall/bin/"*
for f in postgres initdb pg_ctl psql; do
  [ -f "$work/tree/pgserver/pginstall/bin/$f" ] || { echo "pgvector-postgres: the wheel has no bin/$f" >&2; exit 1; }
done
[ -f "$work/tree/pgserver/pginstall/lib/postgresql/vector.so" ] \
  || { echo "pgvector-postgres: the wheel has no pgvector (lib/postgresql/vector.so)" >&2; exit 1; }
# Every library the binaries need must be on this system.
for f in postgres initdb pg_ctl psql; do
  if ldd "$work/tree/pgserver/pginstall/bin/$f" | grep -q 'not found'; then
    echo "pgvector-postgres: bin/$f needs libraries this system lacks:" >&2
    ldd "$work/tree/pgserver/pginstall/bin/$f" | grep 'not found' >&2
    exit 1
  fi
done
echo "$sha256" >"$work/tree/.sha256"
rm -rf "$dest"
mv "$work/tree" "$dest"
chmod a+rx "$parent"
echo "$bin"
