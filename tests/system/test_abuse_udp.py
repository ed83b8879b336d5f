"""Finding A of issue 16, UDP amplification, replayed against the real binary.

Before the fix a 69-byte resolution request for a record of 15 values x
16,000 bytes drew 489 datagrams (250,275 bytes) to whatever source it
claimed. Now every UDP answer keeps to min(--udp-answer-max, 10 x the
request's bytes on the wire) (docs/security.md, "UDP: answer budget and
response rate limiting"), whatever it is (a resolution, a referral, site
information, an answer to a multi-packet request); a longer one is a short
RC_ERROR asking for TCP, which `idnode resolve` follows. Answers to one source
network (/24) are held to --udp-rate-limit per second, every --udp-rate-slip-th
over it being that RC_ERROR, while another network is served in full.

Sources: Linux routes all of 127.0.0.0/8 to lo, so 127.0.1.2 and 127.0.2.3 are
two networks. Every loop is bounded in count and time."""
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, Node, free_port, parse_answer, request, tcp_exchange  # noqa: E402
from idnlib import siteinfo  # noqa: E402

RATIO = 10
BIG = {"handle": "88.1/BIG", "values": [
    {"index": i, "type": "URL", "data": "https://example.com/" + chr(96 + i) * 15980}
    for i in range(1, 16)]}
# Large enough to need several datagrams, small enough for a generous budget.
MID = {"handle": "88.1/MID", "values": [
    {"index": i, "type": "URL", "data": "https://example.com/" + "m" * 180}
    for i in range(1, 16)]}
SMALL = {"handle": "88.1/SMALL", "values": [
    {"index": 1, "type": "URL", "data": "https://example.com/small"}]}


def exchange_counted(port, reqs, src="127.0.0.1", quiet=0.5, limit=30.0):
    """Sends reqs (lists of datagrams) from src, one after the other, and reads
    everything that comes back until quiet seconds pass without a datagram.
    Returns (bytes sent, bytes received, {request id: [datagrams]})."""
    sent = got = 0
    answers = {}
    end = time.time() + limit
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, 0))
        s.settimeout(quiet)
        for dgrams in reqs:
            for d in dgrams:
                s.sendto(d, ("127.0.0.1", port))
                sent += len(d)
            # Read this request's answer before the next: nothing is lost to a full buffer.
            while time.time() < end:
                try:
                    pkt = s.recv(65536)
                except socket.timeout:
                    break
                got += len(pkt)
                have = answers.setdefault(struct.unpack(">I", pkt[8:12])[0], [])
                have.append(pkt)
                if len(have) * 492 >= struct.unpack(">I", pkt[16:20])[0]:
                    break  # whole
    return sent, got, answers


def fragment(req):
    """A request cut into Handle datagrams as the reference client does (492-byte chunks)."""
    body = req[20:]
    if len(body) <= 492:
        return [req]
    out = []
    for seq in range(0, (len(body) + 491) // 492):
        env = bytearray(req[:20])
        env[2] |= 0x20
        env[12:16] = struct.pack(">I", seq)
        out.append(bytes(env) + body[seq * 492:(seq + 1) * 492])
    return out


def whole(dgrams):
    """The message of an answer's datagrams, put back together."""
    dgrams = sorted(dgrams, key=lambda p: struct.unpack(">I", p[12:16])[0])
    return dgrams[0][:20] + b"".join(p[20:] for p in dgrams)


def read_all(s, got, most=100000):
    """Counts the answers waiting on s by response code into got, until none
    is waiting (non-blocking s) or none comes within its timeout."""
    for _ in range(most):
        try:
            rc = parse_answer(s.recv(65536))[2]
        except (BlockingIOError, socket.timeout):
            return
        got[rc] = got.get(rc, 0) + 1


class AnswerBudget(unittest.TestCase):
    """The budget alone: the rate limit is off on this node (--udp-rate-limit 0)."""

    @classmethod
    def setUpClass(cls):
        cls.node = Node(records=[BIG, MID, SMALL], homes=("88.1",),
                        extra_args=["--udp-rate-limit", "0", "--site-desc", "d" * 3000])
        cls.addClassCleanup(cls.node.close)
        # A root whose 0.NA/88.7 holds big HS_SITE.PREFIX values (30 servers
        # each): its referral for 88.7.1 is big.
        port = free_port()
        many = []
        for sid in range(1, 31):
            many += ["--site-server", "%d@127.0.0.%d:%d" % (sid, sid + 1, port)]
        prefixes = [siteinfo(*many, "--site-desc", "p" * 1500, index=i, typ="HS_SITE.PREFIX")
                    for i in range(2, 12)]
        cls.root = Node(records=[{"handle": "0.NA/88.7", "values": prefixes}], homes=("0.NA",),
                        extra_args=["--udp-rate-limit", "0"])
        cls.addClassCleanup(cls.root.close)
        cls.wide = Node(records=[MID], homes=("88.1",),
                        extra_args=["--udp-rate-limit", "0", "--udp-answer-max", "100000"])
        cls.addClassCleanup(cls.wide.close)

    def assert_ratio(self, port, req, n=20, want_rc=2):
        reqs = [fragment(request(None, req_id=i + 1, body=req[0], op=req[1]))
                for i in range(n)]
        sent, got, answers = exchange_counted(port, reqs)
        self.assertEqual(len(answers), n, "every request is answered")
        self.assertLessEqual(got, RATIO * sent, (sent, got))
        for dgrams in answers.values():
            _, op, rc, _, body = parse_answer(whole(dgrams))
            self.assertEqual((op, rc), (req[1], want_rc))
            if want_rc == 2:
                self.assertIn(b"over this node's UDP limit; ask over TCP", body)
        return sent, got

    @staticmethod
    def body(handle, types=()):
        h = handle.encode()
        b = struct.pack(">I", len(h)) + h + struct.pack(">I", 0) + struct.pack(">I", len(types))
        for t in types:
            b += struct.pack(">I", len(t)) + t
        return b

    def test_a_big_record(self):
        req = request(BIG["handle"])
        self.assertLessEqual(len(req), 70)  # the finding's 69-byte request
        # Over TCP the record is whole: ~240 kB, what UDP used to send to anyone.
        _, _, rc, _, body = parse_answer(tcp_exchange(self.node.port, req, timeout=10))
        self.assertEqual(rc, 1)
        self.assertGreater(len(body), 15 * 16000)
        sent, got = self.assert_ratio(self.node.port, (self.body(BIG["handle"]), 1))
        print("big record, 20 requests: bytes in %d, out %d (x%.2f)" % (sent, got, got / sent))
        # The same id, version and op code as the answer would have.
        env, op, rc, flags, body = parse_answer(tcp_exchange(self.node.port, req))
        answers = exchange_counted(self.node.port, [[req]])[2]
        uenv, uop, urc, uflags, ubody = parse_answer(whole(answers[env["request_id"]]))
        self.assertEqual((uenv["request_id"], uenv["major"], uenv["minor"], uop),
                         (env["request_id"], env["major"], env["minor"], op))
        self.assertEqual(urc, 2)
        self.assertIn(b"answer of", ubody)

    def test_a_small_answers_unchanged(self):
        # Answers within the budget are what they were: one datagram, the values.
        sent, got, answers = exchange_counted(self.node.port, [[request(SMALL["handle"])]])
        _, _, rc, _, body = parse_answer(whole(list(answers.values())[0]))
        self.assertEqual(rc, 1)
        self.assertIn(b"https://example.com/small", body)

    def test_b_referral(self):
        req = (self.body("0.NA/88.7.1"), 1)
        # The referral over TCP is big: many servers in ten HS_SITE.PREFIX values.
        _, _, rc, _, body = parse_answer(tcp_exchange(
            self.root.port, request(None, body=req[0]), timeout=10))
        self.assertEqual(rc, 303)
        self.assertGreater(len(body), 20000)
        sent, got = self.assert_ratio(self.root.port, req)
        print("referral: bytes in %d, out %d (x%.2f)" % (sent, got, got / sent))

    def test_b_site_info(self):
        _, _, rc, _, body = parse_answer(tcp_exchange(self.node.port, request("/", op=2)))
        self.assertEqual(rc, 1)
        self.assertGreater(len(body), 3000)
        sent, got = self.assert_ratio(self.node.port, (self.body("/"), 2))
        print("site info: bytes in %d, out %d (x%.2f)" % (sent, got, got / sent))

    def test_c_multi_packet_request(self):
        # A request of three datagrams (a long type list) for the big record:
        # its answer is still no more than 10 x its bytes.
        types = [b"URL"] + [b"T%04d" % i for i in range(120)]
        req = (self.body(BIG["handle"], types), 1)
        self.assertEqual(len(fragment(request(None, body=req[0]))), 3)
        sent, got = self.assert_ratio(self.node.port, req, n=5)
        print("multi-packet request: bytes in %d, out %d (x%.2f)" % (sent, got, got / sent))
        # Under a generous cap the ratio is what bounds: a 69-byte request
        # for MID (~3.5 kB) is refused, a 3-datagram one gets it whole.
        self.assert_ratio(self.wide.port, (self.body(MID["handle"]), 1), n=3)
        sent, got, answers = exchange_counted(
            self.wide.port, [fragment(request(None, req_id=7, body=self.body(
                MID["handle"], [b"URL"] + [b"T%04d" % i for i in range(120)])))])
        self.assertLessEqual(got, RATIO * sent)
        self.assertGreater(len(answers[7]), 5)
        _, _, rc, _, body = parse_answer(whole(answers[7]))
        self.assertEqual(rc, 1)
        self.assertEqual(body.count(b"https://example.com/m"), 15)

    def test_e_resolve_falls_back_to_tcp(self):
        r = subprocess.run([IDNODE, "resolve", BIG["handle"], "--udp", "--json", "--server",
                            "127.0.0.1:%d" % self.node.port], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual(j["responseCode"], 1)
        self.assertEqual(len(j["values"]), 15)
        self.assertEqual(j["values"][14]["data"]["value"], BIG["values"][14]["data"])

    def test_limit_logged(self):
        # Counted and logged through limit_hit(), naming the source network.
        exchange_counted(self.node.port, [[request(BIG["handle"])]])
        self.assertIn("idnode: limit udp-answer-size: source 127.0.0.0/24: answer over the UDP "
                      "budget, bytes", self.node.output())


class RecursiveBudget(unittest.TestCase):
    """A recursive node answers its cache misses from its resolver pool, not
    through the net layer: the same budget holds there, and its client takes
    the big record from upstream over TCP."""

    @classmethod
    def setUpClass(cls):
        ep = free_port()
        cls.ent = Node(records=[BIG], homes=("88.1",), listen=["127.0.0.1:%d" % ep],
                       extra_args=["--udp-rate-limit", "0"])
        cls.addClassCleanup(cls.ent.close)
        site = siteinfo("--listen", "127.0.0.1:%d" % ep)
        cls.root = Node(records=[{"handle": "0.NA/88.1", "values": [site]}], homes=("0.NA",),
                        extra_args=["--udp-rate-limit", "0"])
        cls.addClassCleanup(cls.root.close)
        cls.rec = Node(homes=(), extra_args=["--recursive", "--root",
                                             "127.0.0.1:%d" % cls.root.port,
                                             "--udp-rate-limit", "0"])
        cls.addClassCleanup(cls.rec.close)

    def test_b_recursive_miss_and_hit(self):
        # The first request is a miss answered by the pool, the others hits.
        reqs = [[request(BIG["handle"], req_id=i + 1)] for i in range(10)]
        sent, got, answers = exchange_counted(self.rec.port, reqs, quiet=5.0)
        print("recursive: bytes in %d, out %d (x%.2f)" % (sent, got, got / sent))
        self.assertEqual(len(answers), 10)
        self.assertLessEqual(got, RATIO * sent)
        for dgrams in answers.values():
            _, _, rc, _, body = parse_answer(whole(dgrams))
            self.assertEqual(rc, 2)
            self.assertIn(b"ask over TCP", body)
        # Over TCP the recursive node has the whole record: it fetched it over TCP.
        _, _, rc, _, body = parse_answer(tcp_exchange(self.rec.port, request(BIG["handle"]),
                                                      timeout=10))
        self.assertEqual(rc, 1)
        self.assertGreater(len(body), 15 * 16000)


class RateLimit(unittest.TestCase):
    RATE = 50

    @classmethod
    def setUpClass(cls):
        cls.node = Node(records=[SMALL], homes=("88.1",),
                        extra_args=["--udp-rate-limit", str(cls.RATE), "--udp-rate-slip", "2",
                                    "--udp-rate-exempt", "127.0.3.0/24",
                                    "--udp-rate-exempt", "::1"])
        cls.addClassCleanup(cls.node.close)

    def test_exempt_network_not_limited(self):
        """A network the operator exempts (a recursive node, a NAT) is answered
        at any rate: 600 requests at about 300/s, six times the rate, all answered."""
        got = 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.3.9", 0))
            s.settimeout(2.0)
            for i in range(600):
                s.sendto(request(SMALL["handle"], req_id=i + 1), ("127.0.0.1", self.node.port))
                try:
                    got += parse_answer(s.recv(65536))[2] == 1
                except socket.timeout:
                    pass
                if i % 3 == 0:
                    time.sleep(0.01)
        self.assertEqual(got, 600)

    def test_exempt_must_parse(self):
        for bad in ("127.0.0.0/33", "nonsense", "10.0.0.0/"):
            p = subprocess.run([IDNODE, "serve", "--data", self.node.data, "--home", "88.1",
                                "--listen", "127.0.0.1:0", "--udp-rate-exempt", bad],
                               capture_output=True, text=True, timeout=20)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn("udp-rate-exempt %s" % bad, p.stderr)

    def test_d_flood_limited_other_network_served(self):
        port = self.node.port
        flood_secs = 2.0
        result = {}

        def flood():
            n = 0
            got = {1: 0, 2: 0}
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.1.2", 0))
                s.setblocking(False)
                req = request(SMALL["handle"])
                start = time.time()
                while time.time() - start < flood_secs and n < 20000:
                    s.sendto(req, ("127.0.0.1", port))
                    n += 1
                    if n % 20 == 0:
                        time.sleep(0.001)
                    read_all(s, got)
                s.settimeout(0.5)
                read_all(s, got)
            result.update(sent=n, ok=got[1], slip=got[2], secs=time.time() - start)

        th = threading.Thread(target=flood)
        th.start()
        served = asked = 0
        try:
            # A well-behaved client of another network: 10 per second, every one answered.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.2.3", 0))
                s.settimeout(1.0)
                end = time.time() + flood_secs
                while time.time() < end and asked < 40:
                    s.sendto(request(SMALL["handle"], req_id=asked + 1), ("127.0.0.1", port))
                    asked += 1
                    try:
                        _, _, rc, _, _ = parse_answer(s.recv(65536))
                        served += rc == 1
                    except socket.timeout:
                        pass
                    time.sleep(0.1)
        finally:
            th.join(30)
        print("flood from 127.0.1.2: %(sent)d requests in %(secs).1f s, %(ok)d answers, "
              "%(slip)d slips" % result)
        print("127.0.2.3: %d of %d answered" % (served, asked))
        self.assertGreater(asked, 10)
        self.assertEqual(served, asked)
        self.assertGreater(result["sent"], 1000)
        # rate x seconds + one second's burst, with room for a coarse clock.
        bound = self.RATE * result["secs"] + self.RATE
        self.assertLessEqual(result["ok"], bound * 1.3 + 10, result)
        self.assertGreaterEqual(result["ok"], self.RATE, result)
        # About every second answer over the rate is a slip.
        over = result["sent"] - result["ok"]
        self.assertGreater(result["slip"], over * 0.3, result)
        self.assertLess(result["slip"], over * 0.7, result)
        # The flooded network gets through over TCP.
        _, _, rc, _, _ = parse_answer(tcp_exchange(port, request(SMALL["handle"])))
        self.assertEqual(rc, 1)
        self.assertIn("limit udp-rate: source 127.0.1.0/24", self.node.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
