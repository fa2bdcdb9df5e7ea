#!/usr/bin/env python3
"""The gevent peer of benches/zbench: the same benches, one per run, each
printing one JSON line in zbench's format.

    python benches/peers/gevent_core.py spawn [--total N] [--batch N]
    python benches/peers/gevent_core.py yield [--yields N]
    python benches/peers/gevent_core.py rss   [--count N]
    python benches/peers/gevent_core.py queue [--maxsize N] [--count N]
    python benches/peers/gevent_core.py pool-map [--size N] [--items N]
    python benches/peers/gevent_core.py pushpull --transport tcp [--size N] [--count N]   # zmq.green
    python benches/peers/gevent_core.py reqrep   --transport tcp [--size N] [--count N]   # zmq.green
    python benches/peers/gevent_core.py echo-server     # gevent StreamServer; prints its port
    python benches/peers/gevent_core.py relay [--count N]                                  # gipc

Install the peers with `bash benches/peers/setup.sh` (creates .venv here).
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


def timed_pair(producer, consumer):
    """Runs producer() and consumer() as two greenlets, the clock started
    just before; returns the seconds until consumer() returned, and what
    it returned."""
    out = {}

    def timed():
        result = consumer()
        out["secs"] = time.perf_counter() - start
        out["result"] = result

    start = time.perf_counter()
    gevent.joinall([gevent.spawn(producer), gevent.spawn(timed)], raise_error=True)
    return out["secs"], out["result"]


def bench_queue(maxsize, count):
    from gevent.queue import Queue

    gevent.sleep(0)
    q = Queue(maxsize) if maxsize > 0 else Queue()

    def producer():
        put = q.put
        for i in range(count):
            put(i)

    def consumer():
        get = q.get
        total = 0
        for _ in range(count):
            total += get()
        return total

    secs, total = timed_pair(producer, consumer)
    if total != count * (count - 1) // 2:
        raise RuntimeError("queue: items lost")
    return {
        "bench": "queue",
        "impl": "gevent",
        "maxsize": maxsize,
        "count": count,
        "secs": secs,
        "items_per_s": count / secs,
        "ns_per_item": secs * 1e9 / count,
        **meta(),
    }


def ident(x):
    return x


def bench_pool_map(size, items):
    from gevent.pool import Pool

    gevent.sleep(0)
    pool = Pool(size)
    start = time.perf_counter()
    out = pool.map(ident, range(items))
    secs = time.perf_counter() - start
    if len(out) != items or (items and out[-1] != items - 1):
        raise RuntimeError("pool-map: wrong results")
    return {
        "bench": "pool-map",
        "impl": "gevent",
        "size": size,
        "items": items,
        "secs": secs,
        "items_per_s": items / secs,
        "ns_per_item": secs * 1e9 / items,
        **meta(),
    }


def zmq_meta():
    import zmq

    return {"pyzmq": zmq.__version__, "libzmq": zmq.zmq_version(), **meta()}


def bind_random(sock, transport):
    import os

    if transport == "tcp":
        port = sock.bind_to_random_port("tcp://127.0.0.1")
        return "tcp://127.0.0.1:%d" % port
    if transport == "ipc":
        ep = "ipc:///tmp/zbench-py-%d.ipc" % os.getpid()
    else:
        ep = "inproc://zbench-py"
    sock.bind(ep)
    return ep


def zmq_pair(ctx, transport, bound_kind, connected_kind):
    """A socket of ctx of bound_kind bound on transport, and one of
    connected_kind connected to it."""
    bound = ctx.socket(bound_kind)
    ep = bind_random(bound, transport)
    connected = ctx.socket(connected_kind)
    connected.connect(ep)
    return bound, connected


def zmq_close(ctx, *socks):
    """Closes socks (dropping unsent messages), then terminates ctx."""
    for sock in socks:
        sock.close(linger=0)
    ctx.term()


def zmq_result(bench, transport, size, count, secs, **figures):
    """The JSON line of a zmq.green bench: the common fields, figures,
    then the versions."""
    return {
        "bench": bench,
        "impl": "zmq.green",
        "transport": transport,
        "size": size,
        "count": count,
        "secs": secs,
        **figures,
        **zmq_meta(),
    }


def bench_pushpull(transport, size, count):
    import zmq.green as zmq

    ctx = zmq.Context()
    pull, push = zmq_pair(ctx, transport, zmq.PULL, zmq.PUSH)
    buf = b"x" * size
    push.send(buf)
    pull.recv()

    def sender():
        send = push.send
        for _ in range(count):
            send(buf)

    def receiver():
        recv = pull.recv
        for _ in range(count):
            recv()

    secs, _ = timed_pair(sender, receiver)
    zmq_close(ctx, push, pull)
    return zmq_result(
        "pushpull",
        transport,
        size,
        count,
        secs,
        msgs_per_s=count / secs,
        mb_per_s=count * size / secs / 1e6,
    )


def bench_reqrep(transport, size, count):
    import zmq.green as zmq

    ctx = zmq.Context()
    rep, req = zmq_pair(ctx, transport, zmq.REP, zmq.REQ)
    buf = b"x" * size
    out = {}

    def server():
        for _ in range(count + 1):
            rep.send(rep.recv())

    def client():
        req.send(buf)
        req.recv()
        start = time.perf_counter()
        for _ in range(count):
            req.send(buf)
            req.recv()
        out["secs"] = time.perf_counter() - start

    gevent.joinall([gevent.spawn(server), gevent.spawn(client)], raise_error=True)
    secs = out["secs"]
    zmq_close(ctx, req, rep)
    return zmq_result("reqrep", transport, size, count, secs, us_per_rtt=secs * 1e6 / count)


def echo_server():
    import socket

    from gevent.server import StreamServer

    def handle(sock, _addr):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        recv = sock.recv
        sendall = sock.sendall
        while True:
            data = recv(16384)
            if not data:
                return
            sendall(data)

    server = StreamServer(("127.0.0.1", 0), handle, backlog=1024)
    server.start()
    print(json.dumps({"port": server.address[1]}), flush=True)
    server.serve_forever()


def relay_child(end):
    while True:
        n = end.get()
        if n is None:
            return
        end.put(n)


def bench_relay(count):
    import gipc

    with gipc.pipe(duplex=True) as (mine, theirs):
        child = gipc.start_process(relay_child, args=(theirs,))
        mine.put(0)
        mine.get()
        start = time.perf_counter()
        for i in range(1, count + 1):
            mine.put(i)
            if mine.get() != i:
                raise RuntimeError("relay: wrong echo")
        secs = time.perf_counter() - start
        mine.put(None)
        child.join()
    return {
        "bench": "relay",
        "impl": "gipc",
        "count": count,
        "secs": secs,
        "round_trips_per_s": count / secs,
        "us_per_rtt": secs * 1e6 / count,
        "gipc": gipc.__version__,
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
    q = sub.add_parser("queue")
    q.add_argument("--maxsize", type=int, default=0)
    q.add_argument("--count", type=int, default=1_000_000)
    pm = sub.add_parser("pool-map")
    pm.add_argument("--size", type=int, default=100)
    pm.add_argument("--items", type=int, default=1_000_000)
    for name in ("pushpull", "reqrep"):
        z = sub.add_parser(name)
        z.add_argument("--transport", choices=["tcp", "ipc", "inproc"], default="tcp")
        z.add_argument("--size", type=int, default=100)
        z.add_argument("--count", type=int, default=100_000)
    sub.add_parser("echo-server")
    rl = sub.add_parser("relay")
    rl.add_argument("--count", type=int, default=20_000)
    a = p.parse_args(argv)
    if a.bench == "queue":
        out = bench_queue(a.maxsize, max(a.count, 1))
    elif a.bench == "pool-map":
        out = bench_pool_map(max(a.size, 1), max(a.items, 1))
    elif a.bench == "pushpull":
        out = bench_pushpull(a.transport, a.size, max(a.count, 1))
    elif a.bench == "reqrep":
        out = bench_reqrep(a.transport, a.size, max(a.count, 1))
    elif a.bench == "echo-server":
        echo_server()
        return
    elif a.bench == "relay":
        out = bench_relay(max(a.count, 1))
    elif a.bench == "spawn":
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
