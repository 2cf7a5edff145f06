#!/usr/bin/python3
"""bench/recovery.py — start-up time of sluiced over a large data dir (issue 4's recovery figure).

Fills a fresh file-storage data dir with about --gib GiB of message bodies (batches of 100
messages of --size bytes, over 4 queues, `--fsync never` so the fill is quick), stops the server
with SIGTERM, starts it again, and prints the data dir's size, the messages recovered, the time
from exec to the first 200 from /healthz and the server's own "Recovered ... in N ms" line.

Usage: bench/recovery.py [--sluiced build/sluiced] [--dir /tmp/sluice-recovery] [--gib 1]
       [--size 1024]
Never run by the tests: timings are machine-dependent.
"""
import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(binary, data_dir):
    """Starts sluiced on a free port; returns (process, port, seconds until /healthz answered)."""
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "--listen", f"127.0.0.1:{port}", "--data-dir", data_dir,
                             "--fsync", "never"], stderr=subprocess.PIPE, text=True)
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"sluiced exited: {proc.stderr.read()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, port, time.monotonic() - t0
        except OSError:
            time.sleep(0.005)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluiced", default=os.path.join(HERE, "..", "build", "sluiced"))
    ap.add_argument("--dir", default="/tmp/sluice-recovery")
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=1024, help="message body bytes")
    a = ap.parse_args()
    shutil.rmtree(a.dir, ignore_errors=True)
    proc, port, _ = start(a.sluiced, a.dir)
    batch = json.dumps({"messages": [{"body": base64.b64encode(os.urandom(a.size)).decode()}]
                        * 100}).encode()
    for i in range(int(a.gib * 1024 ** 3 / (100 * a.size))):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/queues/q{i % 4}/batch",
                                     data=batch, headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req).read()
    proc.terminate()
    proc.wait()
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.dir) for f in fs)
    proc, port, ready = start(a.sluiced, a.dir)
    queues = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/queues"))["queues"]
    proc.terminate()
    err = proc.communicate()[1]
    line = re.search(r"Recovered .*", err)
    print(f"data dir {size / 1e9:.2f} GB, {sum(q['messages'] for q in queues):,} messages in "
          f"{len(queues)} queues; exec to /healthz {ready:.2f} s; log: "
          f"{line.group(0) if line else err[-300:]}")
    shutil.rmtree(a.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
