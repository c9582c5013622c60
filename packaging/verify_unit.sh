#!/usr/bin/env bash
# CTest unit_verify: `systemd-analyze verify` on the shipped unit. The unit names
# /usr/bin/taskqd, which need not exist here, so a copy naming the built binary is verified.
# systemd-analyze only warns (exit 0) about unknown keys: any output at all is a failure.
# Usage: verify_unit.sh UNIT TASKQD
set -euo pipefail
unit=$1 taskqd=$2
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze not installed (apt-get install systemd)"
  exit 77
fi
for directive in Type=notify User=taskq Group=taskq NoNewPrivileges=yes ProtectSystem=strict \
                 ReadWritePaths= StateDirectory=taskq 'ExecReload=/bin/kill -HUP $MAINPID' \
                 WatchdogSec= KillMode=process \
                 'ExecStart=/usr/bin/taskqd --config /etc/taskq/taskq.yaml --keep-running'; do
  if ! grep -qF -- "$directive" "$unit"; then
    echo "FAIL: $unit lacks $directive"
    exit 1
  fi
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
sed "s|/usr/bin/taskqd|$taskqd|g" "$unit" >"$scratch/taskqd.service"
source "$(dirname "$0")/verify_silently.sh"
verify_silently "$scratch" taskqd.service
echo "OK: $unit verifies"
