#!/usr/bin/env bash
# Measures the slurm policy on a private single-node Slurm (docs/SCALE-OUT.md, "Measured here"):
# raw sbatch latency, one task submit-to-done through taskq, and N trivial tasks to completion.
#   scripts/slurm-bench.sh [BUILD_DIR] [N] [CPUS]     (defaults: build 200 16; needs root)
# Starts its own cluster (slurm-up.sh) and taskqd in a temp dir and stops both by pid at the end.
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n=${2:-200}
cpus=${3:-16}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/taskq-slurm-bench-XXXXXX)
keeper=""
daemon=""
queue="slurm-bench-$$"
cleanup() {
  [[ -n $daemon ]] && kill -TERM "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  "$build/client/taskq" --queue "$queue" purge >/dev/null 2>&1 || true
  [[ -n $keeper ]] && "$here/slurm-down.sh" "$work/slurm" && wait "$keeper" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$here/slurm-up.sh" "$work/slurm" "$cpus" &
keeper=$!
for _ in $(seq 600); do [[ -f $work/slurm/ready || -f $work/slurm/failed ]] && break; sleep 0.1; done
[[ -f $work/slurm/ready ]] || { cat "$work/slurm/slurm-up.log"; exit 1; }
export SLURM_CONF=$work/slurm/slurm.conf
ms() { date +%s%3N; }

t0=$(ms)
for _ in $(seq 50); do sbatch --parsable -o /dev/null --wrap true >/dev/null; done
t1=$(ms)
echo "sbatch --wrap true, 50 one after another: $(((t1 - t0) / 50)) ms each"
while [[ -n $(squeue -h -t pending,running) ]]; do sleep 0.2; done

cat >"$work/taskq.yaml" <<EOF
queue: $queue
state_dir: $work/state
policy: slurm
log_level: warn
slurm:
  poll_interval: 200ms
  max_jobs: $n
EOF
"$build/daemon/taskqd" --config "$work/taskq.yaml" 2>"$work/taskqd.log" &
daemon=$!
taskq=("$build/client/taskq" --config "$work/taskq.yaml")
for _ in $(seq 100); do "${taskq[@]}" ping >/dev/null 2>&1 && break; sleep 0.05; done

for i in 1 2 3 4 5; do
  t0=$(ms)
  "${taskq[@]}" submit --wait exec -- true >/dev/null
  t1=$(ms)
  echo "one exec task, submit --wait to succeeded: $((t1 - t0)) ms"
done

for _ in $(seq "$n"); do echo "exec -- true"; done >"$work/batch"
t0=$(ms)
ids=$("${taskq[@]}" submit --batch "$work/batch")
# shellcheck disable=SC2086
"${taskq[@]}" wait $ids >/dev/null
t1=$(ms)
done_count=$("${taskq[@]}" list --state succeeded | grep -c succeeded || true)
echo "$n exec tasks (true), submitted in one batch, all done: $((t1 - t0)) ms" \
  "($(((n * 1000 * 10) / (t1 - t0) / 10)).$(((n * 1000 * 10) / (t1 - t0) % 10)) tasks/s;" \
  "$done_count succeeded in total; node CPUs=$cpus)"
