#!/usr/bin/env bash
# make demo: runs the tutorial's experiments on a real taskqd (scripts/demo.py) and leaves
# nothing behind, even when interrupted.
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
python3 scripts/demo.py "$build"
# The default state directory's parent (/tmp/taskq-<uid>) is only removed when empty.
rmdir "/tmp/taskq-$(id -u)" 2>/dev/null || true
