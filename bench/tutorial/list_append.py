#!/usr/bin/env python3
"""Experiment A of the tutorial, re-created: list_append under threads or processes.

Each job appends `--count` pseudo-random floats to its own list, one at a time (the tutorial's
list_append(count, id, out_list)). All jobs are started, then all joined; the program prints
"List processing complete." like the tutorial, then one JSON line with the time it measured
itself. `taskq bench --preset tutorial --with-python` times the whole run from outside too (real,
user, sys, as the tutorial's shell `time` did).

  python3 list_append.py --mode threads --jobs 2 --count 10000000
  python3 list_append.py --mode processes --jobs 4 --count 5000000   # the "split" reading
"""
import argparse
import json
import multiprocessing
import random
import threading
import time


def list_append(count, id, out_list):
    """Creates an empty list and then appends a random number to the list 'count' times."""
    for i in range(count):
        out_list.append(random.random())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["threads", "processes", "serial"], required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--count", type=int, default=10_000_000, help="numbers per job")
    args = parser.parse_args()

    start = time.time()
    if args.mode == "serial":
        for i in range(args.jobs):
            list_append(args.count, i, [])
    else:
        jobs = []
        for i in range(args.jobs):
            out_list = list()
            if args.mode == "threads":
                job = threading.Thread(target=list_append, args=(args.count, i, out_list))
            else:
                job = multiprocessing.Process(target=list_append, args=(args.count, i, out_list))
            jobs.append(job)
        for job in jobs:
            job.start()
        for job in jobs:
            job.join()
    elapsed = time.time() - start
    print("List processing complete.")
    print(json.dumps({"experiment": "A", "mode": args.mode, "jobs": args.jobs,
                      "count": args.count, "elapsed_s": elapsed}))


if __name__ == "__main__":
    main()
