# Sourced by .ci/setup and .ci/test: `step NAME` starts a step; when the script exits (passing or
# not) it prints how long each step took, so every run shows where its minutes go.
STEP_NAMES=()
STEP_STARTS=()
SCRIPT_START=$(date +%s)

step() {
  STEP_NAMES+=("$*")
  STEP_STARTS+=("$(date +%s)")
  printf '\n== %s\n' "$*"
}

print_step_table() {
  local status=$? end i next secs
  end=$(date +%s)
  printf '\n%-72s %9s\n' "step ($(basename "$0"))" "min:s"
  for i in "${!STEP_NAMES[@]}"; do
    next=${STEP_STARTS[$((i + 1))]:-$end}
    secs=$((next - STEP_STARTS[i]))
    printf '%-72s %6d:%02d\n' "${STEP_NAMES[i]:0:72}" $((secs / 60)) $((secs % 60))
  done
  secs=$((end - SCRIPT_START))
  printf '%-72s %6d:%02d\n' "total$([ "$status" = 0 ] || echo " (failed, exit $status)")" \
    $((secs / 60)) $((secs % 60))
  return "$status"
}
trap print_step_table EXIT
