"""Handle over HTTP answered later: a challenge answer (op 200) posted as
application/x-hdl-message to an enterprise node E (one worker, --threads 1)
whose identity, 88.200/bob (HS_SECKEY), lives on another node. With a real
root R holding it, E checks it there (op 201) and the create succeeds through
HTTP. With a root that never answers, the answer (403 "timeout") comes once
the lookup gives up, and meanwhile E's one HTTP worker answers another
request at once. Every wait is bounded."""
import hashlib
import os
import select
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from httplib_idn import HttpNode  # noqa: E402
from idnlib import DEADLINE, Node, free_port, parse_answer, request  # noqa: E402
from idnlib import admin_data, hexval, s  # noqa: E402
from test_admin import values_body  # noqa: E402
from idnlib import siteinfo  # noqa: E402

SECRET = b"http-later-2026"
HDL = {"Content-Type": "application/x-hdl-message"}


def enterprise(root_port, timeout_ms):
    """E: homes 88.100.1, which 88.200/bob may create in; one worker; --http."""
    ep = free_port()
    return HttpNode(records=[{"handle": "0.NA/88.100.1", "values": [
        hexval(101, "HS_ADMIN", admin_data(0x0041, 300, "88.200/bob"))]}],
        homes=("88.100.1",), listen=["127.0.0.1:%d" % ep], threads=1,
        extra_args=["--root", "127.0.0.1:%d" % root_port,
                    "--identity-timeout-ms", str(timeout_ms)]), ep


def post(node, msg, timeout=DEADLINE):
    """(HTTP status, seconds taken, the Handle answer parsed) of one POST."""
    t0 = time.monotonic()
    c = node.conn(timeout=timeout)
    try:
        c.request("POST", "/", body=msg, headers=HDL)
        r = c.getresponse()
        st, ct, b = r.status, r.getheader("Content-Type"), r.read()
    finally:
        c.close()
    took = time.monotonic() - t0
    return st, took, (parse_answer(b) if ct == "application/x-hdl-message" else b)


def challenge(node, handle):
    """Op 100 (create handle) over HTTP: (session, nonce, digest) of the 402."""
    req = request(handle, op=100, flags=0x18000000,
                  body=values_body(handle, [(1, "URL", "https://later")]))
    st, _, (env, op, rc, flags, body) = post(node, req)
    assert (st, rc) == (200, 402), (st, rc)
    dlen = {2: 20, 3: 32}[body[0]]
    digest = body[1:1 + dlen]
    nlen = struct.unpack(">I", body[1 + dlen:5 + dlen])[0]
    return env["session"], body[5 + dlen:5 + dlen + nlen], digest


def response(session, nonce, digest, secret=SECRET):
    """Op 200 for 300:88.200/bob: a legacy SHA-1 MAC of the secret."""
    mac = hashlib.sha1(secret + nonce + digest + secret).digest()
    body = s("HS_SECKEY") + s("88.200/bob") + struct.pack(">I", 300) + s(b"\x02" + mac)
    return request("", op=200, flags=0x18000000, body=body, session=session)


class AnsweredThroughHttp(unittest.TestCase):
    """A real root R homes 88.200 (bob's HS_SECKEY); E asks it with op 201."""

    def test_create_by_remote_identity(self):
        rp = free_port()
        e = None
        r = Node(records=[
            {"handle": "0.NA/88.200", "values": [siteinfo("--listen", "127.0.0.1:%d" % rp)]},
            {"handle": "88.200/bob", "values": [
                hexval(300, "HS_SECKEY", SECRET.hex(), perms=0x0c)]},
        ], homes=("0.NA", "88.200"), listen=["127.0.0.1:%d" % rp])
        try:
            e, _ = enterprise(rp, 3000)
            sid, nonce, digest = challenge(e, "88.100.1/by-http")
            st, _, (env, op, rc, _, _) = post(e, response(sid, nonce, digest))
            self.assertEqual((st, op, rc), (200, 100, 1), e.output())
            st, _, (_, op, rc, _, body) = post(e, request("88.100.1/by-http"))
            self.assertEqual((op, rc), (1, 1))
            self.assertIn(b"https://later", body)
            # A wrong secret: refused by R, answered 403 through HTTP.
            sid, nonce, digest = challenge(e, "88.100.1/evil-http")
            st, _, (_, op, rc, _, _) = post(e, response(sid, nonce, digest, b"guess"))
            self.assertEqual((st, rc), (200, 403))
            st, _, (_, op, rc, _, _) = post(e, request("88.100.1/evil-http"))
            self.assertEqual(rc, 100)
        finally:
            for n in (e, r):
                if n:
                    n.stop()
                    n.close()


class WorkerFreeMeanwhile(unittest.TestCase):
    """A root that accepts and never answers: the lookup takes its whole
    timeout, during which E's only HTTP worker serves another client."""

    # Long enough that the other request, sent once the lookup is out, is
    # answered before the lookup gives up, even on a loaded machine.
    TIMEOUT_MS = 5000

    def asked(self, silent_u, silent_t):
        """Waits (DEADLINE) for E's question to the silent root, by UDP or TCP."""
        ready, _, _ = select.select([silent_u, silent_t], [], [], DEADLINE)
        self.assertTrue(ready, "E never asked the root")
        if silent_u in ready:
            silent_u.recv(65536)
        else:
            self.held.append(silent_t.accept()[0])

    def test_other_request_served_while_waiting(self):
        port = free_port()
        silent_u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent_t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        e = None
        try:
            silent_u.bind(("127.0.0.1", port))
            silent_t.bind(("127.0.0.1", port))
            silent_t.listen(16)
            e, _ = enterprise(port, self.TIMEOUT_MS)
            self.held = []
            self.addCleanup(lambda: [c.close() for c in self.held])
            sid, nonce, digest = challenge(e, "88.100.1/late")
            done = {}

            def waiting():
                done["answer"] = post(e, response(sid, nonce, digest))
                done["at"] = time.monotonic()

            t = threading.Thread(target=waiting)
            t.start()
            self.asked(silent_u, silent_t)  # the op 200 is in, its lookup waiting for the root
            st, took, (_, op, rc, _, _) = post(e, request("88.100.1/late"))
            other_at = time.monotonic()
            self.assertEqual((st, op, rc), (200, 1, 100))  # not created (yet)
            # not held behind the waiting one (which waits the whole timeout)
            self.assertNotIn("answer", done)
            t.join(timeout=DEADLINE)
            self.assertFalse(t.is_alive())
            st, took, (_, op, rc, _, body) = done["answer"]
            self.assertEqual((st, rc), (200, 403), body)
            self.assertIn(b"timeout", body)
            self.assertIn(b"88.200/bob", body)
            self.assertGreater(done["at"], other_at)  # answered after the other one
            self.assertGreater(took, self.TIMEOUT_MS / 1000 * 0.8)
            # And over keep-alive: the same connection, both waits in order.
            c = e.conn(timeout=DEADLINE)
            try:
                sid, nonce, digest = challenge(e, "88.100.1/late-2")
                c.request("POST", "/", body=response(sid, nonce, digest), headers=HDL)
                r = c.getresponse()
                self.assertEqual(parse_answer(r.read())[2], 403)
                c.request("POST", "/", body=request("88.100.1/late-2"), headers=HDL)
                r = c.getresponse()
                self.assertEqual(parse_answer(r.read())[2], 100)
            finally:
                c.close()
        finally:
            if e:
                e.stop()
                e.close()
            silent_u.close()
            silent_t.close()


if __name__ == "__main__":
    unittest.main()
