#!/usr/bin/env bash
# CTest package_deb: builds the Debian package with CPack (as `make deb` does, into a scratch
# directory), checks its contents and that lintian reports no error, unpacks it with `dpkg -x`
# into a scratch root and runs the installed binaries: --help and --version, --check-config on
# the installed /etc/taskq/taskq.yaml, the installed unit through systemd-analyze verify, and a
# daemon that runs one task; then the package's postrm purge under DPKG_ROOT removes the state
# and segment the service creates.
# Usage: package_test.sh CPACK BUILD_DIR (the built binaries must be current: ctest after build)
set -euo pipefail
cpack=$1 build=$2
for tool in dpkg-deb dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not installed (apt-get install dpkg-dev)"
    exit 77
  fi
done
scratch=$(mktemp -d /tmp/taskq-package-XXXXXX)
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -f "/dev/shm/taskq.$queue.v2" 2>/dev/null || true
  rm -rf "$scratch"
}
queue="pkgtest-$$"
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

# 1. The package.
"$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/out" >"$scratch/cpack.log" 2>&1 ||
  { cat "$scratch/cpack.log"; fail "cpack -G DEB"; }
debs=("$scratch"/out/*.deb)
[[ -f ${debs[0]} && ${#debs[@]} == 1 ]] || fail "expected one .deb in $scratch/out"
deb=${debs[0]}
echo "built $(basename "$deb")"
contents=$(dpkg-deb --contents "$deb")
docs=$(cd "$(dirname "$0")/.." && ls docs/*.md)
for path in ./usr/bin/taskqd ./usr/bin/taskq ./usr/bin/taskq-run ./usr/bin/taskq-worker \
            ./usr/lib/systemd/system/taskqd.service \
            ./etc/taskq/taskq.yaml ./usr/lib/sysusers.d/taskq.conf \
            ./usr/share/doc/taskq/README.md ./usr/share/doc/taskq/taskq.yaml \
            ./usr/share/doc/taskq/copyright ./usr/share/doc/taskq/changelog.gz \
            $(sed 's|^docs/|./usr/share/doc/taskq/|' <<<"$docs") \
            ./usr/share/man/man1/taskq.1.gz ./usr/share/man/man8/taskqd.8.gz \
            ./usr/share/man/man5/taskq.yaml.5.gz ./usr/share/man/man1/taskq-run.1.gz \
            ./usr/share/bash-completion/completions/taskq ./usr/share/zsh/vendor-completions/_taskq; do
  grep -q " $path\$" <<<"$contents" || fail "the package lacks $path"
done
# README lists what the package installs: each file by its path, the last two parts of it
# (man1/taskq.1.gz) or a directory above it (/usr/share/doc/taskq/).
readme=$(cat "$(dirname "$0")/../README.md")
while read -r path; do
  listed=
  [[ $readme == *"\`$path\`"* || $readme == *"\`$(basename "$(dirname "$path")")/$(basename "$path")\`"* ]] &&
    listed=1
  dir=$(dirname "$path")
  while [[ -z $listed && $dir != / ]]; do
    [[ $readme == *"\`$dir/\`"* ]] && listed=1
    dir=$(dirname "$dir")
  done
  [[ -n $listed ]] || fail "README does not list $path, which the package installs"
done < <(awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' <<<"$contents")
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
[[ $conffiles == /etc/taskq/taskq.yaml ]] || fail "conffiles: '$conffiles'"
depends=$(dpkg-deb --field "$deb" Depends)
grep -q libsystemd0 <<<"$depends" || fail "Depends lacks libsystemd0"
# The listing is read whole first: `grep -q` on a pipe exits at its first match, and with
# pipefail the SIGPIPE that tar then gets would fail the check at random.
control=$(dpkg-deb --ctrl-tarfile "$deb" | tar -t)
for script in postinst prerm postrm; do
  grep -qx "./$script" <<<"$control" || fail "no $script"
done

# lintian: no error (warnings and notes are printed, not counted). Its exit code, not only the
# count, decides: a lintian that fails to run must not pass as "0 errors".
if command -v lintian >/dev/null; then
  status=0
  lintian --fail-on error --tag-display-limit 0 "$deb" >"$scratch/lintian.log" 2>&1 || status=$?
  cat "$scratch/lintian.log"
  errors=$(grep -c '^E: ' "$scratch/lintian.log" || true)
  echo "lintian: $errors errors, $(grep -c '^W: ' "$scratch/lintian.log" || true) warnings"
  ((errors == 0 && status == 0)) || fail "lintian: $errors errors (exit $status)"
else
  echo "lintian not installed (apt-get install lintian): its check is skipped"
fi

# 2. Unpacked into a scratch root.
root=$scratch/root
dpkg -x "$deb" "$root"
taskqd=$root/usr/bin/taskqd taskq=$root/usr/bin/taskq
help=$("$taskqd" --help) || fail "taskqd --help"
for text in --config --check-config --print-config SIGHUP SIGTERM NOTIFY_SOCKET "Exit codes"; do
  grep -qF -- "$text" <<<"$help" || fail "taskqd --help lacks $text"
done
for binary in taskq taskqd taskq-run taskq-worker; do
  version=$("$root/usr/bin/$binary" --version) || fail "$binary --version"
  [[ $version == "$binary $(dpkg-deb --field "$deb" Version)" ]] || fail "$binary --version: $version"
done
help=$("$taskq" --help) || fail "taskq --help"
for command in submit status wait list cancel logs stats ping shutdown; do
  grep -qw -- "$command" <<<"$help" || fail "taskq --help lacks $command"
done
"$taskqd" --check-config "$root/etc/taskq/taskq.yaml" || fail "--check-config on the installed config"
printed=$("$taskqd" --config "$root/etc/taskq/taskq.yaml" --print-config)
grep -qx 'queue: "taskq"' <<<"$printed" || fail "installed config: queue is not taskq"
grep -qx 'state_dir: "/run/taskq"' <<<"$printed" || fail "installed config: state_dir"
grep -qx 'group: "taskq"' <<<"$printed" || fail "installed config: group"
unit=$root/usr/lib/systemd/system/taskqd.service
grep -qx 'ExecStart=/usr/bin/taskqd --config /etc/taskq/taskq.yaml' "$unit" || fail "unit ExecStart"
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/taskqd|$taskqd|g" "$unit" >"$scratch/taskqd.service"
  out=$(systemd-analyze verify "$scratch/taskqd.service" 2>&1) || fail "verify: $out"
  [[ -z $out ]] || fail "systemd-analyze verify: $out"
fi

# 3. The installed binaries serve a queue: the installed configuration with a private queue
#    and state directory (no taskq account needed), one task, then a clean shutdown.
sed -e "s|^queue: taskq\$|queue: $queue|" -e "s|^state_dir: /run/taskq\$|state_dir: $scratch/state|" \
    -e 's|^group: taskq$|group: ""|' -e 's|^user: taskq$|user: ""|' -e 's|^workers: 0$|workers: 1|' \
    "$root/etc/taskq/taskq.yaml" >"$scratch/run.yaml"
"$taskqd" --check-config "$scratch/run.yaml" >/dev/null || fail "derived config"
# As root (CI) taskqd needs an explicit user; root keeps root on purpose here (docs/SECURITY.md).
user_args=()
((EUID == 0)) && user_args=(--user root)
env -u NOTIFY_SOCKET -u WATCHDOG_USEC "$taskqd" --config "$scratch/run.yaml" "${user_args[@]}" \
  2>"$scratch/taskqd.log" &
daemon_pid=$!
for ((i = 0; i < 6000; ++i)); do  # until it answers (a state, not a time: 60 s at most)
  "$taskq" --config "$scratch/run.yaml" ping --timeout 5 >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$scratch/taskqd.log"; fail "taskqd exited"; }
  sleep 0.01
done
"$taskq" --config "$scratch/run.yaml" ping --timeout 5 >/dev/null ||
  { cat "$scratch/taskqd.log"; fail "taskq ping"; }
"$taskq" --config "$scratch/run.yaml" submit --wait exec -- /bin/true ||
  { cat "$scratch/taskqd.log"; fail "taskq submit --wait"; }
"$taskq" --config "$scratch/run.yaml" shutdown --purge --timeout 60 ||
  { cat "$scratch/taskqd.log"; fail "taskq shutdown --purge"; }
wait "$daemon_pid" || fail "taskqd exit code $?"
daemon_pid=

# 4. postrm purge removes what the service created (here under DPKG_ROOT, as `dpkg --root`
#    runs it): /var/lib/taskq, /run/taskq and the service queue's segment; others' stay.
purge_root=$scratch/purge
mkdir -p "$purge_root/var/lib/taskq/io" "$purge_root/run/taskq" "$purge_root/dev/shm"
touch "$purge_root/var/lib/taskq/io/1.dat" "$purge_root/dev/shm/taskq.taskq.v2" \
      "$purge_root/dev/shm/taskq.someone-else.v2"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postrm >"$scratch/postrm"
DPKG_ROOT=$purge_root sh "$scratch/postrm" remove || fail "postrm remove"
[[ -d $purge_root/var/lib/taskq ]] || fail "postrm remove deleted /var/lib/taskq"
DPKG_ROOT=$purge_root sh "$scratch/postrm" purge || fail "postrm purge"
for gone in var/lib/taskq run/taskq dev/shm/taskq.taskq.v2; do
  [[ ! -e $purge_root/$gone ]] || fail "postrm purge left /$gone"
done
[[ -e $purge_root/dev/shm/taskq.someone-else.v2 ]] || fail "postrm purge removed another queue"
echo "OK: the package installs, its binaries run, purge removes the service's state"
