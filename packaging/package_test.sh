#!/usr/bin/env bash
# CTest package_deb: builds the Debian packages with CPack (as `make deb` does, into a scratch
# directory): taskq, libtaskq0, libtaskq-dev and python3-taskq (packaging/CMakeLists.txt). Checks
# their contents, dependencies and that lintian reports no error, unpacks them with `dpkg -x`
# into a scratch root and runs the installed binaries: --help and --version, --check-config on
# the installed /etc/taskq/taskq.yaml, the installed unit through systemd-analyze verify, and a
# daemon that runs one task submitted by taskq and one by the installed Python module; then the
# package's postrm purge under DPKG_ROOT removes the state and segment the service creates.
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
names=$(for d in "${debs[@]}"; do dpkg-deb --field "$d" Package; done | sort | tr '\n' ' ')
[[ $names == "libtaskq-dev libtaskq0 python3-taskq taskq " ]] ||
  fail "expected the packages libtaskq-dev libtaskq0 python3-taskq taskq, got: $names"
deb=$(ls "$scratch"/out/taskq_*.deb)
libdeb=$(ls "$scratch"/out/libtaskq0_*.deb)
devdeb=$(ls "$scratch"/out/libtaskq-dev_*.deb)
pydeb=$(ls "$scratch"/out/python3-taskq_*.deb)
echo "built $(cd "$scratch/out" && echo *.deb)"
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
# The library's packages: what each holds, and what each depends on.
version=$(dpkg-deb --field "$deb" Version)
libcontents=$(dpkg-deb --contents "$libdeb")
devcontents=$(dpkg-deb --contents "$devdeb")
pycontents=$(dpkg-deb --contents "$pydeb")
for path in "./usr/lib/libtaskq.so.$version" ./usr/lib/libtaskq.so.0 \
            ./usr/share/doc/libtaskq0/copyright ./usr/share/doc/libtaskq0/changelog.gz; do
  grep -q " $path\( ->.*\)\?\$" <<<"$libcontents" || fail "libtaskq0 lacks $path"
done
for path in ./usr/include/taskq/taskq.h ./usr/lib/libtaskq.so ./usr/lib/pkgconfig/taskq.pc \
            ./usr/lib/cmake/taskq/taskqConfig.cmake ./usr/lib/cmake/taskq/taskqTargets.cmake \
            ./usr/share/doc/libtaskq-dev/copyright; do
  grep -q " $path\( ->.*\)\?\$" <<<"$devcontents" || fail "libtaskq-dev lacks $path"
done
for path in ./usr/lib/python3/dist-packages/taskq/__init__.py ./usr/share/doc/python3-taskq/copyright; do
  grep -q " $path\$" <<<"$pycontents" || fail "python3-taskq lacks $path"
done
grep -q ' ./usr/lib/python3/dist-packages/taskq/_taskq\.cpython-[0-9]*-.*\.so$' <<<"$pycontents" ||
  fail "python3-taskq lacks the extension module"
grep -q 'libtaskq\.so' <<<"$contents" && fail "taskq holds the library (it belongs in libtaskq0)"
[[ $(dpkg-deb --ctrl-tarfile "$libdeb" | tar -xO ./shlibs) == "libtaskq 0 libtaskq0 (= $version)" ]] ||
  fail "libtaskq0: shlibs"
grep -q "libtaskq0 (= $version)" <<<"$(dpkg-deb --field "$devdeb" Depends)" ||
  fail "libtaskq-dev does not depend on libtaskq0 (= $version)"
pydepends=$(dpkg-deb --field "$pydeb" Depends)
grep -q "libtaskq0 (= $version)" <<<"$pydepends" && grep -q 'python3 (>= 3' <<<"$pydepends" ||
  fail "python3-taskq Depends: $pydepends"

# README lists what the packages install: each file by its path, the last two parts of it
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
done < <(awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' <<<"$contents
$libcontents
$devcontents
$pycontents")
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
  lintian --fail-on error --tag-display-limit 0 "${debs[@]}" >"$scratch/lintian.log" 2>&1 || status=$?
  cat "$scratch/lintian.log"
  errors=$(grep -c '^E: ' "$scratch/lintian.log" || true)
  echo "lintian: $errors errors, $(grep -c '^W: ' "$scratch/lintian.log" || true) warnings"
  ((errors == 0 && status == 0)) || fail "lintian: $errors errors (exit $status)"
else
  echo "lintian not installed (apt-get install lintian): its check is skipped"
fi

# 2. Unpacked into a scratch root.
root=$scratch/root
for d in "${debs[@]}"; do dpkg -x "$d" "$root"; done
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
grep -qx 'state_dir: "/var/lib/taskq"' <<<"$printed" || fail "installed config: state_dir"
grep -qx 'storage: file' <<<"$printed" || fail "installed config: storage"
grep -qx 'durability: sync' <<<"$printed" || fail "installed config: durability"
grep -qx 'group: "taskq"' <<<"$printed" || fail "installed config: group"
unit=$root/usr/lib/systemd/system/taskqd.service
grep -qx 'ExecStart=/usr/bin/taskqd --config /etc/taskq/taskq.yaml --keep-running' "$unit" || fail "unit ExecStart"
if command -v systemd-analyze >/dev/null; then
  sed "s|/usr/bin/taskqd|$taskqd|g" "$unit" >"$scratch/taskqd.service"
  out=$(systemd-analyze verify "$scratch/taskqd.service" 2>&1) || fail "verify: $out"
  [[ -z $out ]] || fail "systemd-analyze verify: $out"
fi

# 3. The installed binaries serve a queue: the installed configuration with a private queue
#    and state directory (no taskq account needed), one task, then a clean shutdown.
sed -e "s|^queue: taskq\$|queue: $queue|" -e "s|^state_dir: /var/lib/taskq\$|state_dir: $scratch/state|" \
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
# The installed Python module (and the libtaskq0 it loads) submits to the same daemon; not in an
# ASan build (make check-asan), whose module Debian's python3 cannot load.
module=$(ls "$root"/usr/lib/python3/dist-packages/taskq/_taskq.*.so)
if objdump -p "$root/usr/lib/libtaskq.so.0" | grep -q 'NEEDED.*libasan'; then
  echo "python3-taskq: not run (an ASan build: $(basename "$module") cannot be loaded by python3)"
else
  PYTHONPATH=$root/usr/lib/python3/dist-packages LD_LIBRARY_PATH=$root/usr/lib /usr/bin/python3 -c "
import taskq
task = taskq.Client(config='$scratch/run.yaml').submit_cpu(count=1000, wait=True)
assert task.succeeded and task.result['count'] == 1000, task
assert taskq.__file__.startswith('$root/'), taskq.__file__
" || { cat "$scratch/taskqd.log"; fail "python3-taskq: a task submitted from Python"; }
fi
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
