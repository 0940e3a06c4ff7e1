#!/usr/bin/env python3
"""Writes the nccl-tests FORMAT SAMPLES in this folder (see README.md).

The numbers are NOT measurements of any machine. Each row's time comes from a simple formula,
t = latency + bytes / peak_algbw, with a small deterministic ripple; algbw and busbw are then
derived exactly as nccl-tests derives them (algbw = size / time; busbw = algbw * factor, with
factor 2(n-1)/n for all_reduce, (n-1)/n for all_gather, reduce_scatter and alltoall, 1 for
sendrecv, broadcast and reduce). The text layout follows nccl-tests' src/common.cu printf
formats. Host names, PIDs and bus ids are invented.

Run: python3 make_samples.py   (rewrites the *.log files next to it)
"""
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
GPU = "NVIDIA H100 80GB HBM3"
BUS_IDS = [0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB]


def factor(op, n):
    return {"all_reduce": 2 * (n - 1) / n, "all_gather": (n - 1) / n, "reduce_scatter": (n - 1) / n,
            "alltoall": (n - 1) / n, "sendrecv": 1.0, "broadcast": 1.0, "reduce": 1.0}[op]


def time_str(us):
    if us >= 10000.0:
        return "%7.0f" % us
    if us >= 100.0:
        return "%7.1f" % us
    return "%7.2f" % us


def table(op, n, sizes, lat_us, peak_algbw, redop, root, inplace_wrong="0", ripple=0.01):
    """Header + rows + trailer lines (without prefixes) for one test."""
    out = []
    out.append("# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place          "
               % ("", "", "", "", ""))
    out.append("# %10s  %12s  %8s  %6s  %6s" % ("size", "count", "type", "redop", "root")
               + "  %7s  %6s  %6s %6s" % ("time", "algbw", "busbw", "#wrong")
               + "  %7s  %6s  %6s %6s" % ("time", "algbw", "busbw", "#wrong"))
    out.append("# %10s  %12s  %8s  %6s  %6s" % ("(B)", "(elements)", "", "", "")
               + "  %7s  %6s  %6s %6s" % ("(us)", "(GB/s)", "(GB/s)", "")
               + "  %7s  %6s  %6s %6s" % ("(us)", "(GB/s)", "(GB/s)", ""))
    bws = []
    rows = []
    for i, size in enumerate(sizes):
        line = "%12li  %12li  %8s  %6s  %6i" % (size, size // 4, "float", redop, root)
        for g in range(2):
            wiggle = 1.0 + ripple * math.sin(1.7 * i + 2.3 * g)
            t = (lat_us + size / (peak_algbw * 1e3)) * wiggle
            ts = time_str(t)
            tp = float(ts)
            algbw = size / tp / 1e3 if tp > 0 else 0.0
            busbw = algbw * factor(op, n)
            bws.append(busbw)
            wrong = "0" if g == 0 else inplace_wrong
            line += "  %7s  %6.2f  %6.2f  %5s" % (ts, algbw, busbw, wrong)
        rows.append(line)
    out.extend(rows)
    return out, sum(bws) / len(bws)


def trailer(avg):
    return ["# Out of bounds values : 0 OK", "# Avg bus bandwidth    : %g " % avg, "#"]


def header(n_gpus_per_proc, min_b, max_b, step, ranks):
    out = ["# nThread 1 nGpus %d minBytes %d maxBytes %d step: %d(factor) warmup iters: 5 iters: 20 agg iters: 1 "
           "validation: 1 graph: 0" % (n_gpus_per_proc, min_b, max_b, step), "#", "# Using devices"]
    for r, (host, pid, dev) in enumerate(ranks):
        out.append("#  Rank %2d Group %2d Pid %6d on %10s device %2d [0x%02x] %s"
                   % (r, 0, pid, host, dev, BUS_IDS[dev % 8], GPU))
    out.append("#")
    return out


def sizes_from(lo, hi, f):
    s = []
    x = lo
    while x <= hi:
        s.append(x)
        x *= f
    return s


def write(name, lines):
    with open(os.path.join(HERE, name), "w") as fh:
        fh.write("\n".join(lines) + "\n")


def srun_allreduce():
    """8 ranks (one per GPU) on one node, `srun -l` labels, NCCL_DEBUG=INFO lines mixed in."""
    host = "gpu-node-01"
    ranks = [(host, 41230 + r, r) for r in range(8)]
    lines = ["+ srun -l -N 1 --ntasks-per-node=8 ./build/all_reduce_perf -b 8 -e 128M -f 2 -g 1"]
    for r in range(8):
        lines.append("%d: %s:%d:%d [%d] NCCL INFO cudaDriverVersion 12040" % (r, host, 41230 + r, 41230 + r, r))
    lines.append("0: %s:41230:41230 [0] NCCL INFO Bootstrap : Using eth0:10.1.0.11<0>" % host)
    lines.append("0: %s:41230:41230 [0] NCCL INFO NCCL version 2.21.5+cuda12.4" % host)
    body = header(1, 8, 134217728, 2, ranks)
    tab, avg = table("all_reduce", 8, sizes_from(8, 134217728, 2), 14.0, 180.0, "sum", -1)
    # Lazy connection set-up logs while the first sizes run.
    info = ["%d: %s:%d:%d [%d] NCCL INFO Channel %02d/0 : %d[%d] -> %d[%d] via P2P/CUMEM"
            % (r, host, 41230 + r, 41300 + r, r, c, r, r, (r + 1) % 8, (r + 1) % 8) for c in range(2) for r in (3, 5)]
    info.append("6: %s:41236:41306 [6] NCCL INFO Connected all rings" % host)
    out = ["0: " + l for l in body]
    out += ["0: " + l for l in tab[:3]]
    out += info
    out += ["0: " + l for l in tab[3:6]]
    out.append("2: %s:41232:41302 [2] NCCL INFO Connected all trees" % host)
    out += ["0: " + l for l in tab[6:]]
    out += ["0: " + l for l in trailer(avg)]
    for r in range(8):
        out.append("%d: %s:%d:%d [%d] NCCL INFO comm 0x55d0c0a3b2f0 rank %d nranks 8 cudaDev %d busId %x000 - "
                   "Destroy COMPLETE" % (r, host, 41230 + r, 41230 + r, r, r, r, BUS_IDS[r]))
    write("all_reduce_8gpu_srun.log", lines + out)


def mpirun_alltoall():
    """16 ranks on 2 nodes, Open MPI --tag-output labels; alltoall has redop none / root -1, and
    its in-place #wrong column prints N/A."""
    hosts = ["gpu-node-07", "gpu-node-08"]
    ranks = [(hosts[r // 8], 90210 + r % 8, r % 8) for r in range(16)]
    lines = ["$ mpirun -np 16 -N 8 --tag-output -x NCCL_DEBUG=WARN /opt/nccl-tests/build/alltoall_perf -b 1K -e 256M "
             "-f 2 -g 1"]
    body = header(1, 1024, 268435456, 2, ranks)
    tab, avg = table("alltoall", 16, sizes_from(1024, 268435456, 2), 45.0, 76.0, "none", -1, inplace_wrong="N/A")
    out = ["[1,0]<stdout>:" + l for l in body + tab[:5]]
    out.append("[1,9]<stderr>:gpu-node-08:90211:90290 [1] NCCL WARN NET/IB : Got async event : port error")
    out += ["[1,0]<stdout>:" + l for l in tab[5:] + trailer(avg)]
    write("alltoall_16gpu_2node_mpirun.log", lines + out)


def multi_test():
    """Five tests, 4 GPUs in one process (-g 4), one after another in one file, unlabelled.
    Newer nccl-tests print a version line and "# Collective test starting/concluded" markers."""
    host = "gpu-node-03"
    ranks = [(host, 5150, d) for d in range(4)]
    out = []
    specs = [("all_gather", "none", -1, 12.0, 160.0, True),
             ("reduce_scatter", "sum", -1, 13.0, 150.0, True),
             ("sendrecv", "sum", -1, 9.0, 140.0, False),
             ("broadcast", "none", 0, 11.0, 120.0, True),
             ("reduce", "sum", 0, 12.5, 115.0, False)]
    for op, redop, root, lat, bw, marker in specs:
        binary = op + "_perf"
        out.append("$ ./build/%s -b 8 -e 128M -f 8 -g 4" % binary)
        out.append("# nccl-tests version 2.17.1 nccl-headers=22705 nccl-library=22705")
        if marker:
            out.append("# Collective test starting: %s" % binary)
        out += header(4, 8, 134217728, 8, ranks)
        tab, avg = table(op, 4, sizes_from(8, 134217728, 8), lat, bw, redop, root)
        out += tab + trailer(avg)
        if marker:
            out.append("# Collective test concluded: %s" % binary)
        out.append("")
    write("five_tests_4gpu.log", out)


if __name__ == "__main__":
    srun_allreduce()
    mpirun_alltoall()
    multi_test()
