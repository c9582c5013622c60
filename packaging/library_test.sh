#!/usr/bin/env bash
# CTest library_install: libtaskq as a program outside the project sees it. Runs README's
# "C++" block as written, with DESTDIR set to a scratch root (cmake --install honours it) and
# pkg-config and CMake pointed into that root: installs the `lib` and `dev` components with
# prefix /usr, builds examples/submit_and_wait.cc once with only `pkg-config --cflags --libs
# taskq` and once as a CMake project with find_package(taskq), and runs both binaries against a
# taskqd this test starts on a queue of its own. Also checks what was installed: the soname, the
# files of each component, and that the library exports the public API only.
# Usage: library_test.sh CMAKE BUILD_DIR SOURCE_DIR (the build must be current: ctest after build)
set -euo pipefail
cmake=$1 build=$(realpath "$2") source=$(realpath "$3")
for tool in pkg-config c++ nm c++filt objdump ldd; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
scratch=$(mktemp -d /tmp/taskq-library-XXXXXX)
queue="libtest-$$-$RANDOM"
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -f "/dev/shm/taskq.$queue.v2"
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

# 1. README's block: the fenced block that holds `pkg-config --cflags --libs taskq`.
block=$(awk '/^```/ { if (fenced) { if (hit) { print text; exit } fenced = 0; text = ""; next }
                      fenced = 1; next }
             fenced { text = text $0 "\n"; if ($0 ~ /pkg-config --cflags --libs taskq/) hit = 1 }' \
        "$source/README.md")
[[ -n $block ]] || fail "README has no fenced block with pkg-config --cflags --libs taskq"
echo "README's block:"
echo "$block"

# 2. A daemon on a queue of its own; the README's commands find it through $TASKQ_CONFIG.
state=$scratch/state
cat >"$scratch/taskq.yaml" <<EOF
queue: $queue
state_dir: $state
workers: 2
log_level: warn
EOF
user_args=()
((EUID == 0)) && user_args=(--user root)  # taskqd refuses root without a user (docs/SECURITY.md)
env -u NOTIFY_SOCKET -u WATCHDOG_USEC "$build/daemon/taskqd" --config "$scratch/taskq.yaml" \
  "${user_args[@]}" 2>"$scratch/taskqd.log" &
daemon_pid=$!
taskq=("$build/client/taskq" --config "$scratch/taskq.yaml")
for ((i = 0; i < 6000; ++i)); do  # until it answers (a state, not a time: 60 s at most)
  "${taskq[@]}" ping --timeout 5 >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$scratch/taskqd.log"; fail "taskqd exited"; }
  sleep 0.01
done
"${taskq[@]}" ping --timeout 5 >/dev/null || { cat "$scratch/taskqd.log"; fail "taskq ping"; }

# 3. The block, run line by line in a scratch directory that has the source's examples/ and the
#    build directory under the names README uses. Nothing outside DESTDIR is installed to:
#    pkg-config and CMake look only there; the binaries find libtaskq.so.0 there.
root=$scratch/root
work=$scratch/work
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")  # lib, or Debian's multiarch
mkdir -p "$work"
ln -s "$source/examples" "$work/examples"
ln -s "$build" "$work/build"
while IFS= read -r line; do
  [[ -z $line || $line == \#* ]] && continue
  echo "+ $line"
  (cd "$work" && env DESTDIR="$root" \
     PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/usr/$libdir/pkgconfig" \
     PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 \
     CMAKE_PREFIX_PATH="$root/usr" LD_LIBRARY_PATH="$root/usr/$libdir" \
     TASKQ_CONFIG="$scratch/taskq.yaml" PATH="$(dirname "$cmake"):$PATH" \
     bash -euo pipefail -c "$line") >"$scratch/out" 2>&1 || { cat "$scratch/out"; fail "$line"; }
  cat "$scratch/out"
  if [[ ${line%% *} == *submit_and_wait ]]; then  # a run of the example
    lines=$(grep -c ' succeeded checksum ' "$scratch/out" || true)
    ((lines > 0)) || fail "$line: no task succeeded"
  fi
done <<<"$block"

# 4. Both builds happened, and both binaries ran (README's block runs each once; run both here
#    too, so that a README that drops one of them fails).
[[ -x $work/submit_and_wait ]] || fail "README's block did not build ./submit_and_wait with pkg-config"
[[ -x $work/build-examples/submit_and_wait ]] ||
  fail "README's block did not build build-examples/submit_and_wait with find_package(taskq)"
for binary in "$work/submit_and_wait" "$work/build-examples/submit_and_wait"; do
  out=$(LD_LIBRARY_PATH="$root/usr/$libdir" TASKQ_CONFIG="$scratch/taskq.yaml" "$binary" 3) ||
    fail "$binary exit $?"
  [[ $(grep -c '^task [0-9]* succeeded checksum ' <<<"$out") == 3 ]] || fail "$binary: $out"
  ldd_out=$(LD_LIBRARY_PATH="$root/usr/$libdir" ldd "$binary")
  grep -q "libtaskq.so.0 => $root/usr/$libdir/libtaskq.so.0" <<<"$ldd_out" ||
    fail "$binary does not link libtaskq.so.0 of DESTDIR: $ldd_out"
done

# 5. What was installed, and what the library exports.
version=$(sed -n 's/^project(taskq VERSION \([0-9.]*\).*/\1/p' "$source/CMakeLists.txt")
l=usr/$libdir
for path in $l/libtaskq.so.$version $l/libtaskq.so.0 $l/libtaskq.so usr/include/taskq/taskq.h \
            $l/pkgconfig/taskq.pc $l/cmake/taskq/taskqConfig.cmake \
            $l/cmake/taskq/taskqConfigVersion.cmake $l/cmake/taskq/taskqTargets.cmake; do
  [[ -e $root/$path ]] || fail "not installed: /$path"
done
[[ ! -e $root/usr/include/taskq/client.h ]] || fail "the internal header client.h was installed"
[[ ! -e $root/etc && ! -e $root/usr/bin ]] || fail "the lib and dev components installed more than the library"
soname=$(objdump -p "$root/$l/libtaskq.so.$version" | awk '$1 == "SONAME" {print $2}')
[[ $soname == libtaskq.so.0 ]] || fail "soname: '$soname'"
grep -qx "prefix=/usr" "$root/$l/pkgconfig/taskq.pc" || fail "taskq.pc: prefix is not /usr"
exported=$(nm -D --defined-only "$root/$l/libtaskq.so.$version" | awk '{print $3}' | c++filt)
others=$(grep -v '^taskq::api::' <<<"$exported" || true)
[[ -z $others ]] || fail "libtaskq exports more than taskq::api: $(head -5 <<<"$others")"
echo "libtaskq.so.$version exports $(wc -l <<<"$exported") symbols, all in taskq::api"

# 6. The daemon stops cleanly and leaves nothing.
"${taskq[@]}" shutdown --purge --timeout 60 || { cat "$scratch/taskqd.log"; fail "taskq shutdown --purge"; }
wait "$daemon_pid" || fail "taskqd exit code $?"
daemon_pid=
[[ ! -e /dev/shm/taskq.$queue.v2 ]] || fail "the queue's segment is left in /dev/shm"
echo "OK: libtaskq installs into DESTDIR, the example builds with pkg-config and find_package and runs"
