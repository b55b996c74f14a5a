#!/bin/sh
# Rebuild the SmartModule fixtures from src/ (Debian: apt-get install rustc libstd-rust-dev-wasm32 lld).
# The .wasm files are committed, so the tests need no compiler.
set -eu
cd "$(dirname "$0")"
RUSTC=${RUSTC:-/usr/bin/rustc}
for src in src/*.rs; do
    name=$(basename "$src" .rs)
    [ "$name" = sm ] && continue
    target=wasm32-unknown-unknown
    case "$name" in wasi_*) target=wasm32-wasi ;; esac
    "$RUSTC" --edition 2021 -C opt-level=s -C lto -C strip=symbols -C panic=abort --target "$target" --crate-type cdylib "$src" -o "$name.wasm"
done
for wat in src/*.wat; do
    [ -e "$wat" ] || continue
    "${PYTHON:-python3}" -c 'import sys, wasmtime; open(sys.argv[2], "wb").write(wasmtime.wat2wasm(open(sys.argv[1]).read()))' "$wat" "$(basename "$wat" .wat).wasm"
done
