#!/usr/bin/env bash
# The page as it ships: trunk's build in the `web` cargo profile (opt-level s, fat LTO, stripped;
# WebAssembly SIMD from .cargo/config.toml), then binaryen's wasm-opt -Oz from npm (Debian's
# binaryen breaks the module, ../shared/TOOLCHAIN.md), with the integrity hashes of index.html
# brought up to date. Writes dist-release/ (or $1) and prints what a first visit downloads.
# CI tests the dev build of the same code (`trunk build`); this one takes ~30 minutes cold on
# 2 cores (the worker's fat-LTO link alone ~8). Usage: bash web/release.sh [DIST]
set -euo pipefail
cd "$(dirname "$0")/.."
DIST="${1:-dist-release}"
BINARYEN=binaryen@132
# The features rustc's wasm32 target emits, and SIMD; never --all-features: binaryen then
# writes encodings (compact imports, stringref) browsers refuse.
FEATURES=(--enable-bulk-memory --enable-multivalue --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext --enable-simd)

trunk build --offline --cargo-profile web --dist "$DIST"
for wasm in "$DIST"/*.wasm; do
  before=$(stat -c %s "$wasm")
  old=$(openssl dgst -sha384 -binary "$wasm" | base64 -w0)
  # --converge: -Oz again while the module still shrinks (a second pass alone took 9 KB
  # gzipped off the two modules, enough to keep a first visit within its 5 MB).
  npx --yes -p "$BINARYEN" wasm-opt -Oz --converge "${FEATURES[@]}" --strip-debug --strip-producers \
    "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
  new=$(openssl dgst -sha384 -binary "$wasm" | base64 -w0)
  sed -i "s|sha384-$old|sha384-$new|g" "$DIST/index.html"
  echo "wasm-opt -Oz --converge: $(basename "$wasm") $before -> $(stat -c %s "$wasm") bytes"
done
ROBUSTDX_DIST="$DIST" node web/tests/bench.mjs --sizes
