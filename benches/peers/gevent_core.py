#!/usr/bin/env python3
"""The gevent peer of benches/zbench: the same three benches, one per run,
each printing one JSON line in zbench's format.

    python benches/peers/gevent_core.py spawn [--total N] [--batch N]
    python benches/peers/gevent_core.py yield [--yields N]
    python benches/peers/gevent_core.py rss   [--count N]

Install gevent with `bash benches/peers/setup.sh` (creates .venv here).
"""

import argparse
import json
import platform
import sys
import time

import gevent


def meta():
    return {"gevent": gevent.__version__, "python": platform.python_version()}


def vm_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def map_count():
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def noop():
    pass


def bench_spawn(total, batch):
    gevent.sleep(0)  # create the hub before timing
    batches = total // batch
    spawn = gevent.spawn
    start = time.perf_counter()
    first_batch = 0.0
    for b in range(batches):
        gevent.joinall([spawn(noop) for _ in range(batch)])
        if b == 0:
            first_batch = time.perf_counter() - start
    elapsed = time.perf_counter() - start
    rest = elapsed - first_batch
    return {
        "bench": "spawn",
        "impl": "gevent",
        "ns_per_op": elapsed * 1e9 / total,
        "first_batch_ns_per_op": first_batch * 1e9 / batch,
        "later_batches_ns_per_op": rest * 1e9 / (total - batch) if batches > 1 else float("nan"),
        "total": total,
        "batch": batch,
        **meta(),
    }


def bench_yield(yields):
    gevent.sleep(0)
    half = yields // 2
    sleep = gevent.sleep

    def body():
        for _ in range(half):
            sleep(0)

    start = time.perf_counter()
    gevent.joinall([gevent.spawn(body), gevent.spawn(body)], raise_error=True)
    elapsed = time.perf_counter() - start
    done = half * 2
    return {
        "bench": "yield",
        "impl": "gevent",
        "ns_per_op": elapsed * 1e9 / done,
        "yields": done,
        **meta(),
    }


def bench_rss(count):
    gevent.sleep(0)
    maps_before = map_count()
    before = vm_rss_bytes()
    greenlets = [gevent.spawn(gevent.sleep, 3600) for _ in range(count)]
    gevent.sleep(0)  # every new greenlet runs up to its park
    # Started and suspended (an unstarted greenlet has no frame yet).
    live = sum(1 for g in greenlets if g.gr_frame is not None)
    after = vm_rss_bytes()
    maps_after = map_count()
    gevent.killall(greenlets)
    per = max(after - before, 0) / count
    return {
        "bench": "rss",
        "impl": "gevent",
        "bytes_per_greenlet": per,
        "kib_per_greenlet": per / 1024.0,
        "count": count,
        "requested": count,
        "live_greenlets": live,
        "rss_before": before,
        "rss_after": after,
        "maps_before": maps_before,
        "maps_after": maps_after,
        **meta(),
    }


def main(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="bench", required=True)
    s = sub.add_parser("spawn")
    s.add_argument("--total", type=int, default=1_000_000)
    s.add_argument("--batch", type=int, default=10_000)
    y = sub.add_parser("yield")
    y.add_argument("--yields", type=int, default=10_000_000)
    r = sub.add_parser("rss")
    r.add_argument("--count", type=int, default=30_000)
    a = p.parse_args(argv)
    if a.bench == "spawn":
        if a.batch <= 0 or a.total <= 0 or a.total % a.batch:
            p.error("--total must be a positive multiple of --batch")
        out = bench_spawn(a.total, a.batch)
    elif a.bench == "yield":
        out = bench_yield(max(a.yields, 2))
    else:
        out = bench_rss(max(a.count, 1))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
