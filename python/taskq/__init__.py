"""taskq: submit tasks to a running taskqd, wait for them and read their records.

The Python face of libtaskq (include/taskq/taskq.h): it goes straight through the queue's shared
memory, as the `taskq` command does, with no process per call.

    import taskq
    client = taskq.Client()                        # queue: $TASKQ_QUEUE, the config's, taskq-<uid>
    task = client.submit_cpu(count=1_000_000, wait=True)
    print(task.state, task.result["checksum"], task.run_us)

A Task has the keys of `taskq status --json` as attributes, in the same units (times are Unix
epoch microseconds, None while unknown). Errors raise a subclass of taskq.Error whose message is
the one line `taskq` would print and whose `code` is its exit code.
"""
import dataclasses
import datetime
import os
import time
from typing import Any, Optional

from taskq._taskq import (Error, FailedError, InvalidError, QueueFullError, TimeoutError,
                          UnavailableError)
from taskq import _taskq

__version__ = _taskq.version()
__all__ = ["Client", "Task", "Spec", "cpu", "io", "exec_", "Error", "FailedError", "InvalidError",
           "QueueFullError", "TimeoutError", "UnavailableError", "STATES", "FINISHED"]

STATES = ("queued", "running", "paused", "succeeded", "failed", "timed_out", "cancelled", "lost")
FINISHED = frozenset(STATES[3:])


@dataclasses.dataclass(frozen=True)
class Task:
    """One task's record, as `taskq status --json` prints it."""
    id: int
    kind: str  # "cpu" | "io" | "exec"
    state: str  # one of STATES
    exit_code: Optional[int]
    signal: Optional[int]
    submitted_at: Optional[int]
    started_at: Optional[int]
    finished_at: Optional[int]
    queue_wait_us: Optional[int]
    run_us: Optional[int]
    user_us: int
    sys_us: int
    max_rss_kb: int
    pid: Optional[int]
    attempts: int
    retries: int
    timeout_ms: Optional[int]
    uid: int
    group: str
    priority: int
    after: list
    not_before: Optional[int]
    held: bool
    retry_on: str  # the ends retried: "lost", "failed,timed_out,lost", ...
    retry_delay_ms: Optional[int]
    retry_delay_max_ms: Optional[int]
    attempt_log: list  # [{"attempt", "state", "exit_code", "signal"}] of the last 8 attempts
    labels: dict  # KEY -> VALUE
    unique: Optional[str]
    array_id: Optional[int]  # submit --array/--each-line: the array's first task
    array_index: Optional[int]
    paused: bool  # running but stopped (state "paused") until resume()
    paused_us: int  # time this run spent paused: neither run time nor counted by its timeout
    result: Optional[dict]  # cpu: checksum, count; io: bytes, path; exec: stdout, stderr
    spec: Optional[dict]
    reason: Optional[str]
    cpu_share: Optional[float]
    read_bytes: int
    write_bytes: int
    vol_ctxsw: int
    invol_ctxsw: int

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"

    def __repr__(self) -> str:
        parts = [f"id={self.id}", f"kind={self.kind!r}", f"state={self.state!r}"]
        if self.exit_code is not None:
            parts.append(f"exit_code={self.exit_code}")
        if self.signal is not None:
            parts.append(f"signal={self.signal}")
        if self.run_us is not None:
            parts.append(f"run_us={self.run_us}")
        if self.result is not None:
            parts.append(f"result={self.result!r}")
        if self.reason is not None:
            parts.append(f"reason={self.reason!r}")
        return f"Task({', '.join(parts)})"


@dataclasses.dataclass(frozen=True)
class Spec:
    """What to run, built by cpu(), io() or exec_(): their keyword arguments, in the units libtaskq
    takes (-1 or "" = the daemon's default)."""
    kind: str
    count: int = 1_000_000
    seed: int = 0
    bytes: int = 64
    path: str = ""
    block_size: int = 4096
    fsync: bool = False
    argv: tuple = ()
    cwd: str = ""
    env: tuple = ()
    timeout_ms: int = -1
    retries: int = -1
    group: str = ""
    priority: int = -1
    after: tuple = ()
    not_before_us: int = 0
    hold: bool = False
    retry_on: str = ""  # "failed,timed_out,lost"; "" = lost
    retry_delay_ms: int = 0
    retry_delay_max_ms: int = 0  # > 0: the delay doubles per retry up to this
    labels: tuple = ()  # "KEY=VALUE" strings
    unique: str = ""    # submitted only if no queued or running task has this key


def _seconds(value, name) -> float:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidError(f"{name}: expected seconds (a number >= 0 or a timedelta), got {value!r}")
    return float(value)


def _options(timeout=None, retries=None, group=None, priority=None, after=(), delay=None,
             at=None, hold=False, labels=None, unique=None, retry_on=None,
             retry_delay=None, retry_delay_max=None) -> dict:
    """The options every kind takes, as `taskq submit KIND` has them: timeout (seconds), retries,
    group, priority (0..9), after (task ids), delay (seconds or timedelta) or at (a datetime, or
    Unix epoch seconds), hold (runs only after `release`), labels (a dict or KEY=VALUE strings),
    unique (a key: submitted only if no queued or running task has it, else that task's id),
    retry_on ("failed,timed_out,lost" or a list of them: the ends retried while retries last),
    retry_delay (seconds before each retry) and retry_delay_max (doubling up to it)."""
    options: dict[str, Any] = {"hold": bool(hold)}
    if retry_on is not None:
        options["retry_on"] = retry_on if isinstance(retry_on, str) else ",".join(retry_on)
    if retry_delay is not None:
        options["retry_delay_ms"] = round(_seconds(retry_delay, "retry_delay") * 1000)
    if retry_delay_max is not None:
        options["retry_delay_max_ms"] = round(_seconds(retry_delay_max, "retry_delay_max") * 1000)
    if labels:
        options["labels"] = (tuple(f"{k}={v}" for k, v in labels.items())
                             if isinstance(labels, dict) else tuple(str(l) for l in labels))
    if unique is not None:
        options["unique"] = str(unique)
    if timeout is not None:
        ms = round(_seconds(timeout, "timeout") * 1000)
        options["timeout_ms"] = 1 if ms == 0 and timeout else ms
    if retries is not None:
        options["retries"] = retries
    if group is not None:
        options["group"] = group
    if priority is not None:
        options["priority"] = priority
    if isinstance(after, int):
        after = (after,)
    options["after"] = tuple(after)
    if delay is not None and at is not None:
        raise InvalidError("delay and at: give one of them, not both")
    if delay is not None:
        us = round(_seconds(delay, "delay") * 1e6)
        options["not_before_us"] = time.time_ns() // 1000 + us if us > 0 else 0
    if at is not None:
        epoch = at.timestamp() if isinstance(at, datetime.datetime) else _seconds(at, "at")
        options["not_before_us"] = round(epoch * 1e6)
    return options


def cpu(count=1_000_000, seed=0, **options) -> Spec:
    """The tutorial's list_append: append `count` pseudo-random numbers (`taskq submit cpu`)."""
    return Spec("cpu", count=count, seed=seed, **_options(**options))


def io(bytes=64, path=None, block_size=4096, fsync=False, **options) -> Spec:
    """Create, write `bytes` bytes, close a file (`taskq submit io`); path None =
    <state_dir>/io/<id>.dat."""
    return Spec("io", bytes=bytes, path=path or "", block_size=block_size, fsync=fsync,
                **_options(**options))


def exec_(argv, cwd=None, env=None, **options) -> Spec:
    """Run a command (`taskq submit exec -- ARGV`): argv a list, cwd None = this process's working
    directory (as with the command), env a dict or NAME=VALUE strings added to the task's
    environment."""
    if isinstance(argv, str):
        raise InvalidError("argv: expected a list of words, e.g. ['/bin/echo', 'hi'], not a string")
    if isinstance(env, dict):
        env = [f"{k}={v}" for k, v in env.items()]
    return Spec("exec", argv=tuple(argv), cwd=cwd if cwd is not None else os.getcwd(),
                env=tuple(env or ()), **_options(**options))


class Client:
    """A connection to one queue. queue None = $TASKQ_QUEUE, else the configuration's, else
    taskq-<uid>; config None = $TASKQ_CONFIG, else /etc/taskq/taskq.yaml when it exists. Not
    thread-safe: use one per thread."""

    def __init__(self, queue: Optional[str] = None, config: Optional[str] = None):
        self._client = _taskq.Client(queue or "", config or "")

    @property
    def queue(self) -> str:
        return self._client.queue

    @property
    def state_dir(self) -> str:
        return self._client.state_dir

    def submit_many(self, specs, block=False, wait=False):
        """Submits Specs in order, all or none when one is refused (`taskq submit --batch`).
        block: on a full queue wait for room (True, or at most that many seconds) instead of
        raising QueueFullError. wait: wait for the tasks and return them instead of their ids."""
        specs = list(specs)
        block_timeout_ms = -1
        if block is not True and block is not False:
            block_timeout_ms = round(_seconds(block, "block") * 1000)
        ids = self._client.submit(specs, bool(block), block_timeout_ms)
        return self.wait(ids) if wait else ids

    def submit(self, spec: Spec, block=False, wait=False):
        """Submits one Spec; returns its id, or with wait=True the finished Task."""
        result = self.submit_many([spec], block=block, wait=wait)
        return result[0]

    def submit_cpu(self, count=1_000_000, seed=0, block=False, wait=False, **options):
        return self.submit(cpu(count, seed, **options), block=block, wait=wait)

    def submit_io(self, bytes=64, path=None, block_size=4096, fsync=False, block=False,
                  wait=False, **options):
        return self.submit(io(bytes, path, block_size, fsync, **options), block=block, wait=wait)

    def submit_exec(self, argv, cwd=None, env=None, block=False, wait=False, **options):
        return self.submit(exec_(argv, cwd, env, **options), block=block, wait=wait)

    def wait(self, ids, timeout=None):
        """Waits until the task (an id) or tasks (a list of ids) finished and returns the Task or
        Tasks in the same order. timeout in seconds (None = forever); raises taskq.TimeoutError
        when it runs out."""
        single = isinstance(ids, int)
        timeout_ms = -1 if timeout is None else round(_seconds(timeout, "timeout") * 1000)
        tasks = [Task(**d) for d in self._client.wait([ids] if single else list(ids), timeout_ms)]
        return tasks[0] if single else tasks

    def status(self, id: int) -> Task:
        """One task's record (`taskq status ID`)."""
        return Task(**self._client.get(id))

    def list(self, state: Optional[str] = None, limit: Optional[int] = None) -> list:
        """The queue's tasks, oldest first; limit keeps the newest N (`taskq list [--state S]
        [--limit N]`)."""
        if state is not None and state not in STATES:
            raise InvalidError(f"state: expected one of {', '.join(STATES)}, got {state!r}")
        tasks = [Task(**d) for d in self._client.list()]
        if state is not None:
            tasks = [t for t in tasks if t.state == state]
        return tasks if limit is None else tasks[len(tasks) - min(limit, len(tasks)):]

    def cancel(self, *ids: int) -> None:
        """Cancels queued tasks (`taskq cancel ID...`); raises for the first that cannot be."""
        for id in ids:
            self._client.cancel(id)

    def kill(self, *ids: int, signal: Optional[str] = None) -> None:
        """Stops running tasks (`taskq kill ID... [--signal SIG]`): SIGTERM to each task's
        process group, then SIGKILL after kill_grace, or `signal` ("INT", "USR1", ...) once. The
        tasks end cancelled. Raises for the first that cannot be killed."""
        for id in ids:
            self._client.kill(id, "" if signal is None else signal)

    def hold(self, *ids: int) -> None:
        """Keeps queued tasks back (`taskq hold ID...`); raises for the first that cannot be."""
        for id in ids:
            self._client.hold(id)

    def release(self, *ids: int) -> None:
        """Lets held tasks run (`taskq release ID...`); raises for the first that cannot be."""
        for id in ids:
            self._client.release(id)

    def restart(self, *ids: int) -> None:
        """Runs finished tasks again as new attempts of the same ids (`taskq restart ID...`);
        raises for the first that cannot be."""
        for id in ids:
            self._client.restart(id)

    def pause(self, *ids: int) -> None:
        """Stops running tasks (`taskq pause ID...`: SIGSTOP to an exec command's process group,
        a cpu/io task waits); their state reads "paused". Raises for the first that cannot be."""
        for id in ids:
            self._client.pause(id)

    def resume(self, *ids: int) -> None:
        """Lets paused tasks go on (`taskq resume ID...`); raises for the first that cannot."""
        for id in ids:
            self._client.resume(id)

    def ping(self, timeout=5.0) -> int:
        """A round trip through the daemon; returns its pid (`taskq ping`)."""
        return self._client.ping(round(_seconds(timeout, "timeout") * 1000))
