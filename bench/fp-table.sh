#!/usr/bin/env bash
# The README's "FP of the shipped models" table, measured again: the Robust-Benchmark (14 kinds ×
# 10 frames, seed 0, 200 test images) of the page's four derm small CNNs and of a small CNN trained
# 3 epochs on the synthetic chest set, one CSV per model under $OUT, then the table as Markdown.
#   bash bench/fp-table.sh [OUT]     (ROBUSTDX=path/to/robustdx to use a built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/fp-table}
mkdir -p "$OUT"
RDX=${ROBUSTDX:-}
if [[ -z "$RDX" ]]; then
  cargo build --quiet -p robustdx --bin robustdx
  RDX="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/robustdx"
fi
DERM=synth-derm:n=800,test=200,size=64,seed=0
CHEST=synth-chest:n=800,test=200,size=64,seed=0
models=(derm-clean derm-pgd-at derm-mpadvt derm-mart chest-clean)
files=(small-cnn-derm small-cnn-derm-pgd-at small-cnn-derm-mpadvt small-cnn-derm-mart "")
if [[ ! -f "$OUT/chest-clean.bpk" ]]; then
  "$RDX" train --backend cpu --data "$CHEST" --model small-cnn --epochs 3 --out "$OUT/chest-clean.bpk" >"$OUT/chest-train.log"
fi
for i in "${!models[@]}"; do
  name=${models[$i]}
  if [[ -n "${files[$i]}" ]]; then model=web/assets/models/${files[$i]}.bpk data=$DERM
  else model=$OUT/$name.bpk data=$CHEST; fi
  start=$(date +%s)
  "$RDX" benchmark --backend cpu --model "$model" --data "$data" --frames 10 --seed 0 \
    --csv "$OUT/$name.csv" --json "$OUT/$name.json" >"$OUT/$name.log"
  echo "$name: $(( $(date +%s) - start )) s" >&2
done
# One row per kind: "FP (last-frame accuracy)" per model; the mean FP last.
awk -F, -v n="${#models[@]}" -v header="${models[*]}" '
  FNR == 1 { file++; next }
  { if (file == 1) kinds[++k] = $1; cell[$1, file] = sprintf("%.3f (%.2f)", $4, $6); sum[file] += $4; count[file]++ }
  END {
    split(header, h, " "); line = "| kind |"; rule = "|---|"
    for (f = 1; f <= n; f++) { line = line " " h[f] " |"; rule = rule "---|" }
    print line; print rule
    for (i = 1; i <= k; i++) { line = "| `" kinds[i] "` |"; for (f = 1; f <= n; f++) line = line " " cell[kinds[i], f] " |"; print line }
    line = "| mean FP |"; for (f = 1; f <= n; f++) line = line sprintf(" **%.3f** |", sum[f] / count[f]); print line
  }' $(for m in "${models[@]}"; do echo "$OUT/$m.csv"; done)
