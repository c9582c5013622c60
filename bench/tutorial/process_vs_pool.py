#!/usr/bin/env python3
"""Experiment B of the tutorial, re-created: file create/write/close through Process or Pool.

test() creates a file, writes a short string and closes it. `--mode process` starts one
multiprocessing.Process per call and joins them all; `--mode pool` maps the calls over a
multiprocessing.Pool (created inside the timed region, as in the tutorial). Prints one JSON line:
the time around the whole run (time.time(), as the tutorial measured) and, for the pool, the part
spent creating it.

  python3 process_vs_pool.py --mode process --calls 10
  python3 process_vs_pool.py --mode pool --calls 1000 --workers 2
"""
import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
import time


def test(path):
    f = open(path, "w")
    f.write("This is a test of taskq's policy lab.\n")
    f.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["process", "pool"], required=True)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="pool size (default: one per CPU, as Pool() does)")
    args = parser.parse_args()

    directory = tempfile.mkdtemp(prefix="taskq-bench-py-")
    paths = [os.path.join(directory, f"{i}.txt") for i in range(args.calls)]
    pool_create = 0.0
    try:
        start = time.time()
        if args.mode == "process":
            procs = []
            for path in paths:
                p = multiprocessing.Process(target=test, args=(path,))
                procs.append(p)
                p.start()
            for p in procs:
                p.join()
        else:
            pool = multiprocessing.Pool(args.workers)
            pool_create = time.time() - start
            pool.map(test, paths)
            pool.close()
            pool.join()
        elapsed = time.time() - start
        written = sum(1 for path in paths if os.path.exists(path))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps({"experiment": "B", "mode": args.mode, "calls": args.calls,
                      "workers": args.workers if args.mode == "pool" else args.calls,
                      "elapsed_s": elapsed, "pool_create_s": pool_create,
                      "files_written": written}))


if __name__ == "__main__":
    main()
