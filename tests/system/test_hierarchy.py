"""The node hierarchy on loopback ports: a top-level node for 88, a secondary
node for 88.100, enterprise nodes under it (one of them a two-server site);
site information, 303 prefix referrals on the wire, and `idnode resolve
--root` walking root -> secondary -> enterprise. Every wait is bounded."""
import json
import os
import struct
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import (DEADLINE, IDNODE, Node, class_nodes, free_port, parse_answer,  # noqa: E402
                    request, siteinfo, start_hierarchy, udp_exchange, url)


def resolve_root(root_port, handle, *args, timeout=DEADLINE):
    """`idnode resolve` from the root: ended, answered or refused, within timeout
    (an unbounded walk would raise subprocess.TimeoutExpired)."""
    return subprocess.run([IDNODE, "resolve", handle, "--root", "127.0.0.1:%d" % root_port]
                          + list(args), capture_output=True, text=True, timeout=timeout)


class Hierarchy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        class_nodes(cls)
        m1, m2 = free_port(), free_port()
        loop = free_port()
        multi = ["--site-server", "1@127.0.0.1:%d" % m1, "--site-server",
                 "2@127.0.0.1:%d" % m2, "--site-hash", "all"]
        cls.multi = multi
        multi_site = siteinfo(*multi)
        loop_prefix = siteinfo("--listen", "127.0.0.1:%d" % loop, index=2,
                               typ="HS_SITE.PREFIX")
        start_hierarchy(cls, [("ent", "88.100.1", [
            {"handle": "88.100.1/MOTOR-%d" % i,
             "values": [url(1, "https://motor.example/%d" % i)]} for i in range(20)],
            ("--site-desc", "Motor works"))],
            root_records=[{"handle": "88/COUNTRY-INFO",
                           "values": [url(1, "https://root.example/88")]}],
            sec_records=[
                {"handle": "0.NA/88.100.2", "values": [multi_site]},
                {"handle": "88.100/INDUSTRY-1",
                 "values": [url(1, "https://sec.example/1")]}])
        cls.ports.update(m1=m1, m2=m2, loop=loop)
        cls.sec_prefix = cls.sites["sec_prefix"]
        cls.ent_site = cls.sites["ent"]
        recs = [{"handle": "88.100.2/PART-%d" % i,
                 "values": [url(1, "https://parts.example/%d" % i)]} for i in range(20)]
        cls.m = []
        for sid, port in ((1, m1), (2, m2)):
            n = Node(records=recs, homes=("88.100.2",), listen=["127.0.0.1:%d" % port],
                     extra_args=multi + ["--server-id", str(sid)])
            cls.nodes.append(n)
            cls.m.append(n)
        # A node that refers its own derived prefixes back to itself.
        cls.loop = Node(records=[{"handle": "0.NA/77", "values": [loop_prefix]}],
                        homes=("0.NA",), listen=["127.0.0.1:%d" % loop])
        cls.nodes.append(cls.loop)

    def test_site_info_is_the_configured_site(self):
        ans, _, _ = udp_exchange(self.ports["ent"], request("/", op=2))
        _, op, rc, _, body = parse_answer(ans)
        self.assertEqual((op, rc), (2, 1))
        self.assertEqual(body.hex(), self.ent_site["data"]["value"])
        self.assertIn(b"Motor works", body)

    def test_prefix_referral_on_the_wire(self):
        ans, _, _ = udp_exchange(self.ports["root"], request("0.NA/88.100.1"))
        _, _, rc, flags, body = parse_answer(ans)
        self.assertEqual(rc, 303)
        self.assertTrue(flags & 0x80000000)
        hlen = struct.unpack(">I", body[:4])[0]
        self.assertEqual(hlen, 0)
        self.assertEqual(struct.unpack(">I", body[4:8])[0], 1)
        self.assertIn(b"HS_SITE.PREFIX", body)
        self.assertIn(bytes.fromhex(self.sec_prefix["data"]["value"]), body)
        # DNRF: no referral.
        ans, _, _ = udp_exchange(self.ports["root"], request("0.NA/88.100.1",
                                                             flags=0x19100000))
        self.assertEqual(parse_answer(ans)[2], 100)

    def test_resolve_every_level_from_the_root(self):
        for handle, want in (("88/COUNTRY-INFO", "https://root.example/88"),
                             ("88.100/INDUSTRY-1", "https://sec.example/1"),
                             ("88.100.1/MOTOR-7", "https://motor.example/7")):
            for transport in ("--udp", "--tcp"):
                out = resolve_root(self.ports["root"], handle, transport)
                self.assertEqual(out.returncode, 0, handle + out.stderr)
                self.assertIn(want, out.stdout)
        out = resolve_root(self.ports["root"], "88.100.1/MOTOR-7", "--json")
        self.assertEqual(json.loads(out.stdout)["values"][0]["data"]["value"],
                         "https://motor.example/7")

    def test_not_found_and_unknown_prefix(self):
        out = resolve_root(self.ports["root"], "88.100.1/NO-SUCH")
        self.assertEqual(out.returncode, 1, out.stderr)
        out = resolve_root(self.ports["root"], "88.999.1/X")
        self.assertEqual(out.returncode, 2)
        self.assertIn("0.NA/88.999.1", out.stderr)

    def test_multi_server_site(self):
        # Through the root: every identifier from the right server.
        for i in range(20):
            out = resolve_root(self.ports["root"], "88.100.2/PART-%d" % i)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("https://parts.example/%d" % i, out.stdout)
        # Directly: each server answers exactly one of the two for each identifier.
        owners = [0, 0]
        for i in range(20):
            rcs = []
            for k, port in enumerate((self.ports["m1"], self.ports["m2"])):
                ans, _, _ = udp_exchange(port, request("88.100.2/PART-%d" % i))
                rcs.append(parse_answer(ans)[2])
                if rcs[-1] == 1:
                    owners[k] += 1
            self.assertEqual(sorted(rcs), [1, 301], "PART-%d: %r" % (i, rcs))
        self.assertTrue(owners[0] > 0 and owners[1] > 0, owners)

    def test_referral_loop_ends_with_an_error(self):
        out = resolve_root(self.ports["loop"], "77.1/X")
        self.assertEqual(out.returncode, 2)
        self.assertIn("referral loop", out.stderr)


def serv(handle, index=1):
    return {"index": index, "type": "HS_SERV", "data": handle}


class LongChain(unittest.TestCase):
    """A cycle-free chain of referrals longer than 40 hops across two nodes:
    0.NA/66.k names its service handle 0.NA/66.<k+1> by HS_SERV; even k live on
    node A (the root), odd k on node B, which A refers to by a 303 from 0.NA/66.
    No question goes to the same server twice, so only the hop limit ends it.
    The same shape but short (prefix 55) resolves, so the limit is what fails."""

    @classmethod
    def setUpClass(cls):
        class_nodes(cls)
        ap, bp = free_port(), free_port()
        cls.ap = ap
        b_prefix = siteinfo("--listen", "127.0.0.1:%d" % bp, index=2, typ="HS_SITE.PREFIX")
        a_site = siteinfo("--listen", "127.0.0.1:%d" % ap)
        n = 60
        a_recs = [{"handle": "0.NA/66", "values": [b_prefix]}]
        b_recs = []
        for k in range(n):
            rec = {"handle": "0.NA/66.%d" % k, "values": [serv("0.NA/66.%d" % (k + 1))]}
            (b_recs if k % 2 else a_recs).append(rec)
        a_recs.append({"handle": "0.NA/66.%d" % n, "values": [a_site]})
        # The short chain: 0.NA/55.0 -> 0.NA/55.1 (on B) -> ... -> 0.NA/55.4: A's site.
        a_recs.append({"handle": "0.NA/55", "values": [b_prefix]})
        for k in range(4):
            rec = {"handle": "0.NA/55.%d" % k, "values": [serv("0.NA/55.%d" % (k + 1))]}
            (b_recs if k % 2 else a_recs).append(rec)
        a_recs.append({"handle": "0.NA/55.4", "values": [a_site]})
        a_recs.append({"handle": "55.0/X", "values": [url(1, "https://short.example/x")]})
        a_recs.append({"handle": "66.0/X", "values": [url(1, "https://long.example/x")]})
        cls.nodes.append(Node(records=a_recs, homes=("0.NA", "55.0", "66.0"),
                              listen=["127.0.0.1:%d" % ap]))
        cls.nodes.append(Node(records=b_recs, homes=("0.NA",),
                              listen=["127.0.0.1:%d" % bp]))

    def test_short_chain_resolves(self):
        out = resolve_root(self.ap, "55.0/X")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("https://short.example/x", out.stdout)

    def test_chain_longer_than_40_ends_with_the_limit(self):
        for transport in ("--udp", "--tcp"):
            out = resolve_root(self.ap, "66.0/X", transport)
            self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
            self.assertIn("more than 40 referrals", out.stderr)
            self.assertNotIn("loop", out.stderr)

    def test_recursive_node_answers_recursion_count_too_high(self):
        rec = Node(homes=(), extra_args=["--recursive", "--root", "127.0.0.1:%d" % self.ap])
        try:
            ans, _, _ = udp_exchange(rec.port, request("66.0/X"), timeout=DEADLINE)
            _, _, rc, _, body = parse_answer(ans)
            self.assertEqual(rc, 6)
            self.assertIn(b"more than 40 referrals", body)
            # The short chain through the same recursive node resolves.
            ans, _, _ = udp_exchange(rec.port, request("55.0/X"), timeout=DEADLINE)
            self.assertEqual(parse_answer(ans)[2], 1)
            self.assertIn(b"https://short.example/x", ans)
        finally:
            rec.close()


class SecondSite(unittest.TestCase):
    """A prefix listing two sites (two HS_SITE values): the first's server is
    down, so resolution goes on to the second site in bounded time."""

    @classmethod
    def setUpClass(cls):
        class_nodes(cls)
        rp, dead, live = free_port(), free_port(), free_port()
        cls.rp = rp
        cls.nodes.append(Node(records=[{"handle": "0.NA/44.1", "values": [
            siteinfo("--listen", "127.0.0.1:%d" % dead, index=1),
            siteinfo("--listen", "127.0.0.1:%d" % live, index=2)]}],
            homes=("0.NA",), listen=["127.0.0.1:%d" % rp]))
        cls.nodes.append(Node(records=[{"handle": "44.1/PUMP-%d" % i, "values": [
            url(1, "https://pump.example/%d" % i)]} for i in range(3)],
            homes=("44.1",), listen=["127.0.0.1:%d" % live]))

    def test_next_site_answers_when_the_first_is_down(self):
        for transport in ("--udp", "--tcp"):
            out = resolve_root(self.rp, "44.1/PUMP-2", transport, "--timeout", "500")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("https://pump.example/2", out.stdout)


if __name__ == "__main__":
    unittest.main()
