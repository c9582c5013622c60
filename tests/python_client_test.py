#!/usr/bin/env python3
"""CTest python_client: the Python module `taskq` (python/) drives a real taskqd.

Starts taskqd on a queue and state directory of its own, then checks through the module: every
submit option of `taskq submit` (cpu, io, exec; timeout, retries, group, priority, after, delay,
at, block, wait, a batch that is all or none), wait with and without a timeout, status, list,
cancel, the Task record (the keys of `taskq status --json`, the same values as the command
prints), and that each failure raises its taskq.Error subclass with a one-line message. Last, it
runs README's Python section as written: its `taskq` commands with the built binary, then each
Python block. The daemon is stopped and its queue purged at the end; nothing is left in /dev/shm.

  python_client_test.py BUILD_DIR README   (PYTHONPATH=BUILD_DIR/python)
"""
import dataclasses
import datetime
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

import taskq

BUILD, README = os.path.abspath(sys.argv[1]), sys.argv[2]
TASKQD = os.path.join(BUILD, "daemon", "taskqd")
TASKQ = os.path.join(BUILD, "client", "taskq")


class Daemon:
    """taskqd with a config of its own; stopped with `taskq shutdown --purge` at the end."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="taskq-python-")
        self.queue = f"pytest-{os.getpid()}-{int(time.time() * 1000) % 100000}"
        self.config = os.path.join(self.dir, "taskq.yaml")
        self.state_dir = os.path.join(self.dir, "state")
        with open(self.config, "w") as f:
            f.write(f"queue: {self.queue}\nstate_dir: {self.state_dir}\nworkers: 2\n"
                    "log_level: warn\n")
            if os.geteuid() == 0:  # taskqd refuses root without a user (docs/SECURITY.md)
                f.write("user: root\n")
        self.log = open(os.path.join(self.dir, "taskqd.log"), "w")
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM") and not k.startswith("WATCHDOG_")}
        self.proc = subprocess.Popen([TASKQD, "--config", self.config], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while True:  # until it answers: a state, not a time
            try:
                taskq.Client(config=self.config).ping(timeout=5)
                break
            except taskq.UnavailableError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"taskqd did not come up:\n{self.read_log()}")
                time.sleep(0.01)

    def read_log(self):
        with open(os.path.join(self.dir, "taskqd.log")) as f:
            return f.read()

    def taskq(self, *args):
        return subprocess.run([TASKQ, "--config", self.config, *args], capture_output=True,
                              text=True, check=False)

    def stop(self):
        try:
            if self.proc.poll() is None:
                result = self.taskq("shutdown", "--purge", "--timeout", "60")
                assert result.returncode == 0, result.stderr
                assert self.proc.wait(timeout=90) == 0, "taskqd exit code"
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                self.taskq("purge")
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
        assert not os.path.exists(f"/dev/shm/taskq.{self.queue}.v2"), "segment left in /dev/shm"


def expect_error(cls, code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except cls as e:
        assert isinstance(e, taskq.Error), type(e)
        assert e.code == code, (e.code, str(e))
        assert str(e) and "\n" not in str(e), repr(str(e))
        return e
    raise AssertionError(f"{call.__name__} did not raise {cls.__name__}")


def wait_until_running(client, id):
    """A task is queued until a runner takes it; kill and pause act only on running tasks."""
    deadline = time.monotonic() + 60
    while client.status(id).state != "running" and time.monotonic() < deadline:
        time.sleep(0.01)


def test_cpu_record_is_the_commands(daemon, client):
    task = client.submit_cpu(count=5000, seed=42, wait=True)
    assert isinstance(task, taskq.Task) and task.succeeded and task.finished, task
    assert (task.kind, task.exit_code, task.spec) == ("cpu", 0, {"count": 5000, "seed": 42}), task
    cli = daemon.taskq("submit", "--wait", "--json", "cpu", "--count", "5000", "--seed", "42")
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert task.result == printed["result"], (task.result, printed["result"])
    assert task.result["count"] == 5000
    assert set(dataclasses.asdict(task)) == set(printed), set(printed) ^ set(dataclasses.asdict(task))
    # The same task read by the command and by the module: every key has the same value.
    shown = json.loads(daemon.taskq("status", "--json", str(task.id)).stdout)
    assert dataclasses.asdict(task) == shown, (dataclasses.asdict(task), shown)
    assert client.status(task.id) == task
    assert repr(task).startswith(f"Task(id={task.id}, kind='cpu', state='succeeded', exit_code=0")
    try:
        task.state = "failed"
        raise AssertionError("a Task is frozen")
    except dataclasses.FrozenInstanceError:
        pass


def test_io_options(daemon, client):
    path = os.path.join(daemon.state_dir, "io", "out.dat")  # beneath security.io_root
    task = client.submit_io(bytes=10000, path=path, block_size=1000, fsync=True, wait=True)
    assert task.succeeded, task
    assert os.path.getsize(path) == 10000
    assert task.spec == {"bytes": 10000, "path": path, "block": 1000, "fsync": True}, task.spec
    assert task.result == {"bytes": 10000, "path": path}, task.result
    default = client.submit_io(wait=True)
    assert default.result["path"] == os.path.join(daemon.state_dir, "io", f"{default.id}.dat")
    assert os.path.getsize(default.result["path"]) == 64


def test_exec_options(daemon, client):
    task = client.submit_exec(["/bin/sh", "-c", 'echo "$TZ in $(pwd)"; exit 3'], cwd=daemon.dir,
                              env={"TZ": "UTC0"}, wait=True)
    assert (task.state, task.exit_code) == ("failed", 3), task
    with open(task.result["stdout"]) as f:
        assert f.read() == f"UTC0 in {daemon.dir}\n"
    here = client.submit_exec(["/bin/pwd"], env=["TZ=UTC0"], wait=True)
    with open(here.result["stdout"]) as f:
        assert f.read() == os.getcwd() + "\n", "exec without cwd runs where the submitter is"
    assert here.spec["env"] == ["TZ=UTC0"]
    expect_error(taskq.InvalidError, 2, client.submit_exec, "/bin/true")
    expect_error(taskq.InvalidError, 2, client.submit_exec, [])


def test_timeout_and_retries(daemon, client):
    task = client.submit_exec(["/bin/sleep", "30"], timeout=0.2, retries=2, wait=True)
    assert task.state == "timed_out", task
    assert (task.timeout_ms, task.retries) == (200, 2), task
    expect_error(taskq.InvalidError, 2, client.submit_cpu, timeout=-1)


def test_groups_priority_after(daemon, client):
    added = daemon.taskq("group", "add", "py-group", "--policy", "process", "--max-parallel", "1")
    assert added.returncode == 0, added.stderr
    task = client.submit_cpu(count=1000, group="py-group", priority=7, wait=True)
    assert task.succeeded and (task.group, task.priority) == ("py-group", 7), task
    e = expect_error(taskq.InvalidError, 2, client.submit_cpu, group="no-such-group")
    assert "no-such-group" in str(e)
    first = client.submit_exec(["/bin/sleep", "0.2"])
    then = client.submit_cpu(count=1000, after=[first])
    done_first, done_then = client.wait([first, then], timeout=60)
    assert done_then.succeeded and done_then.after == [first], done_then
    assert done_then.started_at >= done_first.finished_at, (done_first, done_then)


def test_delay_and_at(daemon, client):
    before_us = time.time_ns() // 1000
    task = client.submit_cpu(count=1000, delay=0.3, wait=True)
    assert task.not_before >= before_us + 300000, task
    assert task.started_at >= task.not_before, task
    task = client.submit_cpu(count=1000, delay=datetime.timedelta(milliseconds=200), wait=True)
    assert task.started_at >= task.not_before, task
    at = datetime.datetime.now() + datetime.timedelta(seconds=0.2)
    task = client.submit_cpu(count=1000, at=at, wait=True)
    assert task.not_before == round(at.timestamp() * 1e6), (task.not_before, at.timestamp())
    assert task.started_at >= task.not_before
    expect_error(taskq.InvalidError, 2, client.submit_cpu, delay=1, at=at)


def test_block_and_batches(daemon, client):
    assert client.submit_cpu(count=1000, block=True, wait=True).succeeded
    assert client.submit_cpu(count=1000, block=5.0, wait=True).succeeded
    tasks = client.submit_many([taskq.cpu(count=1000, seed=i) for i in range(5)], wait=True)
    assert [t.spec["seed"] for t in tasks] == list(range(5)) and all(t.succeeded for t in tasks)
    assert len({t.result["checksum"] for t in tasks}) == 5
    held = len(client.list())
    e = expect_error(taskq.InvalidError, 2, client.submit_many,
                     [taskq.cpu(count=10), taskq.exec_(["/bin/true"], priority=12)])
    assert "task 2 of 2" in str(e) and "nothing was submitted" in str(e), str(e)
    assert len(client.list()) == held, "a refused batch submits nothing"


def test_wait_status_list_cancel(daemon, client):
    held = client.submit_cpu(count=1000, delay=3600)
    assert client.status(held).state == "queued"
    e = expect_error(taskq.TimeoutError, 5, client.wait, held, timeout=0.2)
    assert isinstance(e, TimeoutError), "taskq.TimeoutError is a TimeoutError too"
    assert held in [t.id for t in client.list(state="queued")]
    assert client.list(limit=1)[0].id == held, "limit keeps the newest"
    assert all(t.state == "succeeded" for t in client.list(state="succeeded"))
    client.cancel(held)
    task = client.wait(held, timeout=10)
    assert task.state == "cancelled" and task.result is None, task
    expect_error(taskq.FailedError, 1, client.cancel, held)
    e = expect_error(taskq.InvalidError, 2, client.status, 10**9)
    assert isinstance(e, ValueError)
    expect_error(taskq.InvalidError, 2, client.wait, [10**9], timeout=1)
    expect_error(taskq.InvalidError, 2, client.list, state="bogus")


def test_hold_and_release(daemon, client):
    held = client.submit_cpu(count=10, hold=True)
    task = client.status(held)
    assert task.state == "queued" and task.held, task
    expect_error(taskq.FailedError, 1, client.hold, held)
    client.release(held)
    assert client.wait(held, timeout=60).state == "succeeded"
    expect_error(taskq.FailedError, 1, client.release, held)


def test_kill(daemon, client):
    running = client.submit_exec(["/bin/sleep", "300"])
    wait_until_running(client, running)
    expect_error(taskq.InvalidError, 2, client.kill, running, signal="STOP")
    client.kill(running)
    task = client.wait(running, timeout=60)
    assert task.state == "cancelled" and "with SIGTERM" in task.reason, task
    expect_error(taskq.FailedError, 1, client.kill, running)


def test_labels_and_unique(daemon, client):
    first = client.submit_exec(["/bin/sleep", "300"], labels={"team": "web"}, unique="py-nightly")
    again = client.submit_exec(["/bin/true"], unique="py-nightly")
    assert again == first, (first, again)
    task = client.status(first)
    assert task.labels == {"team": "web"} and task.unique == "py-nightly", task
    assert task.array_id is None, task
    expect_error(taskq.InvalidError, 2, client.submit_cpu, labels=["nokey"])
    wait_until_running(client, first)
    client.kill(first)
    assert client.wait(first, timeout=60).state == "cancelled"


def test_retry_on_failure_and_restart(daemon, client):
    id = client.submit_exec(["/bin/sh", "-c", "echo try; exit 3"], retries=1, retry_on=["failed"],
                            retry_delay=0.01)
    task = client.wait(id, timeout=60)
    assert task.state == "failed" and task.attempts == 2, task
    client.restart(id)
    task = client.wait(id, timeout=60)
    assert task.state == "failed" and task.attempts == 4, task
    expect_error(taskq.InvalidError, 2, client.submit_cpu, retry_on="succeeded")


def test_pause_and_resume(daemon, client):
    running = client.submit_exec(["/bin/sleep", "300"])
    wait_until_running(client, running)
    client.pause(running)
    task = client.status(running)
    assert task.state == "paused" and task.paused, task
    expect_error(taskq.FailedError, 1, client.pause, running)
    client.resume(running)
    task = client.status(running)
    assert task.state == "running" and not task.paused, task
    client.kill(running)
    assert client.wait(running, timeout=60).state == "cancelled"


def test_connect_and_ping(daemon, client):
    assert client.ping() == daemon.proc.pid
    assert client.queue == daemon.queue and client.state_dir == daemon.state_dir
    nowhere = f"py-nodaemon-{os.getpid()}"
    e = expect_error(taskq.UnavailableError, 3, taskq.Client, queue=nowhere)
    assert nowhere in str(e), str(e)
    expect_error(taskq.InvalidError, 2, taskq.Client, queue="bad/name")
    assert taskq.__version__ == subprocess.run([TASKQ, "--version"], capture_output=True,
                                               text=True).stdout.split()[1]


def readme_section(text):
    """README's "### Python" section: its shell lines and its Python blocks, in order."""
    section = re.search(r"^### Python\n(.*?)(?=^##)", text, re.M | re.S)
    assert section, "README has no ### Python section"
    blocks = re.findall(r"^```(\w+)\n(.*?)^```", section.group(1), re.M | re.S)
    return blocks


def test_readme_python_section(daemon, client):
    with open(README) as f:
        blocks = readme_section(f.read())
    assert sum(1 for lang, _ in blocks if lang == "python") >= 2, "the two experiments"
    env = dict(os.environ, TASKQ_CONFIG=daemon.config)
    env["PATH"] = os.path.dirname(TASKQ) + os.pathsep + env["PATH"]
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(taskq.__file__)))
    for lang, body in blocks:
        if lang == "sh":
            for line in body.splitlines():
                words = shlex.split(line, comments=True)
                if not words or words[0] != "taskq":
                    continue
                command = shlex.join(words)
                result = subprocess.run(words, env=env, capture_output=True,
                                        text=True, cwd=daemon.dir)
                assert result.returncode == 0, f"{command}: {result.stderr}"
        elif lang == "python":
            result = subprocess.run([sys.executable, "-c", body], env=env, capture_output=True,
                                    text=True, cwd=daemon.dir)
            print(result.stdout, end="")
            assert result.returncode == 0, f"README block failed:\n{body}\n{result.stderr}"
            assert result.stdout.strip(), "a README block printed nothing"


def main():
    tests = [(name, f) for name, f in globals().items() if name.startswith("test_")]
    daemon = Daemon()
    failures = 0
    try:
        client = taskq.Client(config=daemon.config)
        for name, test in tests:
            started = time.monotonic()
            try:
                test(daemon, client)
                print(f"ok   {name} ({time.monotonic() - started:.2f} s)")
            except Exception:  # report every test, not only the first failure
                failures += 1
                print(f"FAIL {name}\n{traceback.format_exc()}")
    finally:
        try:
            daemon.stop()
        except Exception:
            failures += 1
            print(f"FAIL stopping the daemon\n{traceback.format_exc()}")
    print(f"{max(len(tests) - failures, 0)} of {len(tests)} passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
