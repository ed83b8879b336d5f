"""System tests: the real idnode binary on loopback ports, resolved through
the CLI over UDP and TCP, and hammered with malformed packets."""
import json
import os
import random
import signal
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import (Node, parse_answer, recv_exact, request, tcp_exchange, tcp_read_answer,
                    udp_exchange)

MOTOR = {"handle": "88.100.1/MOTOR-2026-000042", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/motor/42"},
    {"index": 2, "type": "EMAIL", "data": "qa@example.com", "ttl": 3600},
    {"index": 3, "type": "DESC", "data": "Grüße — データ ✓"},
    {"index": 4, "type": "SECRET", "data": "hidden", "perms": 12},
]}
BIG = {"handle": "88.100.1/BIG", "values": [
    {"index": i, "type": "URL", "data": "https://example.com/" + "x" * 80 + "%04d" % i}
    for i in range(1, 31)]}
FAMILY = {"handle": "88.100.1/FAMILY", "values": [
    {"index": 1, "type": "URL", "data": "u"}, {"index": 2, "type": "URL.us", "data": "us"},
    {"index": 3, "type": "URL.CN", "data": "cn"}, {"index": 4, "type": "URLX", "data": "x"}]}
LOWER = {"handle": "88.100.1/lower", "values": [{"index": 1, "type": "URL", "data": "l"}]}


class ResolveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Multi-packet answers are looked at on the wire here, and thousands of
        # datagrams come from one source: this node lets UDP answers be large
        # and has no rate limit (test_abuse_udp holds the defaults).
        cls.node = Node(records=[MOTOR, BIG, LOWER, FAMILY],
                        extra_args=["--udp-answer-max", "262144", "--udp-amplification", "1000",
                                    "--udp-rate-limit", "0"])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def resolve_json(self, handle, *args):
        r = self.node.resolve(handle, "--json", *args)
        return r, (json.loads(r.stdout) if r.stdout.strip() else None)

    def test_udp_and_tcp(self):
        for t in ("--udp", "--tcp"):
            r, j = self.resolve_json(MOTOR["handle"], t)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(j["responseCode"], 1)
            self.assertEqual(j["handle"], MOTOR["handle"])
            # The value without public read is withheld from an anonymous request.
            self.assertEqual([v["index"] for v in j["values"]], [1, 2, 3])
            self.assertEqual(j["values"][0]["data"]["value"], "https://example.com/motor/42")
            self.assertEqual(j["values"][1]["ttl"], 3600)
            self.assertEqual(j["values"][2]["data"]["value"], "Grüße — データ ✓")

    def test_human_output(self):
        r = self.node.resolve(MOTOR["handle"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("https://example.com/motor/42", r.stdout)
        self.assertIn("EMAIL", r.stdout)

    def test_filters(self):
        r, j = self.resolve_json(MOTOR["handle"], "--type", "email")
        self.assertEqual([v["index"] for v in j["values"]], [2])
        r, j = self.resolve_json(MOTOR["handle"], "--index", "3", "--type", "URL")
        self.assertEqual([v["index"] for v in j["values"]], [1, 3])
        # A type ending in '.' names a family, and the family's own name.
        r, j = self.resolve_json(FAMILY["handle"], "--type", "URL.")
        self.assertEqual([v["index"] for v in j["values"]], [1, 2, 3])
        r, j = self.resolve_json(FAMILY["handle"], "--type", "url")
        self.assertEqual([v["index"] for v in j["values"]], [1])
        r, j = self.resolve_json(FAMILY["handle"], "--type", "URL.CN")
        self.assertEqual([v["index"] for v in j["values"]], [3])
        r, j = self.resolve_json(MOTOR["handle"], "--type", "NOSUCH")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(j["responseCode"], 200)

    def test_multi_packet_udp(self):
        r, j = self.resolve_json(BIG["handle"], "--udp")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(j["values"]), 30)
        self.assertEqual(j["values"][29]["data"]["value"], BIG["values"][29]["data"])
        # On the wire: several datagrams, each ≤ 512 bytes with the TC flag.
        ans, n, chunks = udp_exchange(self.node.port, request(BIG["handle"]))
        self.assertGreater(n, 5)
        for seq, pkt in chunks.items():
            self.assertLessEqual(len(pkt), 512)
            self.assertTrue(pkt[2] & 0x20)
            self.assertEqual(struct.unpack(">I", pkt[12:16])[0], seq)
        env, op, rc, flags, body = parse_answer(ans)
        self.assertEqual(rc, 1)

    def test_not_found(self):
        r, j = self.resolve_json("88.100.1/NO-SUCH-THING")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(j["responseCode"], 100)
        r = self.node.resolve("88.100.1/NO-SUCH-THING", "--tcp")
        self.assertEqual(r.returncode, 1)
        self.assertIn("HANDLE_NOT_FOUND", r.stderr)

    def test_error_without_message(self):
        # a server (not idnode) answering an error with no message at all, as some
        # do: the client says the code (it copied the message from NULL: UBSan
        # stopped it there)
        import subprocess
        import threading
        from idnlib import IDNODE, free_port
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", port))
            s.settimeout(30)

            def answer():
                data, addr = s.recvfrom(65536)
                rid, op = struct.unpack(">I", data[8:12])[0], struct.unpack(">I", data[20:24])[0]
                msg = struct.pack(">IIIHBBII", op, 100, 0, 0, 0, 0, 0, 0) + struct.pack(">I", 0)
                s.sendto(struct.pack(">BBBBIIII", 2, 5, 0, 0, 0, rid, 0, len(msg)) + msg, addr)

            t = threading.Thread(target=answer)
            t.start()
            r = subprocess.run([IDNODE, "resolve", "88.1/x", "--server", "127.0.0.1:%d" % port],
                               capture_output=True, text=True, timeout=30)
            t.join(30)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("88.1/x: HANDLE_NOT_FOUND (100)", r.stderr)
        self.assertNotIn("runtime error", r.stderr)

    def test_case(self):
        # Prefix case-insensitive, suffix case-sensitive (the default).
        r, j = self.resolve_json("88.100.1/lower")
        self.assertEqual(j["responseCode"], 1)
        r, j = self.resolve_json("88.100.1/LOWER")
        self.assertEqual(j["responseCode"], 100)
        r, j = self.resolve_json(MOTOR["handle"].replace("88.100.1", "88.100.1"))
        self.assertEqual(j["responseCode"], 1)

    def test_invalid_and_unhomed(self):
        r, j = self.resolve_json("no-slash-here")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(j["responseCode"], 301)
        r, j = self.resolve_json("99.999/x")
        self.assertEqual(j["responseCode"], 301)
        # A NUL inside the handle is refused as invalid.
        env, op, rc, flags, body = parse_answer(
            udp_exchange(self.node.port, request(b"88.100.1/a\x00b"))[0])
        self.assertEqual(rc, 102)
        # A handle over 2048 bytes.
        env, op, rc, flags, body = parse_answer(
            tcp_exchange(self.node.port, request("88.100.1/" + "x" * 3000)))
        self.assertEqual(rc, 102)
        r = self.node.resolve("88.100.1/" + "x" * 3000)
        self.assertEqual(r.returncode, 2)

    def test_protocol_details(self):
        req = request(MOTOR["handle"], flags=0, minor=11)
        env, op, rc, flags, body = parse_answer(udp_exchange(self.node.port, req)[0])
        self.assertEqual((env["major"], env["minor"]), (2, 11))
        self.assertEqual(env["request_id"], struct.unpack(">I", req[8:12])[0])
        self.assertEqual(flags, 0x90000000)  # AT|REC, as the reference
        # Version 2.3 is answered in 2.3, advertising 2.11.
        env, op, rc, flags, body = parse_answer(
            udp_exchange(self.node.port, request(MOTOR["handle"], minor=3))[0])
        self.assertEqual((env["minor"], env["flags"] & 3, env["sugg_minor"]), (3, 2, 11))
        # RD: the body starts with the SHA-1 digest of the request (2.5).
        import hashlib
        req = request(MOTOR["handle"], flags=0x19800000)
        env, op, rc, flags, body = parse_answer(udp_exchange(self.node.port, req)[0])
        self.assertEqual(body[0], 2)
        hb_len = 24 + struct.unpack(">I", req[40:44])[0]
        self.assertEqual(body[1:21], hashlib.sha1(req[20:20 + hb_len]).digest())
        # Admin requests over UDP are refused as the reference does.
        env, op, rc, flags, body = parse_answer(udp_exchange(
            self.node.port, request(None, op=100, body=b"\x00\x00\x00\x00\x00\x00\x00\x00"))[0])
        self.assertEqual(rc, 4)

    def test_tcp_pipelined(self):
        reqs = [request(MOTOR["handle"] if i % 3 else "88.100.1/none-%d" % i, req_id=1000 + i)
                for i in range(200)]
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=5) as s:
            s.sendall(b"".join(reqs))
            for i in range(200):
                env, op, rc, flags, body = parse_answer(tcp_read_answer(s))
                self.assertEqual(env["request_id"], 1000 + i)
                self.assertEqual(rc, 1 if i % 3 else 100)

    def test_tcp_byte_by_byte(self):
        req = request(MOTOR["handle"], req_id=77)
        with socket.create_connection(("127.0.0.1", self.node.port), timeout=5) as s:
            for b in req:
                s.send(bytes([b]))
            env, op, rc, flags, body = parse_answer(tcp_read_answer(s))
            self.assertEqual((env["request_id"], rc), (77, 1))

    def assert_still_serving(self):
        self.assertTrue(self.node.alive(), self.node.output())
        r = self.node.resolve(MOTOR["handle"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.node.resolve(MOTOR["handle"], "--tcp")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_garbage_udp(self):
        rnd = random.Random(2641)
        good = request(MOTOR["handle"])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            dst = ("127.0.0.1", self.node.port)
            for i in range(3000):
                kind = i % 6
                if kind == 0:  # random bytes of random length
                    pkt = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 600)))
                elif kind == 1:  # truncated good request
                    pkt = good[:rnd.randint(0, len(good) - 1)]
                elif kind == 2:  # good request with random bytes flipped
                    b = bytearray(good)
                    for _ in range(rnd.randint(1, 8)):
                        b[rnd.randrange(len(b))] = rnd.getrandbits(8)
                    pkt = bytes(b)
                elif kind == 3:  # envelope announcing a huge message
                    pkt = good[:16] + struct.pack(">I", 0x7FFFFFFF) + good[20:]
                elif kind == 4:  # a fragment of a multi-packet request that never completes
                    pkt = good[:12] + struct.pack(">II", 0, 5000) + good[20:]
                else:  # huge counts inside a valid envelope
                    body = struct.pack(">I", 4) + b"88.1" + struct.pack(">I", 0xFFFFFFFF)
                    pkt = request(None, body=body)
                s.sendto(pkt, dst)
                if i % 200 == 0:
                    time.sleep(0.01)
        self.assert_still_serving()

    def test_garbage_tcp(self):
        rnd = random.Random(4126)
        good = request(MOTOR["handle"])
        for i in range(150):
            with socket.create_connection(("127.0.0.1", self.node.port), timeout=5) as s:
                kind = i % 5
                if kind == 0:
                    s.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000))))
                elif kind == 1:
                    s.sendall(good[:rnd.randint(1, len(good) - 1)])
                elif kind == 2:  # oversized message length: answered with an error, closed
                    s.sendall(good[:16] + struct.pack(">I", 0x7FFFFFFF))
                    s.settimeout(3)
                    env, op, rc, flags, body = parse_answer(tcp_read_answer(s))
                    self.assertEqual(rc, 2)  # as the reference (x37)
                    self.assertEqual(env["request_id"], struct.unpack(">I", good[8:12])[0])
                    try:
                        while s.recv(65536):
                            pass
                    except (socket.timeout, ConnectionError):
                        self.fail("oversized request: the connection was not closed")
                elif kind == 3:  # garbage after a good request
                    s.sendall(good + b"\xff" * 100)
                    s.settimeout(3)
                    env, op, rc, flags, body = parse_answer(tcp_read_answer(s))
                    self.assertEqual(rc, 1)
                else:  # a bad body in a good frame, then a good request
                    b = bytearray(good)
                    b[44:48] = struct.pack(">I", 0xFFFFFF00)
                    s.sendall(bytes(b) + good)
                    s.settimeout(3)
                    env, op, rc, flags, body = parse_answer(tcp_read_answer(s))
                    self.assertEqual(rc, 4)
                    env, op, rc, flags, body = parse_answer(tcp_read_answer(s))
                    self.assertEqual(rc, 1)
        self.assert_still_serving()


class LifecycleTest(unittest.TestCase):
    def test_sigterm_and_sigint(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            n = Node(records=[MOTOR])
            try:
                self.assertEqual(n.stop(sig), 0, n.output())  # within DEADLINE
            finally:
                n.close()

    def test_ipv6_and_config_file(self):
        import tempfile
        port = __import__("idnlib").free_port()
        with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
            f.write("[server]\nthreads = 1\nlisten = 127.0.0.1:%d\nhome = 77.1\n" % port)
            conf = f.name
        try:
            # --home on the command line replaces the file's list; --listen too.
            n = Node(records=[MOTOR], homes=("88.100.1",), config=conf)
            try:
                self.assertEqual(n.resolve(MOTOR["handle"]).returncode, 0)
            finally:
                n.close()
            if socket.has_ipv6:
                try:
                    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                        s.bind(("::1", 0))
                except OSError:
                    self.skipTest("no IPv6 loopback")
                p6 = __import__("idnlib").free_port()
                n = Node(records=[MOTOR], listen=["127.0.0.1:%d" % p6, "[::1]:%d" % p6])
                try:
                    r = n.cli("resolve", MOTOR["handle"], "--server", "[::1]:%d" % p6)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    r = n.cli("resolve", MOTOR["handle"], "--server", "[::1]:%d" % p6, "--tcp")
                    self.assertEqual(r.returncode, 0, r.stderr)
                finally:
                    n.close()
        finally:
            os.unlink(conf)

    def test_bad_config(self):
        import subprocess
        import tempfile
        from idnlib import IDNODE
        with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
            f.write("[server]\nthreads = lots\n")
            conf = f.name
        try:
            r = subprocess.run([IDNODE, "serve", "-c", conf], capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(r.returncode, 2)
            self.assertIn(conf, r.stderr)
            self.assertIn("threads", r.stderr)
        finally:
            os.unlink(conf)
        r = subprocess.run([IDNODE, "serve", "--data", "/tmp/x", "--listen", "256.1.1.1:1"],
                           capture_output=True, text=True, timeout=10)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("256.1.1.1", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
