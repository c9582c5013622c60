# bash completion for taskq(1): commands, options, and from the queue itself the task ids
# (`taskq list --json`) and group names (`taskq group list --json`), asked with the --queue and
# --config already on the command line. Installed as
# /usr/share/bash-completion/completions/taskq; needs nothing from bash-completion.

# The words of `taskq [global options] list --json`-style queries: taskq plus the global options
# typed so far.
_taskq_query() {
  local -a cmd=("${COMP_WORDS[0]}")
  local i word
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    case $word in
      -q | --queue | -c | --config) ((i + 1 < COMP_CWORD)) && cmd+=("$word" "${COMP_WORDS[i + 1]}") && ((i++)) ;;
      --queue=* | --config=*) cmd+=("$word") ;;
    esac
  done
  "${cmd[@]}" "$@" 2>/dev/null
}

_taskq_ids() {  # $1: an optional state
  local -a filter=()
  [[ -n $1 ]] && filter=(--state "$1")
  _taskq_query --json list "${filter[@]}" | grep -o '"id": *[0-9]*' | grep -o '[0-9]*$'
}

_taskq_groups() {
  _taskq_query --json group list | grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

_taskq() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local global_opts="-q --queue -c --config --json --jsonl -h --help --version"
  local commands="submit status wait list cancel kill hold release pause resume restart logs top stats metrics ping shutdown reload purge group doctor bench"
  COMPREPLY=()

  # Values of options.
  case $prev in
    -q | --queue)
      local queues
      # Any layout version: the queues of an older build are names too (taskq purge takes them).
      queues=$(compgen -G '/dev/shm/taskq.*.v[0-9]*' | sed 's|^/dev/shm/taskq\.||; s|\.v[0-9]*$||' | sort -u)
      COMPREPLY=($(compgen -W "$queues" -- "$cur"))
      return ;;
    -c | --config | -o | --output | --batch | --path | --csv | --svg | --taskqd | --python)
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
    --cwd)
      COMPREPLY=($(compgen -d -- "$cur"))
      return ;;
    --state)
      COMPREPLY=($(compgen -W "queued running paused succeeded failed timed_out cancelled lost" -- "$cur"))
      return ;;
    --policy)
      COMPREPLY=($(compgen -W "pool process" -- "$cur"))
      return ;;
    --group)
      COMPREPLY=($(compgen -W "$(_taskq_groups)" -- "$cur"))
      return ;;
    --after)
      COMPREPLY=($(compgen -W "$(_taskq_ids)" -- "$cur"))
      return ;;
    --retry-on)
      COMPREPLY=($(compgen -W "lost failed timed_out" -- "$cur"))
      return ;;
    --each-line)
      COMPREPLY=($(compgen -f -- "$cur"))
      return ;;
    --count | --seed | --bytes | --block-size | --env | --timeout | --retries | --priority | \
      --delay | --at | --limit | --interval | -n | --iterations | --workers | --max-parallel | \
      --label | --unique | --array | --since | --attempt | --retry-delay)
      return ;;
  esac

  # The command and, for submit and group, the word after it.
  local i word command= sub=
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    case $word in
      -q | --queue | -c | --config) ((i++)) ;;
      --) [[ $command == submit ]] && return ;;  # exec's command line: complete nothing special
      -*) ;;
      *)
        if [[ -z $command ]]; then
          command=$word
        elif [[ -z $sub && ($command == submit || $command == group) ]]; then
          sub=$word
        fi ;;
    esac
  done

  local words filters="--label --state --group --since --failed --array"
  case $command in
    "") words="$commands $global_opts" ;;
    submit)
      case $sub in
        "") words="cpu io exec --wait --block --batch --hold --label --unique --array --each-line" ;;
        cpu) words="--count --seed" ;;
        io) words="--bytes --path --block --fsync" ;;
        exec) words="--cwd --env --" ;;
      esac
      [[ -n $sub ]] && words+=" --timeout --retries --retry-on --retry-delay --group --priority --after --delay --at --hold --label --unique" ;;
    status | logs)
      words="$(_taskq_ids)"
      [[ $command == logs ]] && words+=" --stderr --attempt -f --follow" ;;
    wait) words="$(_taskq_ids) --all --timeout --quiet $filters" ;;
    cancel) words="$(_taskq_ids queued) $filters" ;;
    restart) words="$(_taskq_ids) $filters" ;;
    hold | release) words="$(_taskq_ids queued)" ;;
    pause) words="$(_taskq_ids running)" ;;
    resume) words="$(_taskq_ids paused)" ;;
    kill)
      if [[ $prev == --signal ]]; then
        COMPREPLY=($(compgen -W "TERM INT HUP QUIT KILL USR1 USR2 ALRM" -- "$cur"))
        return
      fi
      words="$(_taskq_ids running) --signal $filters" ;;
    list) words="--limit --utc $filters" ;;
    top) words="--interval -n --iterations" ;;
    metrics) words="-o --output" ;;
    ping) words="--timeout" ;;
    shutdown) words="--no-wait --timeout --purge" ;;
    doctor) words="--repair" ;;
    group)
      case $sub in
        "") words="add list remove pause resume" ;;
        add) words="--policy --workers --max-parallel" ;;
        remove | pause | resume) words="$(_taskq_groups)" ;;
      esac ;;
    bench)
      words="--workload --policy --workers --tasks --reps --cpu-count --io-bytes --io-fsync --csv
             --json --svg --preset --with-python --advise --last --taskqd --python --cell-timeout" ;;
  esac
  [[ -n $command ]] && words+=" --json -h --help"
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -F _taskq taskq
