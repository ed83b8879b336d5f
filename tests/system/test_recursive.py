"""The recursive role with real processes: root (88) -> secondary (88.100) ->
enterprise (88.100.1), and a recursive node resolving from the root. Every
level resolves through it, a repeated question does not go upstream (its
SIGUSR1 statistics count), and with the enterprise node killed a cached answer
is still served (stale) while an uncached one fails with a clear error in
bounded time. Every wait is bounded."""
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import (IDNODE, Node, class_nodes, free_port, parse_answer,  # noqa: E402
                    request, siteinfo, start_hierarchy, tcp_exchange, tcp_read_answer,
                    udp_exchange, url)


def stats(node, timeout=5.0):
    """The recursive node's counters: SIGUSR1, then the next 'resolver:' log line."""
    def whole_lines():
        # Only lines the node has finished writing: a read may meet the
        # first bytes of a line whose rest is not in the file yet.
        return [l for l in node.output().split("\n")[:-1] if "resolver:" in l]

    before = len(whole_lines())
    node.proc.send_signal(signal.SIGUSR1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        lines = whole_lines()
        if len(lines) > before:
            return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1])}
        time.sleep(0.05)
    raise RuntimeError("no statistics line: " + node.output())


def stats_until(node, key, want, timeout=3.0):
    """Statistics, read again (bounded) until key reaches want: a busy machine may
    print a line before a resolver thread's count lands."""
    deadline = time.time() + timeout
    st = stats(node)
    while st[key] < want and time.time() < deadline:
        time.sleep(0.1)
        st = stats(node)
    return st


class Recursive(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        class_nodes(cls)
        recs = [{"handle": "88.100.1/MOTOR-%d" % i,
                 "values": [url(1, "https://motor.example/%d" % i)]} for i in range(20)]
        # Short-lived: expires within the test, then only the stale window serves it.
        recs.append({"handle": "88.100.1/SHORT",
                     "values": [dict(url(1, "https://motor.example/short"), ttl=1)]})
        # Over the UDP answer budget (so asked again over TCP), with a value only
        # its administrators may read.
        recs.append({"handle": "88.100.1/BIG-RESTRICTED", "values": [
            url(1, "https://motor.example/big"),
            {"index": 2, "type": "DESC", "data": "d" * 1500},
            {"index": 3, "type": "SERIAL", "data": "internal", "perms": 0x0c}]})
        # HS_SITE.PREFIX at the root: it refers 88.100.x questions to the secondary.
        start_hierarchy(cls, [("ent", "88.100.1", recs, ())], root_records=[
            {"handle": "88/COUNTRY-INFO", "values": [url(1, "https://root.example/88")]}],
            sec_records=[{"handle": "88.100/INDUSTRY-1",
                          "values": [url(1, "https://sec.example/1")]}])
        rp = cls.ports["root"]
        # The recursive node: the root, and a store of its own with one prefix
        # (88.300.1, unknown to the root) it answers for itself.
        cls.rec = Node(records=[{"handle": "88.300.1/LOCAL",
                                 "values": [url(1, "https://local.example/")]}],
                       homes=("88.300.1",), extra_args=["--recursive", "--root", "127.0.0.1:%d" % rp,
                                             "--stale-ttl", "120", "--neg-ttl", "30"])
        cls.nodes.append(cls.rec)

    def test_1_every_level_through_the_recursive_node(self):
        for handle, want in (("88/COUNTRY-INFO", "https://root.example/88"),
                             ("88.100/INDUSTRY-1", "https://sec.example/1"),
                             ("88.100.1/MOTOR-7", "https://motor.example/7")):
            for transport in ("--udp", "--tcp"):
                out = self.rec.resolve(handle, transport)
                self.assertEqual(out.returncode, 0, handle + out.stdout + out.stderr)
                self.assertIn(want, out.stdout)
        # Not an authority: REC on the answer, AT off.
        ans, _, _ = udp_exchange(self.rec.port, request("88.100.1/MOTOR-8"))
        _, op, rc, flags, body = parse_answer(ans)
        self.assertEqual((op, rc), (1, 1))
        self.assertTrue(flags & 0x10000000)
        self.assertFalse(flags & 0x80000000)
        self.assertIn(b"https://motor.example/8", body)

    def test_1b_restricted_record_over_tcp_without_po(self):
        """A recursive node reads upstream as anyone: public only, even over TCP."""
        for transport in ("udp", "tcp"):
            req = request("88.100.1/BIG-RESTRICTED", flags=0x18000000)  # REC|CA, no PO
            if transport == "udp":
                ans, _, _ = udp_exchange(self.rec.port, req)
            else:
                ans = tcp_exchange(self.rec.port, req)
            _, op, rc, _, body = parse_answer(ans)
            if transport == "udp" and rc == 2:
                continue  # over our own UDP budget: "ask over TCP"
            self.assertEqual((op, rc), (1, 1), transport)
            self.assertIn(b"d" * 1500, body)
            self.assertNotIn(b"internal", body)

    def test_2_second_resolution_comes_from_the_cache(self):
        out = self.rec.resolve("88.100.1/MOTOR-3")
        self.assertEqual(out.returncode, 0, out.stderr)
        s1 = stats(self.rec)
        for transport in ("--udp", "--tcp", "--udp"):
            out = self.rec.resolve("88.100.1/MOTOR-3", transport)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("https://motor.example/3", out.stdout)
        s2 = stats(self.rec)
        self.assertEqual(s2["upstream"], s1["upstream"])
        self.assertGreaterEqual(s2["hits"], s1["hits"] + 3)
        # Filters are part of the question: a type filter is a new one.
        out = self.rec.resolve("88.100.1/MOTOR-3", "--type", "URL")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(stats_until(self.rec, "upstream", s2["upstream"] + 1)["upstream"],
                         s2["upstream"] + 1)

    def test_2b_own_identifiers_answered_as_their_authority(self):
        s1 = stats(self.rec)
        ans, _, _ = udp_exchange(self.rec.port, request("88.300.1/LOCAL"))
        _, _, rc, flags, body = parse_answer(ans)
        self.assertEqual(rc, 1)
        self.assertTrue(flags & 0x80000000)  # AT: from its own store
        self.assertIn(b"https://local.example/", body)
        ans, _, _ = udp_exchange(self.rec.port, request("88.300.1/NONE"))
        self.assertEqual(parse_answer(ans)[2], 100)
        self.assertEqual(stats(self.rec)["upstream"], s1["upstream"])

    def test_3_not_found_is_cached_too(self):
        out = self.rec.resolve("88.100.1/NO-SUCH")
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("HANDLE_NOT_FOUND", out.stdout + out.stderr)
        s1 = stats(self.rec)
        out = self.rec.resolve("88.100.1/NO-SUCH")
        self.assertEqual(out.returncode, 1)
        self.assertIn("HANDLE_NOT_FOUND", out.stdout + out.stderr)
        s2 = stats(self.rec)
        self.assertEqual(s2["upstream"], s1["upstream"], (s1, s2))
        # An unknown prefix: not found, with the reason.
        ans, _, _ = udp_exchange(self.rec.port, request("88.999/X"), timeout=5)
        _, _, rc, _, body = parse_answer(ans)
        self.assertEqual(rc, 100)
        self.assertIn(b"0.NA/88.999", body)

    def test_4_coalesced_misses(self):
        # Eight clients ask the same new question at once: one upstream query.
        s1 = stats(self.rec)
        socks, rid = [], 1000
        for _ in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(5)
            s.sendto(request("88.100.1/MOTOR-11", req_id=rid), ("127.0.0.1", self.rec.port))
            socks.append(s)
            rid += 1
        for s in socks:
            data, _ = s.recvfrom(4096)
            self.assertEqual(parse_answer(data)[2], 1)
            s.close()
        s2 = stats(self.rec)
        self.assertEqual(s2["upstream"], s1["upstream"] + 1)

    def test_9_enterprise_down_stale_and_uncached(self):
        for h in ("88.100.1/SHORT", "88.100.1/MOTOR-1"):
            out = self.rec.resolve(h)
            self.assertEqual(out.returncode, 0, out.stderr)
        self.ent.stop(signal.SIGKILL)
        time.sleep(1.5)  # SHORT's TTL (1 s) is over: only the stale window serves it
        out = self.rec.resolve("88.100.1/SHORT")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("https://motor.example/short", out.stdout)
        # The client may have had its answer from a retry that met the
        # expired entry while the first attempt still waited on the dead
        # upstream; the count lands when that attempt gives up (bounded).
        st = stats_until(self.rec, "stale", 1, timeout=DEADLINE)
        self.assertGreaterEqual(st["stale"], 1, "%s %s %s" % (st, out.stdout, self.rec.output()))
        # Still fresh: served without asking anyone.
        out = self.rec.resolve("88.100.1/MOTOR-1")
        self.assertEqual(out.returncode, 0, out.stderr)
        # Never cached: a clear error, in bounded time (the CLI's timeout).
        out = self.rec.resolve("88.100.1/MOTOR-19")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("recursive resolution of 88.100.1/MOTOR-19 failed",
                      out.stdout + out.stderr)
        self.assertGreaterEqual(stats(self.rec)["upstream_fail"], 2)


    def test_z_clean_stop(self):
        # After all of the above (pool threads busy on a dead upstream included).
        self.assertEqual(self.rec.stop(signal.SIGTERM), 0, self.rec.output())
        out = self.rec.output()
        self.assertNotIn("AddressSanitizer", out)
        self.assertNotIn("runtime error", out)
        self.assertIn("idnode: resolver: hits=", out)


class TcpMissDoesNotStall(unittest.TestCase):
    """A TCP miss waits on its upstream in the resolver's pool, not on the
    worker: with one worker and a root that never answers, another TCP
    client is served at once meanwhile, and the miss gets its error answer
    on its own connection, in order, in bounded time."""

    def test_tcp_miss_is_answered_later(self):
        silent = free_port()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", silent))
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.bind(("127.0.0.1", silent))
        lst.listen(16)  # accepted by the kernel, never answered
        rec = Node(records=[{"handle": "88.300.1/LOCAL",
                             "values": [url(1, "https://local.example/")]}],
                   homes=("88.300.1", "88.100.1"), threads=1,  # 88.100.1: the readiness probe
                   extra_args=["--recursive", "--root", "127.0.0.1:%d" % silent])
        try:
            a = socket.create_connection(("127.0.0.1", rec.port), timeout=DEADLINE)
            # The miss, then a local identifier pipelined behind it.
            a.sendall(request("88.200.1/UNREACHABLE", req_id=11) +
                      request("88.300.1/LOCAL", req_id=12))
            # the miss is out: the silent root has its question
            self.assertTrue(select.select([udp, lst], [], [], DEADLINE)[0], "no question")
            ans = tcp_exchange(rec.port, request("88.300.1/LOCAL", req_id=13), timeout=DEADLINE)
            # answered while the miss still waits (its UDP and TCP timeouts):
            # had the one worker waited on it, the miss's answer would be out
            self.assertEqual(select.select([a], [], [], 0)[0], [], "the worker waited on the miss")
            self.assertEqual(parse_answer(ans)[2], 1)
            first = tcp_read_answer(a)
            second = tcp_read_answer(a)
            self.assertEqual(struct.unpack(">I", first[8:12])[0], 11)
            self.assertEqual(parse_answer(first)[2], 2)  # upstream unreachable: error
            self.assertEqual(struct.unpack(">I", second[8:12])[0], 12)
            self.assertEqual(parse_answer(second)[2], 1)
            a.close()
            self.assertEqual(rec.stop(signal.SIGTERM), 0, rec.output())
        finally:
            rec.close()
            udp.close()
            lst.close()


class PureRecursive(unittest.TestCase):
    """No store, settings from an INI file: every request is resolved."""

    def test_config_file_and_no_store(self):
        rp = free_port()
        root = Node(records=[
            {"handle": "0.NA/88.100.1", "values": [siteinfo("--listen", "127.0.0.1:%d" % rp)]},
            {"handle": "88.100.1/X", "values": [url(1, "https://x.example/")]},
        ], homes=("88.100.1", "0.NA"), listen=["127.0.0.1:%d" % rp])
        port = free_port()
        d = tempfile.mkdtemp(prefix="idn-rec-")
        ini = os.path.join(d, "rec.ini")
        with open(ini, "w") as f:
            f.write("[server]\nrecursive = yes\nroot = 127.0.0.1:%d\nlisten = 127.0.0.1:%d\n"
                    "threads = 1\ncache_mb = 4\n" % (rp, port))
        log = open(os.path.join(d, "log"), "w+")
        proc = subprocess.Popen([IDNODE, "serve", "-c", ini], stdout=log, stderr=log)
        try:
            deadline, ans = time.time() + DEADLINE, None
            while time.time() < deadline and ans is None:
                try:
                    # No REC: a pure recursive node resolves it all the same.
                    ans, _, _ = udp_exchange(port, request("88.100.1/X", flags=0x01000000),
                                             timeout=0.5)
                except (TimeoutError, OSError):
                    time.sleep(0.05)
            self.assertIsNotNone(ans, "recursive node not ready")
            _, _, rc, _, body = parse_answer(ans)
            self.assertEqual(rc, 1)
            self.assertIn(b"https://x.example/", body)
            ans = tcp_exchange(port, request("/", op=2))
            self.assertEqual(parse_answer(ans)[2], 5)
            # A body that announces more than it has: a protocol error, not silence.
            ans, _, _ = udp_exchange(port, request("", body=b"\x00\x00\x10\x00ab"))
            self.assertEqual(parse_answer(ans)[2], 4)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(DEADLINE), 0)
            log.seek(0)
            self.assertIn("resolver: hits=", log.read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
            log.close()
            root.close()
            shutil.rmtree(d, ignore_errors=True)

    def test_referral_loop_is_the_recursion_limit(self):
        # A root that refers 77.x back to itself: the chain never ends.
        lp = free_port()
        loop = Node(records=[{"handle": "0.NA/77", "values": [
            siteinfo("--listen", "127.0.0.1:%d" % lp, index=2, typ="HS_SITE.PREFIX")]}],
            homes=("0.NA",), listen=["127.0.0.1:%d" % lp])
        rec = None
        try:
            rec = Node(homes=(), extra_args=["--recursive", "--root", "127.0.0.1:%d" % lp])
            # answered (a loop without the limit never would: DEADLINE)
            ans, _, _ = udp_exchange(rec.port, request("77.1/X"), timeout=DEADLINE)
            _, _, rc, _, body = parse_answer(ans)
            self.assertEqual(rc, 6)
            self.assertIn(b"referral loop", body)
            out = rec.resolve("77.1/X")
            self.assertNotEqual(out.returncode, 0)
        finally:
            if rec:
                rec.close()
            loop.close()

    def test_recursive_needs_a_root(self):
        out = subprocess.run([IDNODE, "serve", "--recursive", "--listen", "127.0.0.1:0"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--root", out.stderr)


if __name__ == "__main__":
    unittest.main()
