#!/usr/bin/env bash
# CTest man_pages: every built page (taskq(1), taskqd(8), taskq.yaml(5), taskq-run(1)) renders
# with `man -l` without a groff warning, has its sections, and documents what the binaries
# offer: each command of `taskq --help` in taskq(1), each option of `taskqd --help` in taskqd(8),
# each top-level key of config/taskq.yaml in taskq.yaml(5); and every binary's --version prints
# the project version.
# Usage: man_test.sh MAN_DIR TASKQ TASKQD TASKQ_RUN CONFIG VERSION
set -euo pipefail
man_dir=$1 taskq=$2 taskqd=$3 taskq_run=$4 config=$5 version=$6
command -v man >/dev/null || { echo "SKIP: man not installed (apt-get install man-db)"; exit 77; }
fail() {
  echo "FAIL: $*"
  exit 1
}
scratch=$(mktemp -d /tmp/taskq-man-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

render() {  # page.gz -> plain text; groff's warnings (-ww) go to stderr, which must stay empty
  MANWIDTH=100 MAN_KEEP_FORMATTING= man --warnings -l "$man_dir/$1" 2>"$scratch/err" | col -b
  [[ ! -s $scratch/err ]] || fail "$1: man -l warns: $(cat "$scratch/err")"
}

for page in taskq.1.gz taskqd.8.gz taskq.yaml.5.gz taskq-run.1.gz; do
  [[ -f $man_dir/$page ]] || fail "no $man_dir/$page"
  text=$(render "$page")
  for section in NAME SYNOPSIS DESCRIPTION "SEE ALSO"; do
    grep -q "^$section" <<<"$text" || fail "$page has no $section section"
  done
  grep -qF "taskq $version" <<<"$text" || fail "$page does not name version $version"
done

text=$(render taskq.1.gz)
commands=$("$taskq" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && /^  [a-z]/ {print $1}')
[[ -n $commands ]] || fail "no commands in taskq --help"
for command in $commands; do
  grep -qE "^ +$command( |$)" <<<"$text" || fail "taskq(1) does not document command '$command'"
done
for option in --queue --config --json --version; do
  grep -qe "$option" <<<"$text" || fail "taskq(1) lacks $option"
done

text=$(render taskqd.8.gz)
options=$("$taskqd" --help | grep -E '^  -' | grep -oE -- '--[a-z][a-z-]*')
[[ -n $options ]] || fail "no options in taskqd --help"
for option in $options; do
  grep -qe "$option" <<<"$text" || fail "taskqd(8) does not document $option"
done

text=$(render taskq.yaml.5.gz)
for key in $(grep -oE '^[a-z_]+:' "$config" | tr -d :); do
  grep -qE "^ +$key:" <<<"$text" || fail "taskq.yaml(5) lacks key $key"
done

for binary in "$taskq" "$taskqd" "$taskq_run"; do
  name=$(basename "$binary")
  out=$("$binary" --version) || fail "$name --version exits non-zero"
  [[ $out == "$name $version" ]] || fail "$name --version printed '$out', not '$name $version'"
done
echo "OK: man pages render and document the binaries; --version prints $version"
