# Sourced by the unit checks: `verify_silently DIR UNIT...` runs `systemd-analyze verify` on
# the units in DIR and fails on any output at all (it only warns, exit 0, on unknown keys).
verify_silently() {
  local dir=$1 output rc
  shift
  set +e
  output=$(cd "$dir" && systemd-analyze verify "$@" 2>&1)
  rc=$?
  set -e
  if ((rc != 0)) || [[ -n $output ]]; then
    echo "FAIL: systemd-analyze verify (exit $rc):"
    echo "$output"
    exit 1
  fi
}
