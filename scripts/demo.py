#!/usr/bin/env python3
"""make demo: the tutorial's two experiments on the real taskqd, under both policies.

For each configuration it starts taskqd with the built-in default configuration (only the queue
name, the policy and the worker count are given on the command line), submits the tasks in one
batch, waits for them, reads every task's record with `taskq list --json`, stops the daemon and
purges the queue. Nothing is left behind: no segment in /dev/shm, no state directory, no process.

Experiment A (CPU-bound): 4 equal `cpu` tasks of 10,000,000 random numbers (the tutorial's
list_append size) with 1, 2 and 4 workers. Experiment B (I/O-bound): 200 `io` tasks that create a
file, write 64 bytes and close it, one worker per core. Wall time is first submit to last finish;
user and sys are the tasks' own CPU times (getrusage of the runner), as `time` would show them.
"""
import json
import os
import signal
import subprocess
import sys
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
TASKQD = os.path.join(BUILD, "daemon", "taskqd")
TASKQ = os.path.join(BUILD, "client", "taskq")
QUEUE = f"taskq-demo-{os.getpid()}"
CPU_TASKS, CPU_COUNT = 4, 10_000_000
IO_TASKS, IO_BYTES = 200, 64
CORES = os.cpu_count() or 1


def taskq(*args, stdin=None):
    return subprocess.run([TASKQ, "--queue", QUEUE, *args], input=stdin, text=True,
                          capture_output=True, check=False)


class Daemon:
    """taskqd on the built-in defaults, started and waited for until `taskq ping` answers."""

    def __init__(self, policy, workers):
        self.args = [TASKQD, "--queue", QUEUE, "--policy", policy, "--workers", str(workers),
                     "--max-parallel", str(workers), "--log-level", "warn"]
        if os.geteuid() == 0:  # taskqd refuses root without an explicit user (docs/SECURITY.md)
            self.args += ["--user", "root"]

    def __enter__(self):
        started = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL)
        while taskq("ping", "--timeout", "0.2").returncode != 0:
            if self.proc.poll() is not None:
                sys.exit(f"demo: taskqd exited with {self.proc.returncode}; see its log above")
            if time.monotonic() - started > 30:
                self.proc.kill()
                sys.exit("demo: taskqd did not become ready within 30 s")
            time.sleep(0.01)
        self.startup_s = time.monotonic() - started
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        taskq("purge")


def run(policy, workers, lines):
    with Daemon(policy, workers) as daemon:
        submitted = taskq("submit", "--batch", "-", stdin="".join(lines))
        if submitted.returncode != 0:
            sys.exit(f"demo: submit failed: {submitted.stderr.strip()}")
        waited = taskq("wait", "--all", "--quiet", "--timeout", "600")
        if waited.returncode != 0:
            sys.exit(f"demo: tasks did not all succeed (exit {waited.returncode}): "
                     f"{waited.stderr.strip()}")
        tasks = json.loads(taskq("list", "--json").stdout)
    wall_us = max(t["finished_at"] for t in tasks) - min(t["submitted_at"] for t in tasks)
    return {
        "policy": policy, "workers": workers, "tasks": len(tasks),
        "startup": daemon.startup_s,
        "real": wall_us / 1e6,
        "user": sum(t["user_us"] for t in tasks) / 1e6,
        "sys": sum(t["sys_us"] for t in tasks) / 1e6,
    }


def print_table(title, rows, baseline_key):
    print(f"\n{title}")
    print(f"{'policy':<8} {'workers':>7} {'tasks':>6} {'real s':>8} {'user s':>8} {'sys s':>8} "
          f"{'speedup':>8} {'start s':>8}")
    for row in rows:
        base = baseline_key(row)
        speedup = base["real"] / row["real"] if row["real"] > 0 else float("nan")
        print(f"{row['policy']:<8} {row['workers']:>7} {row['tasks']:>6} {row['real']:>8.3f} "
              f"{row['user']:>8.3f} {row['sys']:>8.3f} {speedup:>7.2f}x {row['startup']:>8.3f}")


def main():
    for binary in (TASKQD, TASKQ):
        if not os.access(binary, os.X_OK):
            sys.exit(f"demo: {binary} not found; run `make build` first")
    print(f"taskq demo: queue {QUEUE}, {CORES} cores, built-in default configuration")

    cpu_lines = [f"cpu --count {CPU_COUNT} --seed {i}\n" for i in range(CPU_TASKS)]
    cpu_rows = [run(policy, workers, cpu_lines)
                for policy in ("pool", "process") for workers in (1, 2, 4)]
    print_table(f"A. CPU-bound: {CPU_TASKS} x cpu --count {CPU_COUNT:,} "
                f"(speedup vs 1 worker of the same policy)",
                cpu_rows, lambda r: next(b for b in cpu_rows
                                         if b["policy"] == r["policy"] and b["workers"] == 1))

    io_lines = [f"io --bytes {IO_BYTES}\n" for _ in range(IO_TASKS)]
    io_rows = [run(policy, CORES, io_lines) for policy in ("process", "pool")]
    print_table(f"B. I/O-bound: {IO_TASKS} x io --bytes {IO_BYTES} (create, write, close; "
                f"speedup vs process)", io_rows, lambda r: io_rows[0])

    print("\nreal = first submit to last finish; user/sys = the tasks' CPU time; "
          "start = daemon start until it answers.\nThe tutorial's figures and a fuller matrix: "
          "taskq bench --preset tutorial (docs/POLICY-LAB.md).")


if __name__ == "__main__":
    main()
