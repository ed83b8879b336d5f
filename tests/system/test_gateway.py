"""The public gateway with real processes: root (88) -> secondary (88.100) ->
two enterprises (88.100.1 motors, 88.100.2 pumps), and a recursive node
started without a store, with --http. Its REST reads, POST /api/resolve,
Handle over HTTP, proxy redirect and record page resolve identifiers of both
enterprises through the hierarchy; a second request is a cache hit (SIGUSR1
statistics); with one enterprise node stopped (SIGSTOP: it never answers) its
cached identifiers are served stale (Warning: 110) and the others answer 504
naming the node, while the other enterprise's identifiers keep answering
promptly and cached reads stay inline. A recursive node with a store answers
its own identifiers itself and the rest through the hierarchy. Every wait
and loop is bounded."""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode, split_responses  # noqa: E402
from idnlib import DEADLINE, waiting  # noqa: E402
from idnlib import (IDNODE, class_nodes, parse_answer, request, start_hierarchy,  # noqa: E402
                    udp_exchange, url)
from test_recursive import stats, stats_until  # noqa: E402

HDL = {"Content-Type": "application/x-hdl-message"}
# Wide: the dead reads' 50 client threads share two busy cores with the live ones.
LIVE_FACTOR = 20.0


def get(port, path, timeout=DEADLINE):
    """(status, headers lower-cased, body, seconds) of one GET on a fresh connection."""
    t0 = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read(), time.time() - t0
    finally:
        c.close()


class Gateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        class_nodes(cls)
        motors = [{"handle": "88.100.1/MOTOR-%d" % i,
                   "values": [url(1, "https://motor.example/%d" % i)]} for i in range(300)]
        pumps = [{"handle": "88.100.2/PUMP-%d" % i,
                  "values": [url(1, "https://pump.example/%d" % i)]} for i in range(80)]
        # Short-lived: expired by the time the node is stopped, then served stale.
        pumps += [{"handle": "88.100.2/SHORT-%d" % i,
                   "values": [dict(url(1, "https://pump.example/short/%d" % i), ttl=1)]}
                  for i in range(3)]
        start_hierarchy(cls, [
            ("ent1", "88.100.1", motors, ("--site-desc", "Motor works")),
            ("ent2", "88.100.2", pumps, ("--site-desc", "Pump works"))])
        rp = cls.ports["root"]
        cls.e2_port = cls.ports["ent2"]
        root = ["--recursive", "--root", "127.0.0.1:%d" % rp, "--stale-ttl", "300",
                "--neg-ttl", "30"]
        # Held down for as long as a test may take: test_9's reads of the
        # stopped enterprise meet the hold-down, never a probe of it.
        holddown = str(int(DEADLINE * 1000))
        cls.gw = HttpNode(nostore=True, threads=2, extra_args=root + [
            "--upstream-holddown-ms", holddown, "--upstream-holddown-max-ms", holddown,
            "--http-gateway-threads", "4"])
        cls.nodes.append(cls.gw)
        # A recursive node with a store of its own (88.300.1, unknown to the root).
        cls.gws = HttpNode(records=[{"handle": "88.300.1/LOCAL",
                                     "values": [url(1, "https://local.example/")]}],
                           homes=("88.300.1",), extra_args=root)
        cls.nodes.append(cls.gws)

    @classmethod
    def tearDownClass(cls):
        if cls.ent2.alive():  # a test stops it: the class cleanup closes it
            cls.ent2.proc.send_signal(signal.SIGCONT)

    def test_1_rest_both_enterprises(self):
        for h, want in (("88.100.1/MOTOR-1", "https://motor.example/1"),
                        ("88.100.2/PUMP-1", "https://pump.example/1")):
            st, hd, b, _ = get(self.gw.http_port, "/api/handles/" + h)
            self.assertEqual(st, 200, b)
            doc = json.loads(b)
            self.assertEqual((doc["responseCode"], doc["handle"]), (1, h))
            self.assertEqual(doc["values"][0]["data"]["value"], want)
            self.assertIn("age", hd)  # an answer from another node says how old it is
            self.assertNotIn("warning", hd)
        # Filters pass through; an unknown identifier is 404 as on the authority.
        st, _, b, _ = get(self.gw.http_port, "/api/handles/88.100.1/MOTOR-1?type=URL")
        self.assertEqual((st, len(json.loads(b)["values"])), (200, 1))
        st, _, b, _ = get(self.gw.http_port, "/api/handles/88.100.1/NOPE")
        self.assertEqual((st, json.loads(b)["responseCode"]), (404, 100))
        st, _, b, _ = get(self.gw.http_port, "/api/handles/88.999.9/NOPE")
        self.assertEqual((st, json.loads(b)["responseCode"]), (404, 100))

    def test_2_second_request_is_a_cache_hit(self):
        path = "/api/handles/88.100.1/MOTOR-2"
        self.assertEqual(get(self.gw.http_port, path)[0], 200)
        before = stats(self.gw)
        for _ in range(5):
            st, hd, b, _ = get(self.gw.http_port, path)
            self.assertEqual(st, 200)
        after = stats_until(self.gw, "hits", before["hits"] + 5)
        self.assertGreaterEqual(after["hits"] - before["hits"], 5)
        self.assertEqual(after["upstream"], before["upstream"])
        self.assertEqual(after["misses"], before["misses"])
        self.assertGreaterEqual(after["sites"], 1)  # 0.NA/88.100.1 kept for walks

    def test_3_post_resolve_and_handle_over_http(self):
        body = json.dumps({"handles": ["88.100.1/MOTOR-3", "88.100.2/PUMP-3",
                                       "88.100.2/NOPE"]})
        st, hd, b = self.gw.req("POST", "/api/resolve", body,
                                {"Content-Type": "application/json"})
        self.assertEqual(st, 200, b)
        res = json.loads(b)["results"]
        self.assertEqual([r["responseCode"] for r in res], [1, 1, 100])
        self.assertEqual(res[1]["values"][0]["data"]["value"], "https://pump.example/3")
        # Again: now every one is cached, answered inline.
        st, hd, b = self.gw.req("POST", "/api/resolve", body,
                                {"Content-Type": "application/json"})
        self.assertEqual([r["responseCode"] for r in json.loads(b)["results"]], [1, 1, 100])
        for h, want in (("88.100.1/MOTOR-4", b"https://motor.example/4"),
                        ("88.100.2/PUMP-4", b"https://pump.example/4")):
            for _ in range(2):  # a miss (answered later), then a hit
                st, hd, b = self.gw.req("POST", "/", request(h), HDL)
                self.assertEqual((st, hd["content-type"]), (200, "application/x-hdl-message"))
                _, op, rc, flags, abody = parse_answer(b)
                self.assertEqual((op, rc), (1, 1))
                self.assertIn(want, abody)

    def test_3b_gateway_answer_bounded(self):
        """A POST /api/resolve with misses is answered whole by a gateway thread:
        its body is bounded by --http-gateway-answer-max (413 beyond, limit
        gateway-answer); once cached, the same batch streams from the HTTP worker."""
        gw = HttpNode(nostore=True, threads=1, extra_args=[
            "--recursive", "--root", "127.0.0.1:%d" % self.root.port,
            "--http-gateway-answer-max", "2000"])
        try:
            ct = {"Content-Type": "application/json"}
            small = json.dumps({"handles": ["88.100.1/MOTOR-%d" % i for i in range(200, 203)]})
            st0 = stats(gw)
            st, _, b = gw.req("POST", "/api/resolve", small, ct)
            self.assertEqual(st, 200, b)
            self.assertEqual([r["responseCode"] for r in json.loads(b)["results"]], [1, 1, 1])
            # Looked at on the HTTP worker, then resolved on a gateway thread: 3 misses.
            st1 = stats(gw)
            self.assertEqual([st1[k] - st0[k] for k in ("misses", "upstream", "hits")],
                             [3, 3, 0])
            big = json.dumps({"handles": ["88.100.1/MOTOR-%d" % i for i in range(210, 250)]})
            st, _, b = gw.req("POST", "/api/resolve", big, ct)
            self.assertEqual(st, 413, b[:300])
            self.assertIn("http-gateway-answer-max", json.loads(b)["message"])
            # In batches that fit, then all at once: cached, streamed inline, not bounded.
            for i in range(210, 250, 4):
                part = json.dumps({"handles": ["88.100.1/MOTOR-%d" % k for k in range(i, i + 4)]})
                st, _, b = gw.req("POST", "/api/resolve", part, ct)
                self.assertEqual(st, 200, b[:300])
            before = stats(gw)
            st, _, b = gw.req("POST", "/api/resolve", big, ct)
            self.assertEqual(st, 200, b[:300])
            self.assertEqual({r["responseCode"] for r in json.loads(b)["results"]}, {1})
            self.assertGreater(len(b), 2000)
            after = stats(gw)  # one hit each, no miss
            self.assertEqual((after["hits"] - before["hits"], after["misses"] - before["misses"]),
                             (40, 0))
            gw.proc.send_signal(signal.SIGUSR1)
            deadline = time.time() + DEADLINE
            while "gateway-answer=" not in gw.output() and time.time() < deadline:
                time.sleep(0.05)
            self.assertEqual(re.findall(r"gateway-answer=(\d+)", gw.output())[-1:], ["1"])
        finally:
            gw.close()

    def test_4_proxy_and_record_page(self):
        for h, want, maker in (("88.100.1/MOTOR-5", "https://motor.example/5", "Motor works"),
                               ("88.100.2/PUMP-5", "https://pump.example/5", "Pump works")):
            st, hd, b, _ = get(self.gw.http_port, "/" + h)
            self.assertEqual((st, hd.get("location")), (302, want), b)
            st, hd, b, _ = get(self.gw.http_port, "/" + h + "?noredirect")
            self.assertEqual(st, 200, b)
            page = b.decode()
            self.assertIn(h, page)
            self.assertIn(want, page)
            # The page's own lookup of 0.NA/<prefix> went through the hierarchy too.
            self.assertIn(maker, page)
            self.assertIn("content-security-policy", hd)
            self.assertIn("age", hd)
        st, hd, b, _ = get(self.gw.http_port, "/88.100.2/NOPE?noredirect")
        self.assertEqual(st, 404)
        # HEAD of an identifier not cached yet: answered later, headers only.
        st, hd, b = self.gw.req("HEAD", "/88.100.1/MOTOR-10")
        self.assertEqual((st, hd.get("location"), b), (302, "https://motor.example/10", b""))

    def test_4b_pipelined_answers_stay_in_order(self):
        """A miss answered later and hits behind it on one keep-alive connection:
        the answers come back in request order."""
        reqs = b"".join(b"GET /api/handles/%s HTTP/1.1\r\nHost: x\r\n\r\n" % h.encode()
                        for h in ("88.100.1/MOTOR-11", "88.100.1/MOTOR-1", "88.100.2/PUMP-62",
                                  "88.100.1/MOTOR-1"))
        out = split_responses(self.gw.raw(reqs + b"GET /api/handles/88.100.1/MOTOR-1 "
                                                 b"HTTP/1.1\r\nHost: x\r\nConnection: close"
                                                 b"\r\n\r\n", timeout=10.0))
        self.assertEqual([o[0] for o in out], [200] * 5)
        self.assertEqual([json.loads(o[2])["handle"] for o in out],
                         ["88.100.1/MOTOR-11", "88.100.1/MOTOR-1", "88.100.2/PUMP-62",
                          "88.100.1/MOTOR-1", "88.100.1/MOTOR-1"])

    def test_5_no_store_routes_say_so(self):
        for method, path in (("PUT", "/api/handles/88.100.1/X"), ("GET", "/api/prefixes"),
                             ("POST", "/api/sessions"), ("GET", "/api/handles?prefix=88")):
            st, hd, b = self.gw.req(method, path, "{}" if method != "GET" else None)
            self.assertEqual(st, 501, (method, path, b))
            self.assertIn("no store", json.loads(b)["message"])
        self.assertTrue(self.gw.alive())

    def test_6_recursive_node_with_a_store(self):
        st, hd, b, _ = get(self.gws.http_port, "/api/handles/88.300.1/LOCAL")
        self.assertEqual(st, 200, b)
        self.assertNotIn("age", hd)  # its own answer, from its store
        st, hd, b, _ = get(self.gws.http_port, "/api/handles/88.100.1/MOTOR-6")
        self.assertEqual(st, 200, b)
        self.assertIn("age", hd)
        self.assertEqual(json.loads(b)["values"][0]["data"]["value"], "https://motor.example/6")
        st, hd, b, _ = get(self.gws.http_port, "/88.100.2/PUMP-6")
        self.assertEqual((st, hd.get("location")), (302, "https://pump.example/6"))
        # Writes stay the store's: a write without credentials is refused as before.
        st, hd, b = self.gws.req("PUT", "/api/handles/88.300.1/NEW", "{}")
        self.assertIn(st, (400, 401))

    def test_7_http_without_store_needs_recursive(self):
        out = subprocess.run([IDNODE, "serve", "--http", "127.0.0.1:0", "--listen",
                              "127.0.0.1:0"], capture_output=True, text=True, timeout=10)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("--http needs a store", out.stderr)
        self.assertIn("--recursive", out.stderr)

    def test_7b_known_prefix_needs_only_its_site(self):
        """The site of a prefix is kept from an earlier walk: with the root and the
        secondary stopped, a new identifier of a known prefix still resolves."""
        port = self.gw.http_port
        self.assertEqual(get(port, "/api/handles/88.100.1/MOTOR-8")[0], 200)
        for n in (self.root, self.sec):
            n.proc.send_signal(signal.SIGSTOP)
        try:
            st, hd, b, secs = get(port, "/api/handles/88.100.1/MOTOR-9")
            self.assertEqual(st, 200, b)
            self.assertEqual(json.loads(b)["values"][0]["data"]["value"],
                             "https://motor.example/9")
            # no question to the stopped root or secondary: none waits for them
            self.assertEqual([waiting(n.port) for n in (self.root, self.sec)], [0, 0])
        finally:
            for n in (self.root, self.sec):
                n.proc.send_signal(signal.SIGCONT)

    def test_8_bad_input(self):
        """Malformed identifiers get a 4xx JSON answer (or the not-found page), never a
        crash or a wait; the gateway keeps answering."""
        port = self.gw.http_port
        for path in ("/api/handles/NOSLASH", "/api/handles/%FF%FE/x", "/api/handles/%ZZ",
                     "/api/handles/88.100.1/" + "A" * 300,
                     "/api/handles/" + "9" * 2000 + "/x",
                     "/api/handles/88.100.1/..%2F..%2Fetc", "/api/handles/%2F%2F",
                     "/api/handles/88.100.1/MOTOR-1?index=-1", "/api/handles/88.100.1/X?type="):
            st, hd, b, _ = get(port, path)  # answered, not left to time out
            self.assertTrue(400 <= st < 500, (path, st, b))
            self.assertIn("message", json.loads(b), path)
        for path in ("/%FF%FE/x?noredirect", "/" + "B" * 3000, "/..%2F..%2F"):
            st, hd, b, _ = get(port, path)
            self.assertTrue(400 <= st < 500, (path, st))
        st, _, b = self.gw.req("POST", "/", b"\x00\x02" + b"x" * 40, HDL)
        self.assertEqual(st, 400)
        self.assertTrue(self.gw.alive())
        self.assertEqual(get(port, "/api/handles/88.100.1/MOTOR-1")[0], 200)

    def test_9_one_enterprise_stopped(self):
        port = self.gw.http_port
        for i in range(3):  # cached before the stop (TTL 1 s)
            self.assertEqual(get(port, "/api/handles/88.100.2/SHORT-%d" % i)[0], 200)
        self.assertEqual(get(port, "/api/handles/88.100.1/MOTOR-7")[0], 200)
        self.ent2.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(2.2)  # past the short TTL
            st, hd, b, _ = get(port, "/api/handles/88.100.2/SHORT-0")
            self.assertEqual(st, 200, b)
            self.assertEqual(json.loads(b)["values"][0]["data"]["value"],
                             "https://pump.example/short/0")
            self.assertIn("110", hd.get("warning", ""))
            st, hd, b, _ = get(port, "/88.100.2/SHORT-1?noredirect")
            self.assertEqual(st, 200)
            self.assertIn("110", hd.get("warning", ""))
            # Never fetched: the node is down and nothing is kept.
            st, hd, b, secs = get(port, "/api/handles/88.100.2/PUMP-70")
            self.assertEqual(st, 504, b)
            self.assertIn("127.0.0.1:%d" % self.e2_port, json.loads(b)["message"])
            st, hd, b, _ = get(port, "/88.100.2/PUMP-71?noredirect")
            self.assertEqual(st, 504)
            self.assertIn("127.0.0.1:%d" % self.e2_port, b.decode())
            # The hold-down serves UDP as well: an answer naming the node, with
            # no question sent to it (held: failed at once, not timed out).
            st0 = stats(self.gw)
            ans, _, _ = udp_exchange(self.gw.port, request("88.100.2/PUMP-75"), timeout=DEADLINE)
            _, op, rc, flags, body = parse_answer(ans)
            self.assertEqual(rc, 2)
            self.assertIn(b"127.0.0.1:%d is not answering" % self.e2_port, body)
            st1 = stats_until(self.gw, "held", st0["held"] + 1, DEADLINE)
            self.assertGreater(st1["held"], st0["held"])
            self.dead_and_live(port)
            self.queue_bound()
            self.stop_while_busy()
            st = stats(self.gw)
            self.assertGreater(st["held"], 0)  # questions to the held-down node not sent
        finally:
            self.ent2.proc.send_signal(signal.SIGCONT)

    def queue_bound(self):
        """The gateway's queue is bounded (limit gateway-queue): one thread, a queue
        of one; the first miss to the stopped node holds the thread for its
        timeouts, the second waits, the others are refused at once, 503 with
        Retry-After."""
        rp = self.root.port
        gw = HttpNode(nostore=True, threads=1, extra_args=[
            "--recursive", "--root", "127.0.0.1:%d" % rp, "--http-gateway-threads", "1",
            "--http-gateway-queue", "1"])
        try:
            out, errors = [], []

            def run(path):
                try:
                    out.append(get(gw.http_port, path, timeout=30.0))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))

            first = threading.Thread(target=run, args=("/api/handles/88.100.2/PUMP-1",))
            first.start()
            # the first holds the only thread: its walk has begun (root, then
            # the secondary, then the stopped node, whose timeouts it waits out)
            stats_until(gw, "upstream", 1, DEADLINE)
            ts = [threading.Thread(target=run, args=("/api/handles/88.100.2/PUMP-%d" % i,))
                  for i in range(2, 7)]
            for t in ts:
                t.start()
            for t in ts + [first]:
                t.join(DEADLINE)
            self.assertEqual(errors, [])
            refused = [o for o in out if o[0] == 503]
            self.assertGreaterEqual(len(refused), 3, [o[0] for o in out])
            for st, hd, b, secs in refused:  # refused by the bound, not after a wait
                self.assertEqual(hd.get("retry-after"), "1")
                self.assertIn("http-gateway-queue", json.loads(b)["message"])
            # At once: every refusal came back while the first still waited out
            # the stopped node's timeouts (out is in the order answers came).
            codes = [o[0] for o in out]
            self.assertEqual(codes[:len(refused)], [503] * len(refused), codes)
            self.assertEqual({o[0] for o in out} - {503}, {504})
            printed = gw.output().count("gateway-queue=")  # stats_until printed some
            gw.proc.send_signal(signal.SIGUSR1)
            deadline = time.time() + DEADLINE
            while gw.output().count("gateway-queue=") <= printed and time.time() < deadline:
                time.sleep(0.05)
            counts = dict(re.findall(r"(gateway-queue)=(\d+)", gw.output()))
            self.assertGreaterEqual(int(counts.get("gateway-queue", 0)), 3)
        finally:
            gw.close()

    def stop_while_busy(self):
        """SIGTERM while a gateway thread waits on the stopped node and reads are
        queued behind it: every client gets an answer or a closed connection, and
        the process exits (no deferred read is left unanswered for http_wait)."""
        gw = HttpNode(nostore=True, threads=1, extra_args=[
            "--recursive", "--root", "127.0.0.1:%d" % self.root.port,
            "--http-gateway-threads", "1", "--http-gateway-queue", "8"])
        try:
            out, errors = [], []

            def run(path):
                try:
                    out.append(get(gw.http_port, path)[0])
                except Exception as e:  # noqa: BLE001 - a closed connection is fine
                    errors.append(repr(e))

            ts = [threading.Thread(target=run, args=("/api/handles/88.100.2/PUMP-%d" % i,))
                  for i in range(20, 25)]
            for t in ts:
                t.start()
            # one waits on the dead node (its walk has begun), the others queue
            stats_until(gw, "upstream", 1, DEADLINE)
            self.assertEqual(gw.stop(), 0, gw.output())  # exits, within DEADLINE
            for t in ts:
                t.join(DEADLINE)
            self.assertEqual([t for t in ts if t.is_alive()], [])
            self.assertEqual(len(out) + len(errors), 5)
            self.assertTrue(set(out) <= {503, 504}, out)
        finally:
            gw.close()

    def dead_and_live(self, port):
        """50 concurrent reads of the stopped node's identifiers while 200 reads
        of the other enterprise's (misses, then hits) and cached GETs go on, at
        a median latency within LIVE_FACTOR of their own without the dead
        reads (the same run, before and after)."""
        dead, live, cached, errors = [], [], [], []
        base = {"live": [[], []], "cached": [[], []]}

        def run(out, path):
            try:
                out.append(get(port, path))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("%s: %r" % (path, e))

        def alone(k):
            for i in range(20 + 40 * k, 60 + 40 * k):  # misses no test asked before
                run(base["live"][k], "/api/handles/88.100.1/MOTOR-%d" % i)
                if i % 4 == 0:
                    run(base["cached"][k], "/api/handles/88.100.1/MOTOR-7")

        alone(0)
        ts = [threading.Thread(target=run, args=(dead, "/api/handles/88.100.2/PUMP-%d" % i))
              for i in range(10, 60)]
        t0 = time.time()
        for t in ts:
            t.start()
        for i in range(100, 300):
            run(live, "/api/handles/88.100.1/MOTOR-%d" % i)
            if i % 20 == 0:
                run(cached, "/api/handles/88.100.1/MOTOR-7")
        for t in ts:
            t.join(DEADLINE)
        total = time.time() - t0
        alone(1)
        self.assertEqual(errors, [])
        self.assertEqual(len(dead), 50)
        self.assertEqual({d[0] for d in dead}, {504})
        self.assertEqual({l[0] for l in live + base["live"][0] + base["live"][1]}, {200})
        self.assertEqual({c[0] for c in cached + base["cached"][0] + base["cached"][1]}, {200})

        def median(rows):
            return sorted(r[3] for r in rows)[len(rows) // 2]

        # the slower of before and after
        alone_live = max(median(b) for b in base["live"])
        alone_cached = max(median(b) for b in base["cached"])
        sys.stderr.write("\n  live: %d answers, median %.4f s (alone %.4f s), worst %.3f s; "
                         "cached: median %.4f s (alone %.4f s); dead: 50, slowest %.2f s; "
                         "total %.2f s\n"
                         % (len(live), median(live), alone_live, max(l[3] for l in live),
                            median(cached), alone_cached, max(d[3] for d in dead), total))
        # Without the hold-down every dead read would hold a gateway thread for
        # one question's UDP + TCP timeouts (2 s), and the live reads would
        # wait behind them: seconds against milliseconds.
        self.assertLess(median(live), LIVE_FACTOR * alone_live)
        self.assertLess(median(cached), LIVE_FACTOR * alone_cached)


if __name__ == "__main__":
    unittest.main(verbosity=2)
