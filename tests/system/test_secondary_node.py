"""The secondary node's whole workflow through HTTP only (issue 13's first
acceptance point), driven by the independent SNMS client
(tests/system/snms_client.py, written from ../shared/IDIS.md): nodes are
started and the first operator account made with the command line, nothing
else. On loopback: a root node (88), the secondary node 88.100 (the one
under test), an enterprise node for 88.100.7 and a recursive node.

  operator login -> an enterprise applies for 88.100.7 and the operator
  approves it -> the enterprise logs in and registers its node through
  /snms/api/ent/config -> an identifier on that node resolves from the root
  through the recursive node -> the operator publishes a template -> the
  enterprise creates identifiers singly and by batches of 2,000 through
  /identityv2/data (a retried batch answers "already exists: identical
  values") -> template violations are refused naming the field -> another
  enterprise (88.100.8) is refused on 88.100.7.

The secondary node runs on LMDB, and again on PostgreSQL when IDN_TEST_PG
is set (skipped otherwise, failed with IDN_TEST_PG_REQUIRED=1)."""
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import IDNODE, Node, admin_data, free_port, hexval, pg_database  # noqa: E402
from snms_client import SnmsClient, batch_with_retry, identifier  # noqa: E402
from idnlib import siteinfo  # noqa: E402

OP_PW = "operator-pass-2026"
ENT_PW = "enterprise-7-pass"
OTHER_PW = "enterprise-8-pass"
TEMPLATE = {"prefix": "88.100", "version": "1.0", "industryCategory": "C",
            "industrySpecific": "38", "industryTrade": "381", "industrySubclass": "3811",
            "type": 1, "description": "Electric motor",
            "items": [{"name": "model", "idType": "string", "idIndex": 2000, "required": 1,
                       "state": 1,
                       "metadata": {"type": "string", "minLength": 2, "maxLength": 16}},
                      {"name": "made", "idIndex": 2001, "required": 0,
                       "metadata": {"type": "date"}}]}


def motor(i, model=None, made="2026-03-01"):
    fields = [(1, "URL", "https://motor7.example/%d" % i),
              (2000, "model", model or "YE3-%d" % (i % 1000))]
    if made:
        fields.append((2001, "made", made))
    return identifier("88.100.7/MOTOR-%d" % i, "1.0", fields)


def values(ans):
    """{index: data value} of a detail answer."""
    return {v["index"]: v["data"]["value"] for v in ans.data["value"]}


class SecondaryNodeFlow:
    """The workflow; a subclass says where the secondary node keeps its store."""
    store = None  # None: LMDB in a data directory; else a PostgreSQL URI

    @classmethod
    def setUpClass(cls):
        cls.nodes = []
        rp, sp, ep = free_port(), free_port(), free_port()
        cls.ep = ep
        try:
            cls.root = Node(records=[
                {"handle": "0.NA/88", "values": [siteinfo("--listen", "127.0.0.1:%d" % rp)]},
                {"handle": "0.NA/88.100", "values": [
                    siteinfo("--listen", "127.0.0.1:%d" % sp),
                    siteinfo("--listen", "127.0.0.1:%d" % sp, index=2,
                             typ="HS_SITE.PREFIX")]},
            ], homes=("88", "0.NA"), listen=["127.0.0.1:%d" % rp])
            cls.nodes.append(cls.root)
            # The secondary node: its prefix record names the operator's identity.
            cls.sec = HttpNode(records=[{"handle": "0.NA/88.100", "values": [
                hexval(100, "HS_ADMIN", admin_data(0x0FFF, 300, "0.NA/88.100"))]}],
                homes=("88.100", "0.NA"), listen=["127.0.0.1:%d" % sp], store=cls.store,
                extra_args=["--server-admin", "300:0.NA/88.100"])
            cls.nodes.append(cls.sec)
            # The enterprise's own node: not yet known to the hierarchy.
            cls.ent = Node(records=[{"handle": "88.100.7/NODE-1", "values": [
                {"index": 1, "type": "URL", "data": "https://motor7.example/node"}]}],
                homes=("88.100.7",), listen=["127.0.0.1:%d" % ep])
            cls.nodes.append(cls.ent)
            cls.gw = HttpNode(nostore=True, threads=1, extra_args=[
                "--recursive", "--root", "127.0.0.1:%d" % rp])
            cls.nodes.append(cls.gw)
        except Exception:
            cls.tearDownClass()
            raise
        # The first operator account: the command line, on the node's store.
        loc = cls.store or cls.sec.data
        out = subprocess.run([IDNODE, "account", "add", "op", "--data", loc, "--role",
                              "operator", "--id", "300:0.NA/88.100", "--password-stdin",
                              "--kdf-mib", "8"], input=OP_PW + "\n", capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        cls.base = "http://127.0.0.1:%d" % cls.sec.http_port

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.close()

    def client(self):
        return SnmsClient(self.base, timeout=120)

    def admit(self, op, company, prefix, user, pw):
        """An enterprise applies (no login) and the operator approves: its account."""
        anon = self.client()
        ans = anon.request("POST", "/snms/api/idn/apply",
                           body={"company": company, "prefix": prefix, "username": user,
                                 "password": pw})
        self.assertEqual(ans.status, 1, ans.raw)
        app_id = ans.data["id"]
        ans = op.request("POST", "/snms/api/idn/applications/%d/approve" % app_id)
        self.assertEqual(ans.status, 1, ans.raw)
        self.assertEqual(ans.data["prefix"], prefix)
        c = self.client()
        self.assertEqual(c.login(user, pw).status, 1)
        return c

    def gateway_get(self, handle, deadline_s=30):
        """GET /api/handles/<handle> on the recursive node: (status, JSON)."""
        url = "http://127.0.0.1:%d/api/handles/%s" % (self.gw.http_port, handle)
        try:
            with urllib.request.urlopen(url, timeout=deadline_s) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def test_workflow(self):
        op = self.client()
        self.assertEqual(op.login("op", OP_PW).status, 1)
        self.assertEqual(self.client().login("op", "wrong").status, -1)
        ent = self.admit(op, "Motor works 7", "88.100.7", "ent7", ENT_PW)
        other = self.admit(op, "Pump works 8", "88.100.8", "ent8", OTHER_PW)

        # The enterprise node, registered: resolvable from the root via the recursive node.
        # (Asked before, the recursive node would cache 0.NA/88.100.7 without a site.)
        st, body = self.sec.req("GET", "/api/handles/0.NA/88.100.7")[0::2]
        self.assertEqual(st, 200)
        self.assertNotIn(b"HS_SITE", body)
        ans = ent.ent_config("88.100.7", "127.0.0.1", 4, tcp_port=self.ep, udp_port=self.ep)
        self.assertEqual(ans.status, 1, ans.raw)
        q = ent.prefix_query("88.100.7")
        self.assertEqual(q.status, 1, q.raw)
        self.assertEqual([(p["entPrefix"], p["registered"], p["tcpPort"]) for p in q.data],
                         [("88.100.7", True, self.ep)])
        st, body = self.gateway_get("88.100.7/NODE-1")
        self.assertEqual(st, 200, body)
        # The operator's lists: both enterprises, paged.
        pages = [op.prefix_page(current_page=n, page_size=1) for n in (1, 2, 3)]
        self.assertEqual([p.data["total"] for p in pages], [2, 2, 2], pages[0].raw)
        self.assertEqual([[e["entPrefix"] for e in p.data["list"]] for p in pages],
                         [["88.100.7"], ["88.100.8"], []])
        self.assertEqual(pages[1].data["list"][0]["registered"], False)
        self.assertEqual(body["values"][0]["data"]["value"], "https://motor7.example/node")

        # The operator publishes the industry's template; it reads back.
        self.assertEqual(op.template_create(TEMPLATE).status, 1)
        got = op.template_get("88.100", "1.0")
        self.assertEqual(got.status, 1, got.raw)
        self.assertEqual([(i["name"], i["idIndex"]) for i in got.data["items"]],
                         [("model", 2000), ("made", 2001)])
        self.assertEqual(got.data["industrySubclass"], "3811")
        # Published twice (a retry): identical, so it took effect; a template of the
        # enterprise's own, replaced and deleted.
        again = op.template_create(TEMPLATE)
        self.assertEqual(again.status, 1, again.raw)
        self.assertIn("identical", again.message)
        own = dict(TEMPLATE, prefix="88.100.7", version="own")
        self.assertEqual(ent.template_create(own).status, 1)
        own["items"] = own["items"][:1]
        self.assertEqual(ent.template_update(own).status, 1)
        self.assertEqual(len(ent.template_get("88.100.7", "own").data["items"]), 1)
        own2 = dict(TEMPLATE, prefix="88.100.7", version="own2")
        self.assertEqual(ent.template_create(own2).status, 1)
        listed = ent.request("GET", "/snms/api/v5/template", params={"prefix": "88.100.7"})
        self.assertEqual(listed.status, 1, listed.raw)
        self.assertEqual(sorted(t["version"].lower() for t in listed.data), ["own", "own2"])
        self.assertEqual(ent.template_delete("88.100.7", "own2").status, 1)
        self.assertEqual(ent.template_delete("88.100.7", "own").status, 1)
        self.assertEqual(ent.template_get("88.100.7", "own").status, -2)
        self.assertEqual(ent.template_create(dict(TEMPLATE, version="x")).status, -3)
        bad = dict(TEMPLATE, version="bad", items=[dict(TEMPLATE["items"][0], idIndex=1001)])
        ans = op.template_create(bad)
        self.assertEqual(ans.status, -2)
        self.assertIn("idIndex: 1001 is reserved", ans.message)

        # One identifier, then batches of 2,000.
        ans = ent.create(motor(0))
        self.assertEqual(ans.status, 1, ans.raw)
        d = ent.detail("88.100.7/MOTOR-0")
        self.assertEqual(d.status, 1, d.raw)
        self.assertEqual(d.data["templateVersion"], "1.0")
        vals = values(d)
        self.assertEqual(vals[2000], "YE3-0")
        self.assertEqual(vals[100]["handle"], "0.NA/88.100.7")  # the HS_ADMIN added
        for first in (1, 2001):
            batch = [motor(i) for i in range(first, first + 2000)]
            t = time.time()
            ans = ent.batch_create(batch)
            took = time.time() - t
            self.assertEqual(ans.status, 1, str(ans.raw)[:300])
            self.assertEqual(len(ans.data), 2000)
            self.assertEqual([i["handle"] for i in ans.data], [b["handle"] for b in batch])
            self.assertEqual({i["code"] for i in ans.data}, {1}, ans.data[:3])
            print("batchCreate of 2000 (%s): %.2f s" % (self.__class__.__name__, took),
                  file=sys.stderr)
        self.assertEqual(values(ent.detail("88.100.7/MOTOR-4000"))[2000], "YE3-0")
        # A retried batch (its first answer lost): every item says it took effect.
        out = batch_with_retry(ent, [motor(i) for i in range(1, 11)])
        self.assertEqual({o.outcome for o in out}, {"created"})
        self.assertTrue(all("identical values" in o.msg for o in out), out[0])
        ans = ent.create(motor(5, model="OTHER"))
        self.assertEqual(ans.status, -2)
        self.assertIn("already exists with other values", ans.message)
        # More than 2,000: nothing written.
        ans = ent.batch_create([motor(i) for i in range(10000, 12001)])
        self.assertEqual(ans.status, -2)
        self.assertIn("at most 2000", ans.message)
        self.assertEqual(ent.detail("88.100.7/MOTOR-10000").status, -2)

        # Template violations, named; a failed item changes nothing, the others stand.
        ans = ent.batch_create([motor(20000, model="X"), motor(20001),
                                identifier("88.100.7/MOTOR-20002", "1.0",
                                           [(2001, "made", "2026-02-28")]),
                                motor(20003, made="soon")])
        self.assertEqual([i["code"] for i in ans.data], [-2, 1, -2, -2], ans.raw)
        self.assertIn("'model'", ans.data[0]["msg"])
        self.assertIn("model", ans.data[2]["msg"])  # required, missing
        self.assertIn("'made'", ans.data[3]["msg"])
        self.assertEqual(ent.detail("88.100.7/MOTOR-20000").status, -2)
        self.assertEqual(ent.detail("88.100.7/MOTOR-20001").status, 1)
        ans = ent.create(identifier("88.100.7/MOTOR-X", "9.9", [(2000, "model", "YE3")]))
        self.assertEqual(ans.status, -2)
        self.assertIn("templateVersion: no template 9.9", ans.message)

        # Update and delete, singly and by batch.
        upd = motor(1, model="YE4-1")
        self.assertEqual(ent.update(upd).status, 1)
        self.assertEqual(values(ent.detail("88.100.7/MOTOR-1"))[2000], "YE4-1")
        ans = ent.batch_update([motor(2, model="YE4-2"), motor(99999)])
        self.assertEqual([i["code"] for i in ans.data], [1, -2])
        self.assertIn("does not exist", ans.data[1]["msg"])
        self.assertEqual(ent.delete("88.100.7/MOTOR-3").status, 1)
        ans = ent.batch_delete(["88.100.7/MOTOR-4", "88.100.7/MOTOR-3"])
        self.assertEqual([i["code"] for i in ans.data], [1, -2])

        # Search finds them, by a template field and by a date range, paged.
        ans = ent.request("GET", "/identityv2/data/search", params={"term": "model=YE3-7"})
        self.assertEqual(ans.status, 1, ans.raw)
        self.assertEqual(sorted(ans.data["handles"]),
                         ["88.100.7/MOTOR-%d" % i for i in (1007, 2007, 3007, 7)])
        got, cursor = [], None
        for _ in range(10):
            ans = ent.request("GET", "/identityv2/data/search",
                              params={"term": "model=YE3-12*", "pageSize": 10,
                                      "cursor": cursor})
            self.assertEqual(ans.status, 1, ans.raw)
            got += ans.data["handles"]
            cursor = ans.data["next"]
            if cursor is None:
                break
        self.assertEqual(len(got), 4 * 11)  # YE3-12, YE3-120..129, in each thousand
        ans = op.request("GET", "/identityv2/data/search",
                         params={"term": "made>=2026-02-01", "prefix": "88.100.7",
                                 "pageSize": 10000})
        self.assertEqual(ans.status, 1, ans.raw)
        self.assertEqual(len(ans.data["handles"]), 4001 - 2 + 1)  # 0..4000, -3, -4, +20001
        ans = ent.request("GET", "/identityv2/data/search", params={"term": "model*"})
        self.assertEqual(ans.status, -2)
        self.assertIn("term", ans.message)

        # Another enterprise: refused on 88.100.7, whatever the route.
        ans = other.create(identifier("88.100.7/INTRUDER", "1.0", [(2000, "model", "YE3")]))
        self.assertEqual(ans.status, -3, ans.raw)
        self.assertIn("88.100.7/INTRUDER", ans.message)
        ans = other.batch_create([identifier("88.100.7/INTRUDER", "1.0",
                                             [(2000, "model", "YE3")])])
        self.assertEqual([i["code"] for i in ans.data], [-3])
        self.assertEqual(other.delete("88.100.7/MOTOR-5").status, -3)
        self.assertEqual(other.ent_config("88.100.7", "127.0.0.1", 4, tcp_port=1,
                                          udp_port=1).status, -3)
        self.assertEqual(other.prefix_query("88.100.7").data, [])
        ans = other.request("GET", "/identityv2/data/search",
                            params={"term": "model=YE3-7", "prefix": "88.100.7"})
        self.assertEqual(ans.status, -3, ans.raw)
        self.assertEqual(ent.detail("88.100.7/MOTOR-5").status, 1)
        # Its own prefix works.
        ans = other.create(identifier("88.100.8/PUMP-1", "1.0", [(2000, "model", "P8")]))
        self.assertEqual(ans.status, 1, ans.raw)
        # Not logged in, or a forged token.
        anon = self.client()
        self.assertEqual(anon.create(motor(30000)).status, -1)
        anon.token = ent.token[:-4] + "AAAA"
        self.assertEqual(anon.create(motor(30000)).status, -1)

    def test_bad_input(self):
        op = self.client()
        self.assertEqual(op.login("op", OP_PW).status, 1)
        for body, field in (
                ({"handle": 5, "value": []}, "handle"),
                ({"handle": "88.100.9/A", "value": [{"index": "1", "type": "URL",
                                                     "data": {"format": "string",
                                                              "value": "x"}}]},
                 "value[0].index"),
                ({"handle": "88.100.9/A", "value": [], "colour": "red"}, "colour"),
                ({"handle": "88.100.9/A", "value": [{"index": 1, "type": "URL",
                                                     "auth": 5, "data": {"value": "x"}}]},
                 "value[0].auth")):
            ans = op.create(body)
            self.assertEqual(ans.status, -2, body)
            self.assertIn(field, ans.message)
        ans = op.request("POST", "/snms/api/ent/config",
                         body={"entPrefixConfig": {"entPrefix": "88.100.9", "ip": "1.2.3",
                                                   "ipType": 4, "tcpPort": "1",
                                                   "udpPort": "1"}})
        self.assertEqual(ans.status, -2)
        self.assertIn("ip:", ans.message)
        ans = op.ent_config("77.1", "127.0.0.1", 4, tcp_port=1, udp_port=1)
        self.assertEqual(ans.status, -2)
        self.assertIn("not under a prefix of this node", ans.message)
        # Malformed JSON: 400 with the -2 shape.
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.sec.http_port, timeout=30)
        c.request("POST", "/identityv2/data", body=b"{\"handle\":",
                  headers={"Authorization": "Bearer " + op.token})
        r = c.getresponse()
        doc = json.loads(r.read())
        c.close()
        self.assertEqual((r.status, doc["status"]), (400, -2))
        self.assertIn("invalid JSON", doc["message"])


class SecondaryNodeLmdb(SecondaryNodeFlow, unittest.TestCase):
    pass


class SecondaryNodePg(SecondaryNodeFlow, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.store = pg_database("snms", cls.addClassCleanup)
        super().setUpClass()

if __name__ == "__main__":
    unittest.main()
