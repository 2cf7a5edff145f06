"""receiver — a real HTTP receiver for push-delivery tests (webhooks, MQ Go receivers).

A `Receiver` is a `ThreadingHTTPServer` on loopback, in the test process, speaking HTTP/1.1 with
keep-alive (as a real receiver would, so the server's connection reuse is exercised). It records
every request it gets — method, path, headers, body, arrival time — *when it arrives*, before it
answers, and answers according to its current behaviour:

    rec = Receiver().start()          # a free port; Receiver(port=N) for a given one
    rec.url("/hook")                  # "http://127.0.0.1:PORT/hook"
    rec.answer(204)                   # every request gets 204 (the default is 200)
    rec.answer(500, b"boom")          # ... or 500 with a body
    rec.hang()                        # never answer (until release() or stop())
    rec.handler = fn                  # fn(req) -> status | (status, body) | HANG, per request
    rec.stop()                        # close the listener and every open connection: refused
    rec.start()                       # listen again on the same port

Waiting never sleeps a fixed time: `wait_for(n)` / `wait_until(pred)` poll with a generous
deadline (10 s by default) and fail with a message that says what arrived.

`verify_signature(secret, req)` checks a Standard Webhooks signature the way a receiver must:
key = the base64 after "whsec_" (or the secret's own bytes), HMAC-SHA256 over
"<webhook-id>.<webhook-timestamp>.<body>", compared with every "v1,<base64>" in the header.
"""

import base64
import hashlib
import hmac
import http.server
import socket
import threading
import time

HANG = object()  # a handler's answer: hold the request without answering
DEFAULT_WAIT = 10.0
HANG_LIMIT = 120.0  # a hung request is given up after this, whatever happens


class Request:
    """One request as the receiver got it. `headers` is a dict with lower-cased names (the last
    of repeated headers wins; `header_list` keeps them all, in order)."""

    def __init__(self, method, path, header_list, body, seq):
        self.method = method
        self.path = path
        self.header_list = header_list
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body
        self.seq = seq  # 0, 1, 2... in arrival order
        self.at = time.monotonic()
        self.wall = time.time()
        self.status = None  # what was answered (None: not yet, or never)
        self.peer = None  # (host, port) of the connection it came on
        self.concurrent = 0  # requests in progress when it arrived, itself included

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def attempt(self):
        return int(self.headers.get("sluice-attempt", "0"))

    @property
    def msg_id(self):
        return int(self.headers["sluice-id"])

    def __repr__(self):
        return (f"<Request #{self.seq} {self.method} {self.path} id={self.headers.get('sluice-id')}"
                f" attempt={self.headers.get('sluice-attempt')} body={self.body[:60]!r}"
                f" answered={self.status}>")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a connection cut by the server (a timeout, a shutdown) or by stop() is expected here;
        # anything else is printed as usual
        import sys
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real receiver

    def setup(self):
        super().setup()
        self.server.receiver._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.receiver._track(self.connection, False)

    def log_message(self, fmt, *args):  # quiet
        pass

    def _any(self):
        rec = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = rec._record(self.command, self.path, list(self.headers.items()), body)
        req.peer = self.client_address  # (host, port) of the connection it came on
        try:
            answer = rec._decide(req)
            if answer is HANG:
                rec._hang(req)
                self.close_connection = True
                return
            if rec.delay:
                time.sleep(rec.delay)
            status, body = answer if isinstance(answer, tuple) else (answer, b"")
            if isinstance(body, str):
                body = body.encode()
            req.status = status
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                if body:
                    self.wfile.write(body)
                self.wfile.flush()
            except OSError:
                self.close_connection = True
        finally:
            rec._done()

    do_POST = do_GET = do_PUT = do_DELETE = _any


class Receiver:
    """One receiver (see the module's comment). `requests` (read it with snapshot()) lists what
    arrived; `max_active` is the most requests it was handling at once."""

    def __init__(self, port=0, host="127.0.0.1"):
        self.host = host
        self.port = port
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.requests = []
        self.status = 200
        self.body = b""
        self.handler = None
        self.delay = 0.0  # seconds to wait before each answer
        self.active = 0  # requests being handled now
        self.max_active = 0  # the most at once
        self._released = threading.Event()
        self._conns = set()
        self._server = None
        self._thread = None

    # ---- life cycle -------------------------------------------------------------------------

    def start(self):
        """Listens (again) on self.port (a free one the first time when 0). Returns self."""
        assert self._server is None, "receiver already running"
        self._released = threading.Event()
        deadline = time.monotonic() + 5
        while True:
            try:
                srv = _Server((self.host, self.port), _Handler)
                break
            except OSError:  # the old socket may linger for a moment on restart
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        srv.receiver = self
        self._server = srv
        self.port = srv.server_address[1]
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening and cuts every open connection (hung requests included), so that new
        deliveries are refused and kept-alive connections are dead. Safe to call twice."""
        srv, self._server = self._server, None
        if srv is None:
            return
        self._released.set()
        srv.shutdown()
        srv.server_close()
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    @property
    def running(self):
        return self._server is not None

    def __enter__(self):
        return self.start() if not self.running else self

    def __exit__(self, *exc):
        self.stop()

    def url(self, path="/"):
        return f"http://{self.host}:{self.port}{path}"

    # ---- behaviour --------------------------------------------------------------------------

    def answer(self, status, body=b"", delay=None):
        """From now on answer every request with `status` (and `body`, after `delay` seconds when
        given), releasing hung ones."""
        with self.lock:
            self.handler = None
            self.status, self.body = status, body
            if delay is not None:
                self.delay = delay
        self._released.set()

    def hang(self):
        """From now on hold every request without answering (until answer(), release() or
        stop())."""
        with self.lock:
            self.handler = None
            self._released = threading.Event()
            self.status = HANG

    def release(self):
        """Lets hung requests go: their connections are closed without an answer."""
        self._released.set()

    def _decide(self, req):
        with self.lock:
            fn, status, body = self.handler, self.status, self.body
        if fn is not None:
            return fn(req)
        if status is HANG:
            return HANG
        return (status, body)

    def _hang(self, req):
        ev = self._released
        ev.wait(HANG_LIMIT)

    def _track(self, conn, add):
        with self.lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _record(self, method, path, headers, body):
        with self.cond:
            req = Request(method, path, headers, body, len(self.requests))
            self.requests.append(req)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            req.concurrent = self.active  # requests in progress when it arrived, itself included
            self.cond.notify_all()
            return req

    def _done(self):
        with self.cond:
            self.active -= 1
            self.cond.notify_all()

    # ---- looking at what arrived --------------------------------------------------------------

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def count(self):
        with self.lock:
            return len(self.requests)

    def bodies(self):
        return [r.body for r in self.snapshot()]

    def ok(self):
        """Requests answered 2xx, in arrival order."""
        return [r for r in self.snapshot() if r.status is not None and 200 <= r.status < 300]

    def clear(self):
        with self.lock:
            self.requests = []

    def wait_until(self, pred, timeout=DEFAULT_WAIT, what="the condition"):
        """Waits until pred(list of requests) is true; returns the requests. Fails with what
        arrived when `timeout` passes."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                reqs = list(self.requests)
                if pred(reqs):
                    return reqs
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.1))
        raise AssertionError(f"receiver {self.url()}: {what} did not happen within {timeout}s; "
                             f"it got {len(reqs)} request(s): {reqs[:20]}")

    def wait_for(self, n, timeout=DEFAULT_WAIT):
        """Waits for at least n requests; returns them all."""
        return self.wait_until(lambda rs: len(rs) >= n, timeout, f"{n} request(s)")

    def wait_ok(self, n, timeout=DEFAULT_WAIT):
        """Waits for at least n requests answered 2xx; returns those."""
        def ok(rs):
            return sum(1 for r in rs if r.status is not None and 200 <= r.status < 300) >= n
        self.wait_until(ok, timeout, f"{n} successful deliveries")
        return self.ok()

    def quiet_for(self, seconds):
        """Asserts nothing new arrives for `seconds`; returns the count."""
        n = self.count()
        time.sleep(seconds)
        got = self.snapshot()
        assert len(got) == n, f"receiver got {len(got) - n} unexpected request(s): {got[n:]}"
        return n


def signing_key(secret):
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def expected_signature(secret, msg_id, timestamp, body):
    mac = hmac.new(signing_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify_signature(secret, req, tolerance=300):
    """True when req carries a valid Standard Webhooks signature for secret, with a timestamp
    within `tolerance` seconds of now."""
    wid = req.header("webhook-id")
    ts = req.header("webhook-timestamp")
    sig = req.header("webhook-signature")
    if not (wid and ts and sig) or not ts.isdigit():
        return False
    if abs(int(ts) - time.time()) > tolerance:
        return False
    want = expected_signature(secret, wid, ts, req.body)
    return any(hmac.compare_digest(s, want) for s in sig.split(" "))


def closed_port():
    """A loopback port with nothing listening (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- pytest helpers (import them into a test module: `from receiver import receivers`) -------

try:
    import pytest
except ImportError:  # the module also works without pytest
    pytest = None

if pytest is not None:
    @pytest.fixture
    def receivers():
        """Factory: receivers() -> a started Receiver (receivers(port=N) for a given port). All
        are stopped at teardown."""
        made = []

        def make(port=0):
            r = Receiver(port=port).start()
            made.append(r)
            return r

        yield make
        for r in made:
            r.stop()


def subscribe(srv, queue, url, status=201, **fields):
    """POST /v1/queues/{queue}/subscriptions with {"url": url, **fields}; asserts `status` and
    returns the reply's JSON."""
    body = dict(fields)
    if url is not None:
        body["url"] = url
    r = srv.post(f"/v1/queues/{queue}/subscriptions", json=body)
    assert r.status_code == status, f"{r.status_code} {r.text[:1000]}"
    return r.json()


def sub_info(srv, sid):
    """GET /v1/subscriptions/{sid}; asserts 200."""
    r = srv.get(f"/v1/subscriptions/{sid}")
    assert r.status_code == 200, f"{r.status_code} {r.text[:1000]}"
    return r.json()


def wait_sub(srv, sid, pred, timeout=DEFAULT_WAIT, what="the condition"):
    """Polls GET /v1/subscriptions/{sid} until pred(info) holds; returns info. Fails with the last
    info when `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        info = sub_info(srv, sid)
        if pred(info):
            return info
        if time.monotonic() > deadline:
            raise AssertionError(f"subscription {sid}: {what} did not happen within {timeout}s; "
                                 f"last state: {info}")
        time.sleep(0.02)


def wait_for(pred, timeout=DEFAULT_WAIT, what="the condition", interval=0.02):
    """Polls pred() until it returns a true value (returned); fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s (last: {v!r})")
        time.sleep(interval)


def dead_letters(srv, queue):
    """The messages of {queue}.dlq (peek), [] when that queue does not exist (yet)."""
    r = srv.get(f"/v1/queues/{queue}.dlq/peek", params={"limit": 1000})
    if r.status_code == 404:
        return []
    assert r.status_code == 200, f"{r.status_code} {r.text[:1000]}"
    return r.json()["messages"]


# ---- MQ Go's client side (SPEC §4): there was no original client, so tests speak it here -------

def mqgo_post(srv, path, obj=None, raw=None, **kw):
    """POSTs an MQ Go request (a JSON object, or `raw` bytes/str as they are) to path, never
    following a redirect. Returns the response."""
    data = raw if raw is not None else __import__("json").dumps(obj)
    kw.setdefault("allow_redirects", False)
    return srv.post(path, data=data, **kw)


def mqgo_connect(srv, mode, url=None, path="/connect"):
    """Connects a sender or a receiver; asserts 200 {"id": N} and returns N."""
    body = {"mode": mode}
    if url is not None:
        body["ClientURL"] = url
    r = mqgo_post(srv, path, body)
    assert r.status_code == 200, f"{r.status_code} {r.text[:500]}"
    j = r.json()
    assert set(j) == {"id"} and isinstance(j["id"], int), j
    return j["id"]


def mqgo_send(srv, sender, body, path="/send"):
    """Sends body as sender; asserts the README reply and returns it."""
    r = mqgo_post(srv, path, {"id": sender, "body": body})
    assert r.status_code == 200, f"{r.status_code} {r.text[:500]}"
    assert r.json() == {"status": "Message enqueued.", "id": sender}, r.text
    return r.json()


def mqgo_disconnect(srv, conn, path="/disconnect"):
    r = mqgo_post(srv, path, {"id": conn})
    assert r.status_code == 200, f"{r.status_code} {r.text[:500]}"
    assert r.json() == {"id": conn, "message": "Disconnected."}, r.text
    return r.json()


def mqgo_body(req):
    """The text of an MQ Go delivery in the JSON form {"body": "..."}."""
    import json
    assert req.header("content-type") == "application/json", req.headers
    obj = json.loads(req.body)
    assert set(obj) == {"body"}, obj
    return obj["body"]
