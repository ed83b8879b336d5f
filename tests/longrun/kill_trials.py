"""kill -9 trials under mixed authenticated write load (outside CI; run by
scripts/longrun).

Each trial starts `idnode serve` on the same data directory, puts it under
write load from two kinds of writers at once, kills it with SIGKILL at a
random moment, and checks what is on disk against what was acknowledged:

- bench/hdladmin: authenticated creates over persistent connections (with
  a session on odd trials, challenge-response on even ones), every answered
  create logged with its response code;
- a mixer thread per trial: create, add, modify, remove and delete on its
  own identifiers, one request at a time (challenge-response with the
  HMAC-SHA256 secret-key form through `idnode` itself would cost a process
  per write; the raw legacy MAC keeps it cheap), each acknowledged write
  recorded with the record's expected state after it.

After the kill: `idnode verify` must pass, every acknowledged create must be
in `idnode dump`, and every mixer identifier must be in the state its last
acknowledged write left (or, for the one write in flight at the kill, the
state before or after it). The store starts fresh every ROUND trials so
each dump stays small. Prints one summary line:
  TRIALS n acked_creates n acked_mixed n lost n bad_verify n
and exits 1 if anything was lost or a verify failed.

usage: kill_trials.py [--trials N] [--round N] [--seed S]
(IDNODE: the binary; build/bench/hdladmin beside it)"""
import argparse
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "system"))
from idnlib import IDNODE, free_port, parse_answer, request, tcp_exchange  # noqa: E402
from idnlib import admin_data, challenge_of, s, seckey_response, udp_exchange  # noqa: E402

HDLADMIN = os.path.join(os.path.dirname(IDNODE), "bench", "hdladmin")
SECRET = b"longrun-secret-2026"
BOSS = "0.NA/88.100.1"  # the prefix's own HS_SECKEY: admin of all under it
PREFIX_RECORDS = [
    {"handle": "0.NA/88.100.1", "values": [
        {"index": 100, "type": "HS_ADMIN",
         "data": {"format": "hex", "value": admin_data(0x0FFF, 300, "0.NA/88.100.1")}},
        {"index": 300, "type": "HS_SECKEY", "perms": 0x0c,
         "data": {"format": "hex", "value": SECRET.hex()}}]},
]


def value(index, typ, data):
    data = data.encode() if isinstance(data, str) else data
    return struct.pack(">IIBIB", index, 0, 0, 86400, 0x0e) + s(typ) + s(data) + \
        struct.pack(">I", 0)


def admin_value():
    own = bytes.fromhex(admin_data(0x0FFF, 300, BOSS))
    return value(100, "HS_ADMIN", own)


class Mixer(threading.Thread):
    """Create/add/modify/remove/delete on its own identifiers until stopped.
    state[h] is the set of (index, data) the record holds after the last
    acknowledged write, or None when deleted; inflight is the write sent and
    not yet answered, as (handle, state before, state after)."""

    def __init__(self, port, tag, seed):
        super().__init__(daemon=True)
        self.port, self.tag, self.rng = port, tag, random.Random(seed)
        self.state, self.inflight, self.acked = {}, None, 0
        self.stop = threading.Event()

    def admin(self, op, body):
        req = request("", op=op, flags=0x18000000, body=body)
        env, _, rc, _, ans = parse_answer(tcp_exchange(self.port, req, timeout=5))
        if rc != 402:
            return rc
        nonce, digest = challenge_of(ans)
        req = seckey_response(env["session"], nonce, digest, BOSS, SECRET)
        return parse_answer(tcp_exchange(self.port, req, timeout=5))[2]

    def step(self, n):
        h = "88.100.1/mix-%s-%d" % (self.tag, self.rng.randrange(8))
        cur = self.state.get(h)
        if cur is None:
            vals = {(1, "https://example.com/%d" % n)}
            op, body = 100, s(h) + struct.pack(">I", 2) + admin_value() + \
                value(1, "URL", "https://example.com/%d" % n)
        else:
            kind = self.rng.choice(["add", "modify", "remove", "delete"])
            free = [i for i in range(2, 10) if i not in {i for i, _ in cur}]
            if kind == "add" and free:
                i = self.rng.choice(free)
                vals = cur | {(i, "v%d" % n)}
                op, body = 102, s(h) + struct.pack(">I", 1) + value(i, "DESC", "v%d" % n)
            elif kind == "modify":
                vals = {(i, d) for i, d in cur if i != 1} | {(1, "https://m.example/%d" % n)}
                op, body = 104, s(h) + struct.pack(">I", 1) + \
                    value(1, "URL", "https://m.example/%d" % n)
            elif kind == "remove" and len(cur) > 1:
                i = max(i for i, _ in cur)
                vals = {(j, d) for j, d in cur if j != i}
                op, body = 103, s(h) + struct.pack(">II", 1, i)
            else:
                vals, op, body = None, 101, s(h)
        self.inflight = (h, cur, vals)
        rc = self.admin(op, body)
        if rc != 1:
            raise RuntimeError("mixer: op %d on %s answered %d" % (op, h, rc))
        self.state[h] = vals
        self.inflight = None
        self.acked += 1

    def run(self):
        n = 0
        while not self.stop.is_set():
            try:
                self.step(n)
            except (OSError, ConnectionError, struct.error, IndexError):
                return  # the node died under us: inflight stays as it was
            n += 1


def dump(data):
    out = subprocess.run([IDNODE, "dump", "--data", data], capture_output=True, text=True,
                         timeout=600)
    if out.returncode != 0:
        raise RuntimeError("dump failed: " + out.stderr)
    recs = {}
    for line in out.stdout.splitlines():
        if line.strip():
            r = json.loads(line)
            if "handle" in r:
                recs[r["handle"]] = r
    return recs


def record_state(rec):
    """The (index, data) set of the values the mixer writes (not HS_ADMIN)."""
    got = set()
    for v in rec["values"]:
        if v["index"] == 100:
            continue
        d = v["data"]
        got.add((v["index"], d if isinstance(d, str) else d.get("value")))
    return got


def serve(data, port):
    log = open(os.path.join(os.path.dirname(data), "serve.log"), "a")
    p = subprocess.Popen([IDNODE, "serve", "--data", data, "--home", "88.100.1",
                          "--listen", "127.0.0.1:%d" % port, "--threads", "2"],
                         stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError("serve exited %d" % p.returncode)
        try:
            udp_exchange(port, request("88.100.1/__ready__"), timeout=0.2)
            return p
        except (TimeoutError, OSError):
            time.sleep(0.05)
    raise RuntimeError("serve not ready")


def trial(t, data, rng):
    port = free_port()
    node = serve(data, port)
    secret = os.path.join(os.path.dirname(data), "secret")
    log = os.path.join(os.path.dirname(data), "acked-%d.log" % t)
    args = [HDLADMIN, "--server", "127.0.0.1:%d" % port, "--id", "300:" + BOSS,
            "--secret-file", secret, "--prefix", "88.100.1", "--clients", "4", "--window", "4",
            "--count", "10000000", "--tag", "t%d" % t, "--log", log, "-q"]
    if t % 2:
        args.append("--session")
    load = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mixer = Mixer(port, "t%d" % t, rng.random())
    mixer.start()
    time.sleep(rng.uniform(0.3, 3.0))
    node.send_signal(signal.SIGKILL)
    node.wait(10)
    mixer.stop.set()
    mixer.join(10)
    try:
        load.wait(30)
    except subprocess.TimeoutExpired:
        load.kill()
        load.wait(5)
    acked = set()
    if os.path.exists(log):
        with open(log) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[1] == "1":
                    acked.add(parts[0])
    ver = subprocess.run([IDNODE, "verify", "--data", data], capture_output=True, text=True,
                         timeout=600)
    recs = dump(data)
    lost = [h for h in acked if h not in recs]
    for h, want in mixer.state.items():
        got = record_state(recs[h]) if h in recs else None
        ok = {frozenset(want) if want is not None else None}
        if mixer.inflight and mixer.inflight[0] == h:
            after = mixer.inflight[2]
            ok.add(frozenset(after) if after is not None else None)
        if (frozenset(got) if got is not None else None) not in ok:
            lost.append("%s: on disk %r, acknowledged %r" % (h, got, want))
    return len(acked), mixer.acked, lost, ver.returncode != 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--round", type=int, default=20)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    print("kill_trials: %d trials, seed %d" % (a.trials, a.seed), flush=True)
    totals = dict(creates=0, mixed=0, lost=0, bad_verify=0)
    work = None
    for t in range(a.trials):
        if t % a.round == 0:
            if work:
                shutil.rmtree(work, ignore_errors=True)
            work = tempfile.mkdtemp(prefix="idn-longrun-")
            data = os.path.join(work, "data")
            with open(os.path.join(work, "secret"), "wb") as f:
                f.write(SECRET)
            path = os.path.join(work, "in.jsonl")
            with open(path, "w") as f:
                for r in PREFIX_RECORDS:
                    f.write(json.dumps(r) + "\n")
            subprocess.run([IDNODE, "load", "--data", data, "-q", path], check=True,
                           timeout=60)
        creates, mixed, lost, bad = trial(t, data, rng)
        totals["creates"] += creates
        totals["mixed"] += mixed
        totals["lost"] += len(lost)
        totals["bad_verify"] += bad
        print("trial %d: %d creates and %d mixed writes acknowledged, %d lost%s" %
              (t + 1, creates, mixed, len(lost), ", VERIFY FAILED" if bad else ""), flush=True)
        for l in lost[:5]:
            print("  lost: " + l, flush=True)
    shutil.rmtree(work, ignore_errors=True)
    print("TRIALS %d acked_creates %d acked_mixed %d lost %d bad_verify %d" %
          (a.trials, totals["creates"], totals["mixed"], totals["lost"], totals["bad_verify"]))
    return 1 if totals["lost"] or totals["bad_verify"] else 0


if __name__ == "__main__":
    sys.exit(main())
