"""kill -USR1 on any node (not only a recursive one) logs the limits'
counters and the node keeps serving: a node started without --recursive used
to die of the signal. The counter shown is one the test made act (UDP
answers over a rate limit of 5/s from one source)."""
import os
import re
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from idnlib import DEADLINE  # noqa: E402
from idnlib import Node, request, udp_exchange  # noqa: E402


class StatsSignal(unittest.TestCase):
    def test_usr1_logs_limits_and_node_lives(self):
        node = Node(records=[{"handle": "88.100.1/x", "values": [
            {"index": 1, "type": "URL", "data": "https://example.com/x"}]}],
            extra_args=["--udp-rate-limit", "5"])
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for _ in range(200):
                    s.sendto(request("88.100.1/x"), ("127.0.0.1", node.port))
            # Ask until the node has taken all 200 (a busy machine may take a
            # while to): SIGUSR1 every 0.3 s, at most 20 s.
            deadline = time.time() + DEADLINE
            line, rate = None, 0
            while time.time() < deadline and rate <= 100:
                before = len(node.output())
                node.proc.send_signal(signal.SIGUSR1)
                for _ in range(6):
                    time.sleep(0.05)
                    line = re.search(r"idnode: limits: .*(?=\n)", node.output()[before:])  # whole
                    if line:
                        rate = int(re.search(r" udp-rate=(\d+)", line.group(0)).group(1))
                        break
            self.assertTrue(line, node.output())
            self.assertGreater(rate, 100, line.group(0))
            self.assertTrue(node.alive())
            time.sleep(1.2)  # the bucket refills
            udp_exchange(node.port, request("88.100.1/x"))
        finally:
            node.close()


if __name__ == "__main__":
    unittest.main()
