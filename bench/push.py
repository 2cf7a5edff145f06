#!/usr/bin/python3
"""bench/push.py — push delivery, measured (issue 5; W4 of bench/compare).

Three figures, each run RUNS times (median, min-max), sluiced pinned to CPU 0 and the receiver
and load on CPU 1, storage memory unless --storage says otherwise:

  rate      deliveries/s to a local receiver that answers 204 (nginx, `return 204`) of a
            backlog of --messages messages, with max_in_flight 1 and 64: from subscribing (from
            `earliest`) until the subscription's lag is 0.
  latency   p50/p99 from the start of a publish to the receiver seeing the message, publishing
            1,000 messages/s for --seconds seconds (Python receiver and publisher in one
            process, one clock).
  dead      publish throughput (wrk, 64 connections, 100-byte messages) with no subscription,
            then with a subscription to a port where nothing listens; the ratio should be ~1.

Usage: bench/push.py [--sluiced build/sluiced] [--runs 3] [--messages 100000] [--seconds 10]
       [--storage memory|file] [--quick]
Prints a Markdown table. Never run by the tests: timings are machine-dependent.
"""
import argparse
import http.client
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 204; }}
    }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


class Api:
    """A keep-alive JSON client of sluiced."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        self.conn.request(method, path, body=data)
        r = self.conn.getresponse()
        text = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {text[:200]!r}")
        return json.loads(text) if text else None


class Sluiced:
    def __init__(self, binary, storage, cpu="0"):
        self.dir = tempfile.mkdtemp(prefix="sluice-push-bench-")
        self.port = free_port()
        cmd = ["taskset", "-c", cpu, binary, "--port", str(self.port), "--storage", storage,
               "--data-dir", os.path.join(self.dir, "data"), "--log-level", "warn",
               "--max-connections", "4096"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


class Nginx:
    def __init__(self, cpu="1"):
        self.dir = tempfile.mkdtemp(prefix="sluice-push-nginx-")
        self.port = free_port()
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, port=self.port))
        self.proc = subprocess.Popen(["taskset", "-c", cpu, "nginx", "-p", self.dir, "-c", conf,
                                      "-e", os.path.join(self.dir, "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def fill(api, queue, n):
    """Publishes n 100-byte messages in batches of 1000."""
    item = {"text": "x" * 100}
    while n > 0:
        k = min(n, 1000)
        api.call("POST", f"/v1/queues/{queue}/batch", {"messages": [item] * k})
        n -= k


def run_rate(binary, storage, messages, max_in_flight):
    srv, ngx = Sluiced(binary, storage), Nginx()
    try:
        api = Api(srv.port)
        fill(api, "w4", messages)
        t0 = time.monotonic()
        sub = api.call("POST", "/v1/queues/w4/subscriptions",
                       {"url": f"http://127.0.0.1:{ngx.port}/", "from": "earliest",
                        "max_in_flight": max_in_flight})
        while True:
            s = api.call("GET", f"/v1/subscriptions/{sub['id']}")
            if s["lag"] == 0 and s["in_flight"] == 0:
                break
            time.sleep(0.01)
        elapsed = time.monotonic() - t0
        if s["delivered"] != messages or s["failed"]:
            raise RuntimeError(f"delivered {s['delivered']} of {messages}, failed {s['failed']}")
        return messages / elapsed
    finally:
        ngx.stop()
        srv.stop()


def run_latency(binary, storage, seconds, rate=1000):
    arrived = {}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            now = time.monotonic()
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                arrived[int(self.headers["Sluice-Id"])] = now
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    recv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=recv.serve_forever, daemon=True).start()
    srv = Sluiced(binary, storage)
    try:
        api = Api(srv.port)
        api.call("POST", "/v1/queues/lat/subscriptions",
                 {"url": f"http://127.0.0.1:{recv.server_address[1]}/"})
        sent = {}
        start = time.monotonic()
        n = int(seconds * rate)
        for i in range(n):
            due = start + i / rate
            while time.monotonic() < due:
                time.sleep(max(0.0, due - time.monotonic() - 0.0002))
            t = time.monotonic()
            r = api.call("POST", "/v1/queues/lat/messages", raw=b"y" * 100)
            sent[r["id"]] = t
        end = time.monotonic() + 10
        while time.monotonic() < end:
            with lock:
                if len(arrived) >= n:
                    break
            time.sleep(0.05)
        with lock:
            lat = sorted((arrived[i] - t) * 1000 for i, t in sent.items() if i in arrived)
        if len(lat) < n:
            raise RuntimeError(f"{n - len(lat)} of {n} messages never arrived")
        return lat[len(lat) // 2], lat[int(len(lat) * 0.99) - 1], n / (time.monotonic() - start)
    finally:
        srv.stop()
        recv.shutdown()


def wrk_publish(port, seconds):
    script = os.path.join(HERE, "wrk", "publish.lua")
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c64", f"-d{seconds}s", "-s",
                          script, f"http://127.0.0.1:{port}", "--", "/v1/queues/pub/messages",
                          "100"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError("wrk printed no rate:\n" + out)


def run_dead(binary, storage, seconds):
    srv = Sluiced(binary, storage)
    try:
        api = Api(srv.port)
        api.call("PUT", "/v1/queues/pub")
        alone = wrk_publish(srv.port, seconds)
        dead_port = free_port()  # nothing listens there
        api.call("POST", "/v1/queues/pub/subscriptions", {"url": f"http://127.0.0.1:{dead_port}/"})
        with_dead = wrk_publish(srv.port, seconds)
        s = api.call("GET", "/v1/subscriptions")["subscriptions"][0]
        return alone, with_dead, s["failed"], s["circuit"]
    finally:
        srv.stop()


def spread(xs, fmt):
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}–{fmt(max(xs))})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluiced", default=os.path.join(ROOT, "build", "sluiced"))
    ap.add_argument("--storage", default="memory")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--quick", action="store_true", help="1 run, 20k messages, 3 s")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.messages, a.seconds = 1, 20000, 3
    for tool in ("nginx", "wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench/push.py: {tool} is missing (bench/compare installs it)")
    rows = []
    for mif in (1, 64):
        rates = [run_rate(a.sluiced, a.storage, a.messages, mif) for _ in range(a.runs)]
        rows.append((f"deliveries/s to nginx 204, max_in_flight {mif}",
                     spread(rates, lambda x: f"{x:,.0f}")))
    lats = [run_latency(a.sluiced, a.storage, a.seconds) for _ in range(a.runs)]
    rows.append(("publish→delivery p50 at 1,000 msg/s (ms)",
                 spread([x[0] for x in lats], lambda x: f"{x:.2f}")))
    rows.append(("publish→delivery p99 at 1,000 msg/s (ms)",
                 spread([x[1] for x in lats], lambda x: f"{x:.2f}")))
    dead = [run_dead(a.sluiced, a.storage, a.seconds) for _ in range(a.runs)]
    rows.append(("publish req/s, no subscription", spread([d[0] for d in dead],
                                                          lambda x: f"{x:,.0f}")))
    rows.append(("publish req/s, a dead subscriber attached",
                 spread([d[1] for d in dead], lambda x: f"{x:,.0f}")))
    rows.append(("ratio with / without the dead subscriber",
                 spread([d[1] / d[0] for d in dead], lambda x: f"{x:.2f}")))
    rows.append(("dead subscriber: failed attempts, circuit at the end",
                 ", ".join(f"{d[2]} {d[3]}" for d in dead)))
    print(f"storage {a.storage}, {a.runs} run(s), median (min–max)\n")
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
