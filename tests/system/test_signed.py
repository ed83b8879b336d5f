"""The node's own key (`serve --server-key`): answers to requests that set CT
carry an HS_SIGNED credential that verifies with the key's public half
(checked here with the openssl command, independently of idnode's code),
requests without CT are not signed, and the node's HS_SITE (its site-info
answer, and `idnode siteinfo --server-key`) carries that public half, which is
how a client learns it. Without --server-key a CT answer is unsigned."""
import os
import struct
import subprocess
import sys
import shutil
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, Node, keygen, parse_answer, pubkey_pem, request  # noqa: E402
from idnlib import udp_exchange  # noqa: E402

CT = 0x40000000


def credential(answer):
    """(signed bytes, hash algorithm, signature) of an answer's credential, or None."""
    blen = struct.unpack(">I", answer[40:44])[0]
    end = 44 + blen
    clen = struct.unpack(">I", answer[end:end + 4])[0]
    if clen == 0:
        return None
    c = answer[end + 4:end + 4 + clen]
    off = 4  # version, reserved, options
    n = struct.unpack(">I", c[off:off + 4])[0]
    off += 4 + n + 4  # signer, signer index
    n = struct.unpack(">I", c[off:off + 4])[0]
    ctype = c[off + 4:off + 4 + n]
    off += 4 + n + 4  # type, section length
    n = struct.unpack(">I", c[off:off + 4])[0]
    alg = c[off + 4:off + 4 + n].decode()
    off += 4 + n
    n = struct.unpack(">I", c[off:off + 4])[0]
    sig = c[off + 4:off + 4 + n]
    assert ctype == b"HS_SIGNED", ctype
    return answer[20:end], alg, sig


class SignedAnswers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="idn-sig-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.key = os.path.join(cls.tmp, "node.pem")
        cls.pub_hex = keygen(cls.key)
        cls.pub_pem = pubkey_pem(cls.key, os.path.join(cls.tmp, "node.pub"))
        cls.node = Node(records=[{"handle": "88.100.1/SIGNED", "values": [
            {"index": 1, "type": "URL", "data": "https://example.com/signed"}]}],
            extra_args=["--server-key", cls.key])

    @classmethod
    def tearDownClass(cls):
        cls.node.close()

    def openssl_verifies(self, data, alg, sig):
        dpath = os.path.join(self.tmp, "data")
        spath = os.path.join(self.tmp, "sig")
        with open(dpath, "wb") as f:
            f.write(data)
        with open(spath, "wb") as f:
            f.write(sig)
        digest = {"SHA1": "-sha1", "SHA256": "-sha256"}[alg]
        r = subprocess.run(["openssl", "dgst", digest, "-verify", self.pub_pem, "-signature",
                            spath, dpath], capture_output=True, text=True, timeout=30)
        return r.returncode == 0

    def test_ct_answer_is_signed_with_the_node_key(self):
        ans, _, _ = udp_exchange(self.node.port, request("88.100.1/SIGNED",
                                                         flags=0x19000000 | CT, minor=5))
        _, op, rc, flags, body = parse_answer(ans)
        self.assertEqual(rc, 1)
        self.assertTrue(flags & CT)
        cred = credential(ans)
        self.assertIsNotNone(cred, "a CT answer must be signed")
        data, alg, sig = cred
        self.assertEqual(alg, "SHA1")  # what a 2.5 client expects
        self.assertTrue(self.openssl_verifies(data, alg, sig))
        # A changed byte does not verify: the check can fail.
        tampered = bytearray(data)
        tampered[-1] ^= 1
        self.assertFalse(self.openssl_verifies(bytes(tampered), alg, sig))

    def test_no_ct_no_signature(self):
        ans, _, _ = udp_exchange(self.node.port, request("88.100.1/SIGNED", minor=5))
        self.assertEqual(parse_answer(ans)[2], 1)
        self.assertIsNone(credential(ans))

    def test_site_info_carries_the_public_key(self):
        ans, _, _ = udp_exchange(self.node.port, request("", op=2))
        self.assertEqual(parse_answer(ans)[2], 1)
        self.assertIn(bytes.fromhex(self.pub_hex), ans)
        out = subprocess.run([IDNODE, "siteinfo", "--listen", "127.0.0.1:%d" % self.node.port,
                              "--server-key", self.key, "--hex"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(self.pub_hex, out.stdout.strip())

    def test_without_a_key_ct_answers_are_unsigned(self):
        plain = Node(records=[{"handle": "88.100.1/X", "values": [
            {"index": 1, "type": "URL", "data": "https://example.com/x"}]}])
        try:
            ans, _, _ = udp_exchange(plain.port, request("88.100.1/X", flags=0x19000000 | CT))
            self.assertEqual(parse_answer(ans)[2], 1)
            self.assertIsNone(credential(ans))
        finally:
            plain.close()

    def test_bad_key_file_is_a_clear_error(self):
        bad = os.path.join(self.tmp, "bad.pem")
        with open(bad, "w") as f:
            f.write("not a key\n")
        r = subprocess.run([IDNODE, "serve", "--data", os.path.join(self.tmp, "d"),
                            "--listen", "127.0.0.1:0", "--server-key", bad],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("server_key", r.stderr)
        self.assertIn("bad.pem", r.stderr)


if __name__ == "__main__":
    unittest.main()
