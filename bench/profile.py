#!/usr/bin/env python3
"""
profile.py — where the CPU of a commit goes, by layer, with perf.

Runs bench_sql under `perf record -e cpu-clock` three times: W5 (the mvcc
read-modify-write transaction, one thread) and W6 at 2 and at 8 threads
(disjoint keys), all at synchronous=normal.  bench_sql enables perf's events
only during each timed phase (BENCH_PERF_CTL/ACK, perf's --control FIFOs),
so loading the data and checking the results are not in the profile.  Every
sample is charged to one layer:

    SQLite        libsqlite3
    extension     the functions of ext/*.c (mvcc_*, the vtab callbacks)
    kvcore        the functions of kvcore/*.c (kv_*, and its static helpers)
    RocksDB       librocksdb, and the libraries only it uses here (libstdc++,
                  lz4, snappy, zstd, bz2, gflags)
    libc+kernel   libc, the dynamic loader, the vDSO and the kernel, on
                  behalf of any of the above (malloc, memcmp, futex, write)
    driver        bench_sql's own code (key choice, value bytes, checks)

The extension and kvcore are linked into one binary; their functions are
told apart by name, from `nm` of the object files in BUILD/obj/ext and
BUILD/obj/kvcore (static functions included; a compiler clone such as
foo.isra.0 counts as foo).  A layer's µs per commit is its share of the
samples times the CPU per commit that bench_sql measured in the same run
(process CPU over the timed phase / commits; perf's sampling adds a little).

Usage: bench/profile.py BUILD OUT.md
Writes OUT.md (bench/PROFILE.md from `make bench-profile`).  When perf is
missing or may not sample (perf_event_paranoid, no permission, a container
without perf events), prints why and exits 0 without writing anything.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

LAYERS = ["SQLite", "extension", "kvcore", "RocksDB", "libc+kernel", "driver"]
RUNS = [  # (title, BENCH_ONLY, BENCH_THREADS, workload prefix in stderr)
    ("W5, 1 thread", "W5,mvcc", "1", "W5 mvcc 1 threads"),
    ("W6, 2 threads", "W6,mvcc", "2", "W6 mvcc 2 threads"),
    ("W6, 8 threads", "W6,mvcc", "8", "W6 mvcc 8 threads"),
]
SECONDS = os.environ.get("PROFILE_SECONDS", "3")
FREQ = "1999"  # samples/s per CPU: ~0.5 ms each, little overhead
LOAD_BEFORE = 0.0  # the 1-minute load average when the runs began


def skip(why):
    print(f"bench-profile: skipped: {why}")
    sys.exit(0)


def symbols(objdir):
    """Names of the functions defined in the object files under objdir."""
    names = set()
    for f in sorted(os.listdir(objdir)):
        if not f.endswith(".o"):
            continue
        out = subprocess.run(["nm", "--defined-only", os.path.join(objdir, f)],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "tTwW":
                names.add(parts[2].split(".")[0])
    return names


def short(sym):
    """A C++ name without its template arguments."""
    while True:
        s = re.sub(r"<[^<>]*>", "", sym)
        if s == sym:
            return s
        sym = s


def layer_of(dso, sym, ext, kv):
    base = sym.split(".")[0]
    if dso.startswith("libsqlite3"):
        return "SQLite"
    if dso.startswith(("librocksdb", "libstdc++", "liblz4", "libsnappy",
                       "libzstd", "libbz2", "libgflags", "libz.")):
        return "RocksDB"
    if dso == "bench_sql":
        if base in kv or base.startswith("kv_"):
            return "kvcore"
        if base in ext or base.startswith("mvcc"):
            return "extension"
        return "driver"
    return "libc+kernel"


def perf_works(tmp):
    if not shutil.which("perf"):
        return "perf is not installed (Debian: linux-perf)"
    r = subprocess.run(["perf", "record", "-e", "cpu-clock", "-o",
                        os.path.join(tmp, "probe.data"), "--", "true"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return "perf record fails here: " + (lines[0] if lines else "?")
    return None


def profile(build, tmp, run):
    title, only, threads, prefix = run
    ctl, ack = os.path.join(tmp, "ctl"), os.path.join(tmp, "ack")
    for f in (ctl, ack):
        if os.path.exists(f):
            os.unlink(f)
        os.mkfifo(f)
    data = os.path.join(tmp, "perf.data")
    env = dict(os.environ, BENCH_ONLY=only, BENCH_THREADS=threads,
               BENCH_LEVELS="normal", BENCH_SECONDS=SECONDS,
               BENCH_PERF_CTL=ctl, BENCH_PERF_ACK=ack)
    cmd = ["perf", "record", "-e", "cpu-clock", "-F", FREQ, "-D", "-1",
           "--control", f"fifo:{ctl},{ack}", "-o", data, "--",
           os.path.join(build, "bench_sql"), os.path.join(tmp, "results.md")]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench-profile: {title}: bench_sql failed:\n{r.stderr}")
    m = re.search(re.escape(prefix) + r".*?(\d+)\s+aborts/commit ([\d.]+)\s+"
                  r"CPU/commit ([\d.]+) us", r.stderr)
    if not m:
        sys.exit(f"bench-profile: {title}: no result line in:\n{r.stderr}")
    rate, cpu = float(m.group(1)), float(m.group(3))
    rep = subprocess.run(["perf", "report", "-i", data, "--stdio",
                          "--no-children", "--sort", "dso,sym", "-F",
                          "sample,dso,sym", "-g", "none"],
                         capture_output=True, text=True).stdout
    rows = []
    for line in rep.splitlines():
        # "   1234  librocksdb.so.7.8.3  [.] rocksdb::Foo::Bar"
        mm = re.match(r"\s*(\d+)\s+(\S+)\s+\[(.)\]\s+(.*\S)", line)
        if mm:
            dso = "[kernel]" if mm.group(3) == "k" else mm.group(2)
            rows.append((int(mm.group(1)), dso, mm.group(4)))
    return rate, cpu, rows


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: profile.py BUILD OUT.md")
    build, out = sys.argv[1], sys.argv[2]
    global LOAD_BEFORE
    LOAD_BEFORE = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="bench_profile.")
    try:
        why = perf_works(tmp)
        if not why and not shutil.which("nm"):
            why = "nm is not installed (Debian: binutils)"
        if why:
            skip(why)
        ext = symbols(os.path.join(build, "obj", "ext"))
        kv = symbols(os.path.join(build, "obj", "kvcore"))
        results = []
        for run in RUNS:
            rate, cpu, rows = profile(build, tmp, run)
            total = sum(n for n, _, _ in rows) or 1
            by_layer = defaultdict(int)
            top = defaultdict(lambda: defaultdict(int))
            for n, dso, sym in rows:
                lay = layer_of(dso, sym, ext, kv)
                by_layer[lay] += n
                if dso == "[kernel]":
                    by_layer["(of which the kernel)"] += n
                top[lay][sym.split(".")[0] if dso == "bench_sql"
                         else short(sym)] += n
            results.append((run[0], rate, cpu, total, by_layer, top))
            print(f"  {run[0]}: {rate:.0f} commits/s, {cpu:.1f} us CPU/commit, "
                  f"{total} samples", file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write(out, results)


def write(out, results):
    lines = ["# sqlite-mvcc: where a commit's CPU goes", ""]
    lines.append(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
                 f"; command: `make bench-profile` (bench/profile.py): "
                 f"bench_sql under `perf record -e cpu-clock -F {FREQ}`, "
                 f"{SECONDS} s per run, synchronous=normal, the timed phase "
                 "only; load average before the runs "
                 f"{LOAD_BEFORE:.1f} on {os.cpu_count()} CPUs (other "
                 "busy processes make every figure larger)")
    lines.append("- CPU per commit: process CPU over the timed phase / "
                 "commits, as in RESULTS.md (under perf, so a little higher); "
                 "a layer's share is its share of the samples")
    lines.append("- layers: see the header of bench/profile.py (libc+kernel "
                 "is malloc, memcpy, futex, write and the rest, on behalf of "
                 "every layer)")
    lines.append("")
    head = "| layer | " + " | ".join(
        f"{t}: µs/commit | %" for t, *_ in results) + " |"
    lines.append(head)
    lines.append("|---|" + "---:|---:|" * len(results))
    for lay in LAYERS[:5] + ["(of which the kernel)"] + LAYERS[5:]:
        cells = []
        for _, _, cpu, total, by, _ in results:
            share = by.get(lay, 0) / total
            cells.append(f"{share * cpu:.1f} | {100 * share:.1f}")
        lines.append(f"| {lay} | " + " | ".join(cells) + " |")
    cells = [f"**{cpu:.1f}** | 100" for _, _, cpu, *_ in results]
    lines.append("| total | " + " | ".join(cells) + " |")
    lines.append("| commits/s | " + " | ".join(
        f"{rate:.0f} | " for _, rate, *_ in results) + " |")
    lines.append("")
    for title, rate, cpu, total, by, top in results:
        lines.append(f"## {title}: the heaviest functions of each layer "
                     "(µs per commit)")
        lines.append("")
        for lay in LAYERS:
            items = sorted(top[lay].items(), key=lambda kv: -kv[1])[:6]
            if not items:
                continue
            s = "; ".join(f"`{sym[:70]}` {n / total * cpu:.2f}"
                          for sym, n in items)
            lines.append(f"- {lay}: {s}")
        lines.append("")
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
