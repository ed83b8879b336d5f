"""docs/deploy.md, run: every ```sh on=MACHINE block of the guide is run in
order with bash on that "machine" (a directory of its own: /etc/idnode,
/var/lib/idnode, /var/backups and the operator's home under it), and every
```text block after it must match what the block printed ('...' = anything,
lines in order). So the guide and this test cannot drift: the commands are
read from the guide itself.

Machines are told apart by address. As root (CI), each machine is a network
namespace with the guide's own address 192.0.2.N on a veth to a bridge in a
namespace of its own (nothing reaches the host's network), so the commands
run with the guide's addresses and ports unchanged. Without root or `ip
netns` (or with IDN_DEPLOY_NET=loopback), 192.0.2.N becomes the loopback
address 127.0.2.N (all of 127/8 is local on Linux) and each (address, port)
a free port; the HS_SITE records still carry distinct addresses.
`systemctl enable --now|start|restart|reload|stop idnode` runs what the unit
runs (`idnode serve -c /etc/idnode/idnode.conf`, SIGHUP, SIGTERM); `scp
HOST:PATH` copies from that machine's directory; `sudo -u idnode` and
`chgrp idnode` are dropped (there is no user idnode here); `journalctl -u
idnode` is the node's log; `apt` is not run (tests/package/test_deb.py
installs the package). An
untagged ```sh block may hold only `apt install` lines. Every wait is
bounded; every node started is killed at the end, even on failure."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GUIDE = os.path.join(HERE, "..", "..", "docs", "deploy.md")
MACHINES = {"top": 1, "sec": 2, "ent": 3, "gw": 4, "sec2": 5, "desk": 6}
NETNS_PREFIX = "idn%d-" % os.getpid()
NAMES = {n: m for m, n in MACHINES.items()}
BLOCK_TIMEOUT = 120

FENCE = re.compile(r"^```(\S*)(.*)$")


def parse_guide(text):
    """[(kind, machine, body, line)]: kind 'run', 'expect' or 'other'."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        lang, info, start = m.group(1), m.group(2).strip(), i + 1
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = "\n".join(lines[start:j]) + "\n"
        on = re.match(r"on=(\w+)$", info)
        if lang == "sh" and on:
            blocks.append(("run", on.group(1), body, start))
        elif lang == "text":
            blocks.append(("expect", None, body, start))
        else:
            blocks.append(("other", lang, body, start))
        i = j + 1
    return blocks


# The bash each block runs after: the operator's environment on machine $M.
PREAMBLE = r"""
set -eo pipefail
export HOME="$M/root" PATH="$IDN_BIN:$PATH"
cd "$HOME"
apt() { echo "apt $*: not run by test_deploy (tests/package/test_deb.py installs it)"; }
chgrp() { :; }
scp() { cp "$@"; }
journalctl() { cat "$M/serve.log"; }
_idn_stop() {
  [ -f "$M/serve.pid" ] || return 0
  local pid; pid=$(cat "$M/serve.pid"); rm -f "$M/serve.pid"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid"; echo "idnode serve did not stop on SIGTERM" >&2; return 1
}
_idn_ready() {
  local addr rc pid; pid=$(cat "$M/serve.pid")
  addr=$(sed -n 's/^listen *= *//p' "$M/etc/idnode/idnode.conf" | head -n 1)
  for _ in $(seq 1 100); do
    rc=0; idnode resolve 0.NA/__ready__ --server "$addr" --timeout 200 >/dev/null 2>&1 || rc=$?
    [ "$rc" -le 1 ] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "idnode serve exited:" >&2; tail -n 20 "$M/serve.log" >&2; return 1; }
    sleep 0.1
  done
  echo "idnode serve not ready after 10 s" >&2; tail -n 20 "$M/serve.log" >&2; return 1
}
systemctl() {
  local cmd=$1; shift
  [ "$cmd" = enable ] && [ "$1" = --now ] && cmd=start
  case "$cmd" in
    start|restart)
      _idn_stop
      idnode serve -c "$M/etc/idnode/idnode.conf" >>"$M/serve.log" 2>&1 </dev/null &
      echo $! > "$M/serve.pid"; echo $! >> "$M/all.pids"; _idn_ready ;;
    reload) kill -HUP "$(cat "$M/serve.pid")" ;;
    stop) _idn_stop ;;
    *) echo "systemctl $cmd: not known to test_deploy" >&2; return 2 ;;
  esac
}
"""


class Guide:
    """The guide's text mapped onto this test's machines and ports."""

    def __init__(self, root, netns):
        self.root = root
        self.netns = netns  # the guide's addresses are real: map nothing but paths
        self.ports = {}

    def mdir(self, n):
        return os.path.join(self.root, NAMES.get(n, "m%d" % n))

    def port(self, n, p):
        key = (n, p)
        if key not in self.ports:
            self.ports[key] = free_port()
        return self.ports[key]

    def sub(self, text, machine):
        m = self.mdir(MACHINES[machine]) if machine else None

        def remote_path(mo):
            n, path = int(mo.group(1)), mo.group(2)
            if path.startswith("/"):
                return self.mdir(n) + path
            return os.path.join(self.mdir(n), "root", path)

        text = re.sub(r"192\.0\.2\.(\d+):((?!\d+\b)[\w./~-]+)", remote_path, text)
        if not self.netns:
            text = self.sub_addresses(text)
        if m:
            text = re.sub(r"(?<![\w/.-])(/etc/idnode|/var/lib/idnode|/var/backups)",
                          lambda mo: m + mo.group(1), text)
        return text.replace("sudo -u idnode ", "")

    def sub_addresses(self, text):
        text = re.sub(r"192\.0\.2\.(\d+):(\d+)",
                      lambda mo: "127.0.2.%s:%d" % (mo.group(1),
                                                    self.port(int(mo.group(1)), int(mo.group(2)))),
                      text)
        lines = []
        for line in text.split("\n"):  # siteinfo's summary: "at 192.0.2.N: tcp/P udp/P"
            a = re.search(r"192\.0\.2\.(\d+): ", line)
            if a:
                n = int(a.group(1))
                line = re.sub(r"\b(tcp|udp|http|https)/(\d+)",
                              lambda mo: "%s/%d" % (mo.group(1), self.port(n, int(mo.group(2)))),
                              line)
            lines.append(line)
        return re.sub(r"192\.0\.2\.(\d+)", r"127.0.2.\1", "\n".join(lines))


def ip(*args):
    return subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=10)


def netns_up():
    """The namespaces: a switch (a bridge) and one per machine on it at 192.0.2.N.
    Returns the namespaces made (to delete) and why it failed, or None."""
    made = []
    if os.environ.get("IDN_DEPLOY_NET") == "loopback":
        return made, "IDN_DEPLOY_NET=loopback"
    if os.geteuid() != 0 or not shutil.which("ip"):
        return made, "not root, or no ip(8)"
    sw = NETNS_PREFIX + "sw"
    steps = [("netns", "add", sw), ("-n", sw, "link", "add", "br0", "type", "bridge"),
             ("-n", sw, "link", "set", "br0", "up")]
    for name, n in MACHINES.items():
        ns = NETNS_PREFIX + name
        steps += [("netns", "add", ns),
                  ("-n", sw, "link", "add", "v-" + name, "type", "veth", "peer", "name", "eth0",
                   "netns", ns),
                  ("-n", sw, "link", "set", "v-" + name, "master", "br0", "up"),
                  ("-n", ns, "addr", "add", "192.0.2.%d/24" % n, "dev", "eth0"),
                  ("-n", ns, "link", "set", "eth0", "up"), ("-n", ns, "link", "set", "lo", "up")]
    for step in steps:
        r = ip(*step)
        if step[0] == "netns" and r.returncode == 0:
            made.append(step[2])
        if r.returncode != 0:
            return made, "ip %s: %s" % (" ".join(step), r.stderr.strip())
    r = ip("netns", "exec", NETNS_PREFIX + "desk", "true")  # some containers cannot
    return made, r.returncode and "ip netns exec: %s" % r.stderr.strip() or None


def expect_pattern(line):
    return ".*".join(re.escape(p) for p in line.strip().split("..."))


class Deploy(unittest.TestCase):
    def setUp(self):
        for tool in ("bash", "openssl", "curl"):
            if not shutil.which(tool):
                self.skipTest("%s is not installed (scripts/deps.sh installs it)" % tool)
        self.root = tempfile.mkdtemp(prefix="idn-deploy-")
        self.namespaces = []
        for name in MACHINES:
            for d in ("etc/idnode", "var/lib", "var/backups", "root"):
                os.makedirs(os.path.join(self.root, name, d), exist_ok=True)

    def tearDown(self):
        for name in MACHINES:
            path = os.path.join(self.root, name, "all.pids")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                pids = [int(x) for x in f.read().split()]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for ns in reversed(self.namespaces):
            ip("netns", "del", ns)
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self):
        out = []
        for name in MACHINES:
            path = os.path.join(self.root, name, "serve.log")
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append("--- %s serve.log (end)\n%s" % (name, f.read()[-3000:]))
        return "\n".join(out)

    def test_guide_blocks_are_well_formed(self):
        with open(GUIDE) as f:
            blocks = parse_guide(f.read())
        runs = [b for b in blocks if b[0] == "run"]
        self.assertGreaterEqual(len(runs), 15, "the guide's command blocks")
        for kind, on, body, line in blocks:
            if kind == "run":
                self.assertIn(on, MACHINES, "deploy.md:%d: on=%s" % (line, on))
            if kind == "other" and on == "sh":
                for cmd in body.strip().split("\n"):
                    self.assertTrue(cmd.startswith("apt install "),
                                    "deploy.md:%d: an untagged sh block runs '%s': tag it "
                                    "on=MACHINE so the test runs it" % (line, cmd))
        prev = None
        for kind, on, body, line in blocks:
            if kind == "expect":
                self.assertEqual(prev, "run", "deploy.md:%d: a text block after no commands" % line)
            prev = kind if kind != "other" else prev

    def test_siteinfo_reads_the_nodes_file(self):
        """`siteinfo -c FILE`, as the guide uses it: the file's site settings, the
        flags over them, other keys ignored; a bad file named with its line."""
        conf = os.path.join(self.root, "node.conf")
        with open(conf, "w") as f:
            f.write("[server]\ndata = %s/d\nhome = 88\nlisten = 127.0.2.9:2641\n"
                    "http = 127.0.2.9:8000\nsite_desc = From the file\n" % self.root)

        def siteinfo(*args):
            return subprocess.run([IDNODE, "siteinfo", "-c", conf] + list(args),
                                  capture_output=True, text=True, timeout=30)
        p = siteinfo()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("server 1 at 127.0.2.9: tcp/2641 udp/2641 http/8000", p.stdout)
        self.assertIn("From the file".encode().hex(), p.stdout)
        p = siteinfo("--listen", "127.0.2.8:3000")
        self.assertIn("server 1 at 127.0.2.8: tcp/3000 udp/3000 http/8000", p.stdout)
        with open(conf, "a") as f:
            f.write("no_such_setting = 1\n")
        p = siteinfo()
        self.assertEqual(p.returncode, 2)
        self.assertIn("node.conf:7", p.stderr)
        self.assertIn("no_such_setting", p.stderr)

    def test_sm2_server_key_refused(self):
        """The guide's note: an SM2 server key is refused at start, with why."""
        key = os.path.join(self.root, "sm2.pem")
        subprocess.run([IDNODE, "keygen", "--type", "sm2", "--out", key], check=True,
                       capture_output=True, timeout=30)
        for args, rc in ((["siteinfo"], 2),
                         (["serve", "--data", os.path.join(self.root, "d"), "--listen",
                           "127.0.2.1:%d" % free_port()], 1)):
            p = subprocess.run([IDNODE] + args + ["--server-key", key], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(p.returncode, rc, p.stderr)
            self.assertIn("sm2.pem: this key cannot sign the node's answers", p.stderr)
            self.assertIn("idnode keygen --type rsa", p.stderr)

    def test_guide(self):
        with open(GUIDE) as f:
            blocks = parse_guide(f.read())
        self.namespaces, why = netns_up()
        if why:
            for ns in reversed(self.namespaces):
                ip("netns", "del", ns)
            self.namespaces = []
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind(("127.0.2.5", 0))
            except OSError as e:
                self.skipTest("no network namespaces (%s), and cannot bind 127.0.2.x: %s"
                              % (why, e))
            sys.stderr.write("test_deploy: on loopback 127.0.2.N, ports mapped (no network "
                             "namespaces: %s)\n" % why)
        else:
            sys.stderr.write("test_deploy: each machine in its own network namespace at "
                             "192.0.2.N, the guide's ports\n")
        g = Guide(self.root, netns=not why)
        env = dict(os.environ, IDN_BIN=os.path.dirname(os.path.abspath(IDNODE)))
        out, where = None, None
        ran = 0
        for kind, on, body, line in blocks:
            if kind == "run":
                script = g.sub(body, on)
                env["M"] = os.path.join(self.root, on)
                t0 = time.time()
                try:
                    netns = ["ip", "netns", "exec", NETNS_PREFIX + on] if g.netns else []
                    p = subprocess.run(netns + ["bash", "-c", PREAMBLE + script], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, timeout=BLOCK_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.fail("deploy.md:%d (on %s): still running after %d s\n%s"
                              % (line, on, BLOCK_TIMEOUT, self.logs()))
                out, where = p.stdout, "deploy.md:%d (on %s)" % (line, on)
                self.assertEqual(p.returncode, 0, "%s exited %d in %.1f s:\n%s\n%s\n%s"
                                 % (where, p.returncode, time.time() - t0, script, out,
                                    self.logs()))
                ran += 1
            elif kind == "expect":
                pos = 0
                for want in g.sub(body, None).strip().split("\n"):
                    mo = re.compile(expect_pattern(want)).search(out, pos)
                    self.assertIsNotNone(mo, "deploy.md:%d: '%s' not in what %s printed "
                                         "(from offset %d):\n%s" % (line, want, where, pos, out))
                    pos = mo.end()
        self.assertGreaterEqual(ran, 15)


if __name__ == "__main__":
    unittest.main()
