#!/usr/bin/env bash
# Submits a sweep (or Robust-Benchmark) as a Slurm job array of N shards and a merge job that
# runs when every shard has succeeded; prints the two job ids and the merged result's path.
#
#   MODEL=derm.bpk DATA=folder:/data/isic OUT=results scripts/slurm/submit.sh 8
#   # results/sweep.json once both jobs are done (squeue shows them)
#
# Environment: MODEL, DATA, OUT (results), ROBUSTDX (robustdx), COMMAND (attack | benchmark),
# ATTACK_FLAGS / FLAGS as in sweep.sbatch, SBATCH_FLAGS (extra sbatch flags for both jobs, e.g.
# "--partition=gpu --gres=gpu:1"), WAIT=1 to return only when the merge is done (its exit code).
set -euo pipefail

shards=${1:?number of shards}
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-results}
ROBUSTDX=${ROBUSTDX:-robustdx}
export OUT ROBUSTDX
mkdir -p "$OUT"
# shellcheck disable=SC2086  # SBATCH_FLAGS is a list of flags
array=$(sbatch --parsable ${SBATCH_FLAGS:-} --array="0-$((shards - 1))" \
  --output="$OUT/shard-%a.log" "$here/sweep.sbatch")
array=${array%%;*}
shard_files=$(for i in $(seq 0 $((shards - 1))); do printf '%q ' "$OUT/shard-$i.json"; done)
wait_flag=()
[ "${WAIT:-0}" = 1 ] && wait_flag=(--wait)
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_FLAGS:-} "${wait_flag[@]}" --dependency="afterok:$array" \
  --kill-on-invalid-dep=yes --job-name=robustdx-merge --output="$OUT/merge.log" \
  --wrap="$(printf '%q' "$ROBUSTDX") merge --out $(printf '%q' "$OUT/sweep.json") $shard_files")
echo "array job $array, merge job ${merge%%;*}: $OUT/sweep.json"
