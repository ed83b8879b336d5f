#!/usr/bin/env python3
"""load_timeline.py PID OUT: samples a process every 0.5 s until it exits: CPU
(cores used by it in the interval, user and system), its threads running
(R) and waiting on the disk (D), and its disk reads and writes (MB/s,
/proc/PID/io). Prints a summary at the end."""
import os, sys, time
pid, out = int(sys.argv[1]), sys.argv[2]
hz = os.sysconf("SC_CLK_TCK")
def sample():
    u = s = 0; r = d = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            f = open("/proc/%d/task/%s/stat" % (pid, t)).read()
        except OSError:
            continue
        st = f[f.rfind(")") + 2:].split()[0]
        r += st == "R"; d += st == "D"
    f = open("/proc/%d/stat" % pid).read()  # the process: its exited threads too
    x = f[f.rfind(")") + 2:].split()
    u, s = int(x[11]), int(x[12])
    io = {}
    for ln in open("/proc/%d/io" % pid):
        k, v = ln.split(":"); io[k] = int(v)
    return time.time(), u, s, r, d, io["read_bytes"], io["write_bytes"]
rows = []
prev = sample(); t0 = prev[0]
with open(out, "w") as o:
    o.write("t\tcores\tuser\tsys\tR\tD\tread_MBps\twrite_MBps\n")
    while True:
        time.sleep(0.5)
        try:
            cur = sample()
        except (OSError, ValueError):
            break
        dt = cur[0] - prev[0]
        row = (cur[0] - t0, (cur[1] - prev[1] + cur[2] - prev[2]) / hz / dt,
               (cur[1] - prev[1]) / hz / dt, (cur[2] - prev[2]) / hz / dt, cur[3], cur[4],
               (cur[5] - prev[5]) / dt / 1e6, (cur[6] - prev[6]) / dt / 1e6)
        rows.append(row)
        o.write("%.1f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%.0f\t%.0f\n" % row)
        prev = cur
n = len(rows) or 1
def frac(f): return sum(1 for r in rows if f(r)) / n
print("samples %d (%.0f s): mean %.2f cores; time with <0.6 cores %.0f%%, 0.6-1.4 %.0f%%, >1.4 %.0f%%; "
      "a thread in D %.0f%%; R>=2 %.0f%%; read %.0f MB/s, write %.0f MB/s mean" % (
      n, n * 0.5, sum(r[1] for r in rows) / n, 100 * frac(lambda r: r[1] < 0.6),
      100 * frac(lambda r: 0.6 <= r[1] <= 1.4), 100 * frac(lambda r: r[1] > 1.4),
      100 * frac(lambda r: r[5] > 0), 100 * frac(lambda r: r[4] >= 2),
      sum(r[6] for r in rows) / n, sum(r[7] for r in rows) / n))
