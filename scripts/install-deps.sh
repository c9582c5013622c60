#!/usr/bin/env bash
# Installs the Debian 12 packages taskq needs to build, test, demo and benchmark; installs only
# what is missing, so a second run does nothing. Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config make python3
  libboost-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev
  pybind11-dev python3-dev      # the Python module taskq (python/)
  clang libclang-rt-14-dev      # libFuzzer targets
  systemd                       # systemd-analyze verify of the shipped unit
  dpkg-dev file                 # make deb (CPack's DEB generator)
  lintian                       # the package's lintian check (packaging/package_test.sh)
  man-db groff-base             # man pages rendered with `man -l` (packaging/man_test.sh)
  bash-completion zsh           # shell completion tests (packaging/completion_test.sh)
  python3-prometheus-client curl  # the metrics test parses `taskq metrics` and the endpoint
  util-linux passwd             # setpriv/runuser, useradd for the multi-user tests
  slurmctld slurmd slurm-client munge  # the slurm policy's private test cluster (slurm-up.sh)
)
[[ ${TASKQ_EXTRA_PACKAGES:-} ]] && read -r -a extra <<<"$TASKQ_EXTRA_PACKAGES" && packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
((EUID != 0)) && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
