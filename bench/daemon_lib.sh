# Sourced by the bench scripts that start a taskqd of their own (compare_builds, durability,
# held_idle, member_latency).
#
# bench_start_daemon BUILD CONFIG LOG: starts BUILD's taskqd on CONFIG (its output appended to
# LOG), sets BENCH_DAEMON_PID, and returns once `taskq ping` answers (or after 10 s, when the
# measurement's first command will report what is wrong).
bench_start_daemon() {
  local build=$1 config=$2 log=$3
  "$build/daemon/taskqd" --config "$config" >>"$log" 2>&1 &
  BENCH_DAEMON_PID=$!
  for _ in $(seq 100); do
    "$build/client/taskq" --config "$config" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
}
