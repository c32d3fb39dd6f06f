"""Throughput of ferry.mooncake's batch_put_from / batch_get_into beside a plain memory copy.

    FERRY_HOME=target/ferry-dist python3 -m ferry.bench --master 127.0.0.1:50051

Starts one sidecar (setup) against the master, then for each value size and each kind of
memory (``allocator``: MooncakeHostMemAllocator, which the sidecar maps; ``private``: a
ctypes buffer given to register_buffer, which the sidecar reaches with process_vm_readv /
writev where the kernel lets it, else through the staging buffer) times
``--iterations`` calls of batch_put_from and of batch_get_into, each of ``--batch`` values
under fresh keys (removed after each iteration, untimed), after untimed calls: at least
``--warmup`` of them and for at least ``--warmup-seconds`` (default 3 s), so that the
sidecar's and the master's hot paths are compiled (a fresh JVM runs them several times slower
for its first thousands of calls) and the figures are the steady state an engine's
long-running sidecar sees. The calls take the windows of a source and a destination
region of ``--region`` bytes in turn (default 256 MiB, larger than a server's last-level
cache), so that they read and write DRAM as an engine's puts and gets of a large KV pool do;
``--region 0`` uses one window again and again, which stays in cache. Beside them, in the
same run: ``ctypes.memmove`` of the same bytes, ``zlib.crc32`` over them (CRC-32, for scale:
the standard library has no CRC32C), and the baseline of the goals: ``ferry bench copy-crc``
of the distribution, a one-thread off-heap copy plus CRC32C (the checksum the store computes
for every block) of the same number of bytes through regions of the same size, run before
the measurements.

Prints one line per (operation, memory, size): GB/s (10^9 bytes per second of the calls'
summed time), the p50 / p99 of one call in microseconds (nearest rank: with few
iterations p99 is the slowest call), and the ratio to the copy+crc32c baseline of that
size. Every value read is checked against what was written; a wrong byte or a failed call
exits 1. The last line says how many values each copy path served (MooncakeDistributedStore.debug_info).
"""

import argparse
import ctypes
import math
import os
import subprocess
import sys
import time
import zlib

from .launcher import find_jdk25, find_launcher
from .memory import MooncakeHostMemAllocator
from .mooncake import OK, MooncakeDistributedStore
from .sizes import parse_size


def percentile(samples, fraction):
    """Nearest-rank percentile of a non-empty list (fraction in 0..1)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered), max(1, math.ceil(fraction * len(ordered)))) - 1]


def line(op, memory, size, nbytes, times, baseline=None):
    """One result line: bytes moved per call, the calls' durations in seconds, and the ratio to
    baseline (GB/s of copy+crc32c of the same bytes) when there is one."""
    total = sum(times)
    gbps = nbytes * len(times) / total / 1e9 if total > 0 else float("inf")
    text = "%-15s %-9s %8s %8.2f GB/s  p50 %9.1f us  p99 %9.1f us" % (
        op, memory, _human(size), gbps, percentile(times, 0.50) * 1e6, percentile(times, 0.99) * 1e6)
    if baseline:
        text += "  %.2fx copy+crc32c" % (gbps / baseline)
    return text


def copy_crc_baseline(sizes, batch, iterations, region=0):
    """{size: {"copy_gbps", "crc32c_gbps", "copy_crc32c_gbps"}} from ``ferry bench copy-crc`` of
    the Ferry distribution (one thread, the same bytes per call as the measurements, windows
    of regions of ``region`` bytes taken in turn as the measurements take theirs).

    Raises RuntimeError (with the command's output) when it fails, FerryNotInstalled when no
    distribution or JDK 25 is found.
    """
    command = [find_launcher(), "bench", "copy-crc", "--sizes", ",".join(str(s) for s in sizes),
               "--batch", str(batch), "--iterations", str(iterations), "--region", str(region)]
    done = subprocess.run(command, env=dict(os.environ, JAVA_HOME=find_jdk25()), capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError("%s exited %d:\n%s%s" % (" ".join(command), done.returncode, done.stdout, done.stderr))
    out = {}
    for text in done.stdout.splitlines():
        fields = dict(w.split("=", 1) for w in text.split()[1:] if "=" in w)
        if text.startswith("copy-crc ") and "size" in fields:
            out[int(fields["size"])] = {k: float(v) for k, v in fields.items() if k.endswith("_gbps")}
    missing = [s for s in sizes if s not in out]
    if missing:
        raise RuntimeError("%s gave no figure for %s:\n%s" % (" ".join(command), missing, done.stdout))
    return out


def _human(n):
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return "%d%s" % (n >> shift, unit)
    return "%dB" % n


SIDECAR_OPS = {19: "put_from", 20: "get_into", 22: "put_named"}  # the requests a breakdown reports


def _scrape(url):
    """{(metric name, frozenset of label pairs): value} of a Prometheus text page."""
    import urllib.request
    out = {}
    with urllib.request.urlopen(url, timeout=10) as answer:
        for text in answer.read().decode("utf-8").splitlines():
            if not text or text.startswith("#"):
                continue
            name_labels, _, value = text.rpartition(" ")
            name, _, labels = name_labels.partition("{")
            pairs = frozenset(tuple(kv.split("=", 1)) for kv in labels.rstrip("}").replace('"', "").split(",") if kv)
            try:
                out[(name, pairs)] = float(value)
            except ValueError:
                pass
    return out


class Breakdown:
    """Where a call's time went: the Python client's requests (sending, waiting for the
    answer, reading it), the sidecar's timers (queued for a request thread, served, the answer
    on its way to the socket) and its calls of the master, as differences of two snapshots."""

    def __init__(self, store, metrics_url):
        self._store, self._url = store, metrics_url

    def snapshot(self):
        client = {}
        for conn in list(self._store._pool.queue):  # idle between calls: every connection is in the pool
            for op, times in conn.client.call_times().items():
                client[op] = [a + b for a, b in zip(client.get(op, (0, 0, 0, 0)), times)]
        return client, _scrape(self._url)

    def lines(self, before, after, calls):
        """Per request kind, ms per call of the batch (calls: the timed calls of each operation)."""
        (c0, m0), (c1, m1) = before, after

        def metric(name, **labels):
            want = {(k, v) for k, v in labels.items()}
            return sum(v - m0.get(key, 0.0) for key, v in m1.items() if key[0] == name and want <= key[1])

        out = []
        for op, name in SIDECAR_OPS.items():
            spent = [a - b for a, b in zip(c1.get(op, (0, 0, 0, 0)), c0.get(op, (0, 0, 0, 0)))]
            n = spent[0]
            if n == 0:
                continue
            per = lambda seconds: 1e3 * seconds / n  # noqa: E731
            served = metric("ferry_sidecar_requests_seconds_sum", op=name)
            queued = metric("ferry_sidecar_request_phase_seconds_sum", op=name, phase="queued")
            answered = metric("ferry_sidecar_request_phase_seconds_sum", op=name, phase="answered")
            out.append("  %-9s x%d: client send %.2f, wait %.2f (sidecar: queued %.2f, served %.2f, answer sent "
                       "%.2f), read %.2f ms" % (name, n, per(spent[1] / 1e9), per(spent[2] / 1e9), per(queued),
                                                per(served), per(answered), per(spent[3] / 1e9)))
        masters = []
        for key in sorted({k for k in m1 if k[0] == "ferry_sidecar_master_calls_seconds_count"}, key=str):
            method = dict(key[1]).get("method")
            count = m1[key] - m0.get(key, 0.0)
            if count:
                total = metric("ferry_sidecar_master_calls_seconds_sum", method=method)
                masters.append("%s %.1f x %.2f ms" % (method, count / calls, 1e3 * total / count))
        if masters:
            out.append("  master calls per batch (count x ms each): " + ", ".join(masters))
        return out


def windows(region, nbytes):
    """How many windows of nbytes a region of that many bytes holds: at least one."""
    return max(1, region // nbytes)


class _Memory:
    """A source and a destination region of one kind, each of ``windows`` windows of nbytes
    (one batch); every source window holds ``pattern``, every destination window zeros;
    close() frees them."""

    def __init__(self, kind, store, nbytes, windows, pattern):
        self.kind, self._store, self._allocator, self._keep = kind, store, None, []
        self.nbytes, self.windows = nbytes, windows
        total = nbytes * windows
        if kind == "allocator":
            self._allocator = MooncakeHostMemAllocator()
            self.src, self.dst = self._allocator.alloc(total), self._allocator.alloc(total)
        else:
            for _ in range(2):
                buf = ctypes.create_string_buffer(total)
                self._keep.append(buf)
                if store.register_buffer(ctypes.addressof(buf), total) != OK:
                    raise RuntimeError("register_buffer of private memory failed")
            self.src, self.dst = (ctypes.addressof(b) for b in self._keep)
        for w in range(windows):
            ctypes.memmove(self.src + w * nbytes, pattern, nbytes)
        ctypes.memset(self.dst, 0, total)  # every page mapped before any timing

    def window(self, it):
        """The (source, destination) addresses of iteration it's window."""
        at = (it % self.windows) * self.nbytes
        return self.src + at, self.dst + at

    def close(self):
        if self._allocator is not None:
            self._allocator.free(self.src)
            self._allocator.free(self.dst)
        for buf in self._keep:
            self._store.unregister_buffer(ctypes.addressof(buf))


def run(store, sizes, batch, iterations, out=None, baseline=None, breakdown=None, warmup=1, region=0,
        warmup_seconds=0.0):
    """Runs every measurement and writes its lines to out (sys.stdout); answers the number of failures.

    baseline: copy_crc_baseline's answer (ratios are printed against it), or None.
    breakdown: a Breakdown, whose lines follow each (memory, size) pair of lines, or None.
    warmup, warmup_seconds: the untimed calls before the timed ones of each (size, memory)
    pair go on until there were at least warmup of them and warmup_seconds have passed;
    region: bytes of the regions whose windows the calls take in turn (0: one window).
    """
    out = out or sys.stdout
    baseline = baseline or {}
    failures = 0
    run_id = os.urandom(4).hex()
    for size in sizes:
        nbytes = size * batch
        pattern = os.urandom(nbytes)
        for kind in ("allocator", "private"):
            memory = _Memory(kind, store, nbytes, windows(region, nbytes), pattern)
            try:
                puts, gets = [], []
                before = None
                warm_until = time.monotonic() + warmup_seconds
                it = 0
                while len(puts) < iterations:
                    timed = it >= warmup and time.monotonic() >= warm_until
                    if timed and before is None and breakdown is not None:
                        before = breakdown.snapshot()
                    src, dst = memory.window(it)
                    ptrs = [src + i * size for i in range(batch)]
                    dsts = [dst + i * size for i in range(batch)]
                    keys = ["bench/%s/%s/%d/%d/%d" % (run_id, kind, size, it, i) for i in range(batch)]
                    t0 = time.perf_counter()
                    put = store.batch_put_from(keys, ptrs, [size] * batch)
                    t1 = time.perf_counter()
                    got = store.batch_get_into(keys, dsts, [size] * batch)
                    t2 = time.perf_counter()
                    store.batch_remove(keys)
                    if timed:
                        puts.append(t1 - t0)
                        gets.append(t2 - t1)
                    if put != [OK] * batch or got != [size] * batch or ctypes.string_at(dst, nbytes) != pattern:
                        print("FAILED %s %s iteration %d: put %s get %s" % (kind, _human(size), it, put, got),
                              file=out)
                        failures += 1
                    ctypes.memset(dst, 0, nbytes)  # for the window's next turn, a region later
                    it += 1
                reference = baseline.get(size, {}).get("copy_crc32c_gbps")
                print(line("batch_put_from", kind, size, nbytes, puts, reference), file=out)
                print(line("batch_get_into", kind, size, nbytes, gets, reference), file=out)
                if before is not None:
                    for text in breakdown.lines(before, breakdown.snapshot(), iterations):
                        print(text, file=out)
            finally:
                memory.close()
        copies, crcs = [], []
        n_windows = windows(region, nbytes)
        src = ctypes.create_string_buffer(pattern * n_windows, nbytes * n_windows)
        dst = ctypes.create_string_buffer(nbytes * n_windows)
        whole = memoryview(src).cast("B")
        for it in range(iterations):
            at = (it % n_windows) * nbytes
            t0 = time.perf_counter()
            ctypes.memmove(ctypes.addressof(dst) + at, ctypes.addressof(src) + at, nbytes)
            t1 = time.perf_counter()
            zlib.crc32(whole[at:at + nbytes])
            t2 = time.perf_counter()
            copies.append(t1 - t0)
            crcs.append(t2 - t1)
        print(line("ctypes.memmove", "-", size, nbytes, copies), file=out)
        print(line("zlib.crc32", "-", size, nbytes, crcs), file=out)
        if size in baseline:
            b = baseline[size]
            print("%-15s %-9s %8s %8.2f GB/s  (copy %.2f GB/s, crc32c %.2f GB/s; ferry bench copy-crc, one thread)" % (
                "copy+crc32c", "java", _human(size), b["copy_crc32c_gbps"], b["copy_gbps"], b["crc32c_gbps"]),
                file=out)
    return failures


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m ferry.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--master", default=os.environ.get("FERRY_MASTER"),
                        help="host:port of a Ferry master (default $FERRY_MASTER)")
    parser.add_argument("--sizes", default="64KiB,1MiB,4MiB", help="value sizes, comma-separated")
    parser.add_argument("--batch", type=int, default=8, help="values per batch call")
    parser.add_argument("--iterations", type=int, default=20, help="timed calls per operation")
    parser.add_argument("--warmup", type=int, default=10, help="least untimed calls before them (default 10)")
    parser.add_argument("--warmup-seconds", type=float, default=3.0,
                        help="least seconds of untimed calls before them, per size and memory (default 3)")
    parser.add_argument("--region", default="256MiB",
                        help="bytes of the source and destination regions whose windows the calls take in turn "
                             "(default 256MiB: from DRAM; 0: one window, in cache)")
    parser.add_argument("--segment", default="512MiB", help="global_segment_size of the sidecar")
    parser.add_argument("--local-buffer", default="64MiB", help="local_buffer_size (staging buffer)")
    parser.add_argument("--sidecar-arg", action="append", default=[], metavar="ARG",
                        help="one more argument of the sidecar it starts (repeat; e.g. --sidecar-arg=--copy-threads=1)")
    parser.add_argument("--breakdown", metavar="HOST:PORT",
                        help="serve the sidecar's /metrics there and print where each call's time went")
    args = parser.parse_args(argv)
    if not args.master:
        parser.error("--master (or $FERRY_MASTER) is required")
    try:
        sizes = [parse_size(s.strip()) for s in args.sizes.split(",")]
    except ValueError as e:
        parser.error(str(e))
    try:
        region = parse_size(args.region.strip()) if args.region.strip() != "0" else 0
    except ValueError as e:
        parser.error("--region: %s" % e)
    if args.batch < 1 or args.iterations < 1 or min(sizes) < 1 or args.warmup < 0 or not args.warmup_seconds >= 0:
        parser.error("--batch, --iterations and every size must be at least 1, --warmup and --warmup-seconds at "
                     "least 0")
    baseline = copy_crc_baseline(sizes, args.batch, args.iterations, region)  # first: nothing else runs meanwhile
    store = MooncakeDistributedStore()
    sidecar_args = (["--http", args.breakdown] if args.breakdown else []) + list(args.sidecar_arg)
    extra = {"sidecar_args": sidecar_args} if sidecar_args else {}
    code = store.setup("127.0.0.1", "P2PHANDSHAKE", args.segment, args.local_buffer, "tcp", "", args.master, **extra)
    if code != OK:
        print("setup failed: %d" % code, file=sys.stderr)
        return 1
    try:
        print("batch %d, %d iterations after %d untimed and %gs, regions of %s, load average %s" % (
            args.batch, args.iterations, args.warmup, args.warmup_seconds, _human(region) if region else "one window",
            " ".join("%.2f" % x for x in os.getloadavg())))
        breakdown = Breakdown(store, "http://%s/metrics" % args.breakdown) if args.breakdown else None
        failures = run(store, sizes, args.batch, args.iterations, baseline=baseline, breakdown=breakdown,
                       warmup=args.warmup, region=region, warmup_seconds=args.warmup_seconds)
        info = store.debug_info()
        print("copy paths (values): %s; private memory in huge pages: %s%s" % (
            ", ".join("%s %d" % kv for kv in sorted(info["copy_paths"].items())), _human(info["huge_page_bytes"]),
            "; private memory refused: " + info["process_memory_refusal"] if info["process_memory_refusal"] else ""))
    finally:
        store.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
