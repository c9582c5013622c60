#!/usr/bin/env bash
# Measures the slurm policy on a private Slurm (docs/SCALE-OUT.md, "Measured here"): raw sbatch,
# `mode: job` (one batch job per task) and `mode: pilot` (pilot jobs lease tasks) on the same
# cluster in the same run, and a cpu task on a pilot against the same task on a local pool worker.
#   scripts/slurm-bench.sh [BUILD_DIR] [N_JOB] [N_PILOT] [NODES]
#   (defaults: build 200 2000 3; needs root; starts and stops its own cluster and daemons)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
n_job=${2:-200}
n_pilot=${3:-2000}
nodes=${4:-3}
cpus=8
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/taskq-slurm-bench-XXXXXX)
keeper=""
daemons=()
cleanup() {
  local d
  for d in "${daemons[@]}"; do kill -TERM "$d" 2>/dev/null && wait "$d" 2>/dev/null; done
  for q in job pilot local; do
    [[ -f $work/$q.yaml ]] && "$build/client/taskq" --config "$work/$q.yaml" purge >/dev/null 2>&1
  done
  [[ -n $keeper ]] && "$here/slurm-down.sh" "$work/slurm" && wait "$keeper" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$here/slurm-up.sh" --nodes "$nodes" "$work/slurm" "$cpus" &
keeper=$!
for _ in $(seq 600); do [[ -f $work/slurm/ready || -f $work/slurm/failed ]] && break; sleep 0.1; done
[[ -f $work/slurm/ready ]] || { cat "$work/slurm/slurm-up.log"; exit 1; }
export SLURM_CONF=$work/slurm/slurm.conf
ms() { date +%s%3N; }
rate() { echo "$(($1 * 10000 / $2 / 10)).$(($1 * 10000 / $2 % 10))"; }
ratio() { echo "$(($1 * 10 / $2 / 10)).$(($1 * 10 / $2 % 10))"; }

t0=$(ms)
for _ in $(seq 50); do sbatch --parsable -o /dev/null --wrap true >/dev/null; done
t1=$(ms)
echo "sbatch --wrap true, 50 one after another: $(((t1 - t0) / 50)) ms each"
while [[ -n $(squeue -h -t pending,running) ]]; do sleep 0.2; done

# start_daemon NAME YAML-BODY: a taskqd on its own queue and state dir.
start_daemon() {
  cat >"$work/$1.yaml" <<EOF2
queue: slurm-bench-$1-$$
state_dir: $work/$1-state
user: root
log_level: warn
$2
EOF2
  "$build/daemon/taskqd" --config "$work/$1.yaml" 2>"$work/$1.log" &
  daemons+=($!)
  for _ in $(seq 100); do "$build/client/taskq" --config "$work/$1.yaml" ping >/dev/null 2>&1 && break; sleep 0.05; done
}
# run_batch NAME N: N `exec -- true` in one submit --batch; prints the ms until all are done.
run_batch() {
  local q=("$build/client/taskq" --config "$work/$1.yaml") t0 t1 ids
  for _ in $(seq "$2"); do echo "exec -- true"; done >"$work/batch-$1"
  t0=$(ms)
  ids=$("${q[@]}" submit --batch "$work/batch-$1")
  # shellcheck disable=SC2086
  "${q[@]}" wait $ids >/dev/null
  t1=$(ms)
  echo $((t1 - t0))
}
# run_us NAME: the median run_us of 5 `cpu --count 3000000` tasks, one after another.
cpu_run_us() {
  local q=("$build/client/taskq" --config "$work/$1.yaml")
  for _ in 1 2 3 4 5; do
    "${q[@]}" --json submit --wait cpu --count 3000000 | sed -n 's/.*"run_us":\([0-9]*\).*/\1/p'
  done | sort -n | sed -n 3p
}

start_daemon job "policy: slurm
slurm:
  mode: job
  poll_interval: 200ms
  max_jobs: $n_job"
ms_job=$(run_batch job "$n_job")
echo "mode: job, $n_job exec tasks (true) in one batch: $ms_job ms ($(rate "$n_job" "$ms_job") tasks/s)"

start_daemon pilot "policy: slurm
slurm:
  mode: pilot
  poll_interval: 200ms
  max_pilots: $nodes
  backlog: $nodes
  pilot_slots: $cpus
  pilot_time: 1h
  idle_timeout: 10m"
pq=("$build/client/taskq" --config "$work/pilot.yaml")
# Bring the pilots up: enough sleeping tasks to want every pilot.
for _ in $(seq $((nodes * cpus))); do echo "exec -- sleep 1"; done >"$work/warm"
t0=$(ms)
# shellcheck disable=SC2046
"${pq[@]}" wait $("${pq[@]}" submit --batch "$work/warm") >/dev/null
t1=$(ms)
echo "mode: pilot, $((nodes * cpus)) x sleep 1 from cold (pilots submitted, started, connected): $((t1 - t0)) ms"
for i in 1 2 3 4 5; do
  t0=$(ms)
  "${pq[@]}" submit --wait exec -- true >/dev/null
  t1=$(ms)
  echo "mode: pilot, one exec task with pilots idle, submit --wait to succeeded: $((t1 - t0)) ms"
done
ms_pilot=$(run_batch pilot "$n_pilot")
echo "mode: pilot, $n_pilot exec tasks (true) in one batch: $ms_pilot ms" \
  "($(rate "$n_pilot" "$ms_pilot") tasks/s; $nodes pilots x $cpus slots)"
echo "pilot / job throughput: $(((n_pilot * ms_job) / (n_job * ms_pilot)))x"
# The machine's floor: the same number of `true` processes, as many at once as the pilots have
# slots, started by a bare posix_spawn loop (bench/spawn_floor.cc). On one shared host the pilots
# cannot beat it; pilot / job above is bounded by floor / job.
if [[ -x $build/bench/spawn_floor ]]; then
  floor=$("$build/bench/spawn_floor" "$n_pilot" $((nodes * cpus)))
  floor_rate=${floor##*, }
  floor_rate=${floor_rate%% *}
  floor_ms=$(awk -v n="$n_pilot" -v r="$floor_rate" 'BEGIN { printf "%d", n * 1000 / r }')
  echo "spawn floor (bench/spawn_floor $n_pilot $((nodes * cpus))): $floor"
  echo "pilot / spawn floor: $(ratio "$floor_ms" "$ms_pilot")x; spawn floor / job:" \
    "$(((n_pilot * ms_job) / (n_job * floor_ms)))x"
else
  echo "spawn floor: not measured ($build/bench/spawn_floor not built)"
fi

start_daemon local "policy: pool
workers: 1"
local_us=$(cpu_run_us local)
pilot_us=$(cpu_run_us pilot)
echo "cpu --count 3000000, median run_us of 5: local pool worker $local_us us, pilot $pilot_us us" \
  "($(ratio "$pilot_us" "$local_us")x)"
