#!/usr/bin/env bash
# CTest metrics_timer_verify: the taskq-metrics.service and .timer that docs/METRICS.md tells
# operators to write (its ```ini block, one unit after each "# /etc/systemd/system/NAME" line)
# pass `systemd-analyze verify` with the built taskq in ExecStart; any output is a failure.
# Usage: verify_metrics_timer.sh METRICS_MD TASKQ
set -euo pipefail
doc=$1 taskq=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not installed (apt-get install systemd)"
  exit 77
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
sed -n '/^```ini$/,/^```$/p' "$doc" | sed '1d;$d' | awk -v dir="$scratch" '
  /^# \/etc\/systemd\/system\// { file = dir "/" substr($2, length("/etc/systemd/system/") + 1); next }
  file { print > file }'
for unit in taskq-metrics.service taskq-metrics.timer; do
  [[ -s $scratch/$unit ]] || { echo "FAIL: docs/METRICS.md has no $unit"; exit 1; }
done
sed -i "s|/usr/bin/taskq |$taskq |" "$scratch/taskq-metrics.service"
grep -q "^ExecStart=$taskq metrics --output " "$scratch/taskq-metrics.service" ||
  { echo "FAIL: taskq-metrics.service does not run taskq metrics --output"; exit 1; }
source "$(dirname "$0")/verify_silently.sh"
verify_silently "$scratch" taskq-metrics.service taskq-metrics.timer
echo "OK: the metrics timer of docs/METRICS.md verifies"
