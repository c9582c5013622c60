#!/usr/bin/env bash
# Stops the private Slurm that scripts/slurm-up.sh DIR runs: SIGTERM to its keeper (by the pid in
# DIR/keeper.pid), which stops slurmd, slurmctld and munged by pid; waits until all are gone.
set -uo pipefail
if (($# != 1)); then
  echo "usage: slurm-down.sh DIR" >&2
  exit 2
fi
dir=$1
[[ -f $dir/keeper.pid ]] || exit 0
keeper=$(cat "$dir/keeper.pid")
daemons=$(cat "$dir/daemons.pid" 2>/dev/null)
kill -TERM "$keeper" 2>/dev/null
for _ in $(seq 100); do
  alive=0
  for p in $keeper $daemons; do
    # Alive and not a zombie; one that is gone by the time its stat is read is gone (without a
    # /proc, kill -0 alone decides).
    kill -0 "$p" 2>/dev/null || continue
    state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)
    [[ ! -d /proc/self || (-n $state && $state != Z) ]] && alive=1
  done
  ((alive)) || exit 0
  sleep 0.1
done
# The keeper did not finish its job in 10 s: kill what is left, by pid.
for p in $daemons $keeper; do kill -KILL "$p" 2>/dev/null; done
echo "slurm-down: had to SIGKILL leftovers in $dir" >&2
exit 1
