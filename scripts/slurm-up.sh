#!/usr/bin/env bash
# Runs a private Slurm (munged, slurmctld, one slurmd per node) for taskq's tests, everything
# under DIR: config, munge key, state, spool, logs, pids. It stays in the foreground as the parent
# of the daemons (so they are reaped, never left as zombies), writes DIR/ready once every node is
# idle, and stops them by pid when it gets SIGTERM/SIGINT (scripts/slurm-down.sh DIR does that).
#   scripts/slurm-up.sh [--nodes N] DIR [CPUS] &     then   export SLURM_CONF=DIR/slurm.conf
# One node (the default) is this host under its own name. With --nodes N (N >= 2) the nodes are
# n1..nN, all on this host: Debian's slurmd is built with multiple-slurmd support (`slurmd -N`),
# so each runs as `slurmd -N nK` on its own port; DIR/slurmd-nK.pid holds its pid (a test kills
# one to take its node away). CPUS is per node.
# Exit codes: 0 stopped normally, 1 failed to start (DIR/slurm-up.log says why), 2 usage.
set -uo pipefail

nodes=1
if [[ ${1:-} == --nodes ]]; then
  nodes=${2:-}
  shift 2 || true
fi
if (($# < 1)) || ! [[ $nodes =~ ^[1-9][0-9]?$ ]]; then
  echo "usage: slurm-up.sh [--nodes N] DIR [CPUS]   (DIR: an empty directory for config," \
    "state and logs; N: 1..99)" >&2
  exit 2
fi
dir=$(mkdir -p "$1" && cd "$1" && pwd) || exit 2
cpus=${2:-16}
chmod 700 "$dir"
exec >>"$dir/slurm-up.log" 2>&1
echo $$ >"$dir/keeper.pid"
rm -f "$dir/ready" "$dir/failed"

pids=()
stop() {
  # Reverse order: slurmd, slurmctld, then munged; each by pid, then reaped.
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; done
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pids[i]}" 2>/dev/null
    wait "${pids[i]}" 2>/dev/null
  done
  pids=()
}
fail() {
  echo "slurm-up: $*"
  echo "$*" >"$dir/failed"
  stop
  exit 1
}
trap 'stop; echo "slurm-up: stopped"; exit 0' TERM INT

for tool in munged mungekey slurmctld slurmd sinfo; do
  command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
  command -v "$tool" >/dev/null || fail "$tool not found: install slurmctld slurmd slurm-client munge"
done

# A free TCP port below the kernel's ephemeral range (so no outgoing connection, e.g. a TIME_WAIT
# of the many squeue/sbatch RPCs, holds it), found free by probing; another cluster started at
# the same moment may still take it, which the retry below covers.
free_port() {
  local port low
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  ((low > 21000)) || low=32768
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % (low - 20000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
  return 1
}
host=$(hostname -s)
if ((nodes == 1)); then
  node_names=("$host")
else
  node_names=()
  for ((k = 1; k <= nodes; k++)); do node_names+=("n$k"); done
fi

mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"
mungekey -c -f -k "$dir/munge/munge.key" || fail "mungekey failed"
munged -F -f --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
  --seed-file="$dir/munge/munged.seed" &
pids+=($!)
for _ in $(seq 100); do [[ -S $dir/munge/munge.sock ]] && break; sleep 0.05; done
[[ -S $dir/munge/munge.sock ]] || fail "munged did not create its socket ($dir/munge/munged.log)"

# start_slurm: fresh ports, slurm.conf, slurmctld and one slurmd per node, then waits until every
# node is idle. Returns 1 when one of them exited meanwhile (e.g. its port was taken between the
# probe and its bind: ctest runs two Slurm suites at once, each with its own cluster), 2 when the
# nodes are not idle after 30 s.
start_slurm() {
  local k name p
  ctld_port=$(free_port) || fail "no free port"
  slurmd_ports=()
  for ((k = 1; k <= nodes; k++)); do slurmd_ports+=("$(free_port)") || fail "no free port"; done
  node_lines=""
  for ((k = 1; k <= nodes; k++)); do
    if ((nodes == 1)); then
      node_lines="NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN"
    else
      node_lines+="NodeName=n$k NodeHostname=$host NodeAddr=127.0.0.1 Port=${slurmd_ports[k - 1]}"
      node_lines+=" CPUs=$cpus State=UNKNOWN"$'\n'
    fi
  done
  cat >"$dir/slurm.conf" <<EOF
ClusterName=taskqtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=${slurmd_ports[0]}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,default_queue_depth=1000
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
MinJobAge=600
KillWait=2
SlurmdTimeout=30
InactiveLimit=0
SlurmdParameters=config_overrides
$node_lines
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP LLN=YES
EOF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -D -i -f "$SLURM_CONF" &
  pids+=($!)
  for name in "${node_names[@]}"; do
    mkdir -p "$dir/spool/$name"
    if ((nodes == 1)); then
      slurmd -D -f "$SLURM_CONF" &
    else
      slurmd -D -N "$name" -f "$SLURM_CONF" &
    fi
    pids+=($!)
    echo $! >"$dir/node-$name.pid"
  done
  for _ in $(seq 300); do
    state=$(sinfo -h -N -o %t 2>/dev/null | sort -u | tr '\n' ' ')
    [[ $state == "idle " ]] && return 0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done
    sleep 0.1
  done
  return 2
}

# The last lines of every Slurm log, into slurm-up.log (the caller's temporary directory, logs
# included, may be gone by the time someone reads why it failed).
log_tails() {
  local log
  for log in "$dir"/slurmctld.log "$dir"/slurmd-*.log; do
    [[ -f $log ]] && { echo "--- ${log##*/}:"; tail -n 4 "$log"; }
  done
}

# Stops the Slurm daemons of a failed attempt (not munged, pids[0]).
stop_slurm() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 1; i--)); do kill -KILL "${pids[i]}" 2>/dev/null; done
  for ((i = ${#pids[@]} - 1; i >= 1; i--)); do wait "${pids[i]}" 2>/dev/null; done
  pids=("${pids[0]}")
  rm -f "$dir"/slurmctld.pid "$dir"/slurmd-*.pid
}

for attempt in 1 2 3; do
  start_slurm
  started=$?
  ((started == 0)) && break
  why="a daemon exited"
  ((started == 2)) && why="nodes not idle after 30 s (state '$state')"
  echo "slurm-up: attempt $attempt: $why (ports $ctld_port, ${slurmd_ports[*]}):"
  log_tails
  ((attempt == 3)) && fail "$why, three times with fresh ports (slurm-up.log has the logs' tails)"
  stop_slurm
done
echo "${pids[*]}" >"$dir/daemons.pid"
echo "export SLURM_CONF=$SLURM_CONF" >"$dir/ready"
echo "slurm-up: ready: SLURM_CONF=$SLURM_CONF (ports $ctld_port, ${slurmd_ports[*]};" \
  "nodes ${node_names[*]})"
# Stay the parent of the daemons until told to stop, or until munged or slurmctld dies (a slurmd
# may be killed on purpose: a test takes its node away).
wait -n "${pids[0]}" "${pids[1]}"
fail "munged or slurmctld exited unexpectedly (see $dir/*.log)"
