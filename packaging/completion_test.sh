#!/usr/bin/env bash
# CTest completion: the bash completion loads (`complete -p taskq`) and completes commands,
# options, and the task ids, group names and name of a real queue (a private taskqd); the zsh one
# parses.
# Usage: completion_test.sh COMPLETION_DIR TASKQ TASKQD
set -euo pipefail
dir=$1 taskq=$2 taskqd=$3
fail() {
  echo "FAIL: $*"
  exit 1
}
scratch=$(mktemp -d /tmp/taskq-completion-XXXXXX)
queue="completion-$$-$RANDOM"
daemon_pid=
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then
    "$taskq" --queue "$queue" shutdown --purge --timeout 60 >/dev/null 2>&1 || kill -KILL "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null || true
  fi
  "$taskq" --queue "$queue" purge >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

loaded=$(bash -c "source '$dir/taskq.bash'; complete -p taskq") || fail "complete -p taskq"
[[ $loaded == "complete -F _taskq taskq" ]] || fail "complete -p taskq: $loaded"

# complete WORDS...: what _taskq offers for the last word, one per line, sorted. taskq is the one
# built here (first on PATH); the environment names no configuration.
complete_words() {
  PATH="$(dirname "$taskq"):$PATH" TASKQ_CONFIG= bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _taskq
    printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$dir/taskq.bash" "$@"
}
expect() {  # expect "WORD" WORDS...: WORD is among the completions of WORDS
  local want=$1
  shift
  grep -qx -- "$want" <<<"$(complete_words "$@")" || fail "'$*' does not offer '$want': $(complete_words "$@" | tr '\n' ' ')"
}
expect submit taskq su
expect metrics taskq me
expect --queue taskq --q
expect exec taskq submit e
expect --count taskq submit cpu --co
expect --group taskq submit cpu --gr
expect --purge taskq shutdown --p
expect failed taskq list --state f
expect paused taskq list --state p
expect --each-line taskq submit --ea
expect --label taskq kill --la
expect --since taskq cancel --si
[[ -z $(complete_words taskq submit exec -- /bin/tr) ]] || fail "completes after exec's --"

# Task ids and group names from a real queue. As root (CI) taskqd needs an explicit user.
user_args=()
((EUID == 0)) && user_args=(--user root)
env -u NOTIFY_SOCKET -u WATCHDOG_USEC "$taskqd" --queue "$queue" --state-dir "$scratch/state" \
  --workers 1 "${user_args[@]}" 2>"$scratch/taskqd.log" &
daemon_pid=$!
for ((i = 0; i < 6000; ++i)); do  # until it answers (a state, not a time: 60 s at most)
  "$taskq" --queue "$queue" ping --timeout 5 >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$scratch/taskqd.log"; fail "taskqd exited"; }
  sleep 0.01
done
"$taskq" --queue "$queue" group add nightly >/dev/null || fail "group add"
"$taskq" --queue "$queue" group pause nightly >/dev/null || fail "group pause"
id=$("$taskq" --queue "$queue" submit cpu --count 10 --group nightly) || fail "submit"
expect "$id" taskq --queue "$queue" status ""
expect "$id" taskq --queue "$queue" cancel ""
expect nightly taskq --queue "$queue" group resume ""
expect nightly taskq --queue="$queue" submit io --group ""
expect default taskq -q "$queue" group pause ""
expect "$queue" taskq --queue "${queue:0:12}"

if command -v zsh >/dev/null; then
  zsh -n "$dir/_taskq" || fail "zsh -n _taskq"
  head -1 "$dir/_taskq" | grep -qx '#compdef taskq' || fail "_taskq lacks #compdef taskq"
fi
echo "OK: bash completion loads and completes commands, options, ids, groups and queues"
