"""What the libidnode tests (test_libidnode.py, test_python_binding.py) share:
two nodes on loopback, a root homing 0.NA whose 0.NA/88.100.1 names the
enterprise node's site, and the enterprise node homing 88.100.1 with an
administrator (an RSA key made by `idnode keygen`) and one identifier; the
build's library and header, and the compiler to build against them."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import IDNODE, Node, admin_prefix, free_port, keygen  # noqa: E402

BUILD = os.environ.get("IDN_BUILD", os.path.join(os.path.dirname(IDNODE)))
SRC = os.path.normpath(os.path.join(os.path.dirname(__file__), "../.."))
SANITIZE = os.environ.get("IDN_SANITIZE", "0") in ("1", "ON", "TRUE", "true")
ADMIN = "300:0.NA/88.100.1"
URL = "https://example.com/motor/42"


def compiler():
    """The compiler and flags a program linked with this build's libidnode needs
    (the sanitizers' runtime comes with the program in an ASan+UBSan build)."""
    if SANITIZE:
        return ["clang", "-fsanitize=address,undefined"]
    return [os.environ.get("CC", "cc")]


def siteinfo(*args):
    out = subprocess.run([IDNODE, "siteinfo", "--json", "--index", "1", "--type", "HS_SITE"]
                         + list(args), capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)


class Nodes:
    """The two nodes and the admin's key; close() stops them."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="idn-lib-")
        self.key = os.path.join(self.tmp, "admin.pem")
        prefix = admin_prefix(keygen(self.key))
        ep, rp = free_port(), free_port()
        motor = {"handle": "88.100.1/MOTOR-1", "values": [
            {"index": 1, "type": "URL", "data": URL},
            {"index": 2, "type": "EMAIL", "data": "plant@example.com"}]}
        self.nodes = []
        self.ent = Node(records=[prefix, motor], homes=("88.100.1", "0.NA"),
                        listen=["127.0.0.1:%d" % ep],
                        extra_args=["--server-admin", ADMIN])
        self.nodes.append(self.ent)
        site = siteinfo("--listen", "127.0.0.1:%d" % ep)
        self.root = Node(records=[{"handle": "0.NA/88.100.1", "values": [site]}],
                         homes=("0.NA",), listen=["127.0.0.1:%d" % rp])
        self.nodes.append(self.root)
        self.server = "127.0.0.1:%d" % ep
        self.root_addr = "127.0.0.1:%d" % rp

    def close(self):
        for n in self.nodes:
            n.stop()
            n.close()
        subprocess.run(["rm", "-rf", self.tmp], timeout=30)
