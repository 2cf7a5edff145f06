"""gmq_client — a stand-in for GMQ's Go client (SEEDS-PROTOCOL.md §2.3, §2.6) and helpers for the
06-gmq-* integration tests.

GMQ's client builds one `gmqnet.Message`, marshals it with Go's encoding/json (compact, fields in
struct order, `<`, `>`, `&`, U+2028 and U+2029 escaped), writes it with a single `Write`, never
half-closes, and reads until the server closes (`ioutil.ReadAll`). `request()` produces exactly
those bytes (checked against the bytes SEEDS-PROTOCOL.md recorded from the HEAD client) and
`call()` does exactly that exchange; `call()` can also split the request into pieces, for the
framing tests.

* `request(op, queue, payload="", user=None, password=None, v13=False)` -> bytes. With a user
  (HEAD's client always has one) the `auth` object carries GMQ's tokens; without, the request is
  v1.3's.
* `token(text)` -> GMQ's "token": hex of the text, then the hex of SHA-512 of nothing.
* `call(port, data, host="127.0.0.1", chunk=None, pause=0.0, timeout=10)` -> the reply bytes.
* `gmq_port(srv)` / `gmq_port_in(log_text)` -> the GMQ port, from the server's log line.
* `reply(data)` -> the reply parsed as JSON (asserting it is an object).
"""

import hashlib
import json
import re
import socket
import time

GMQ_LISTEN_RE = re.compile(r"GMQ listening on (\[[^\]]+\]|[^\s:]+):(\d+)")
SHA512_EMPTY = hashlib.sha512(b"").hexdigest()


def token(text):
    return text.encode().hex() + SHA512_EMPTY


def go_json(obj):
    """Compact JSON as Go's encoding/json writes it (field order as given)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode()


def request(op, queue, payload="", user=None, password=None):
    msg = {"operation": op, "queue": queue, "payload": payload, "confirmation": "",
           "error": None}
    if user is not None:
        msg["auth"] = {"user": token(user), "password": token(password or "")}
    return go_json(msg)


def call(port, data, host="127.0.0.1", chunk=None, pause=0.0, timeout=10.0, half_close=False):
    """One GMQ exchange: connect, write `data` (whole, or `chunk` bytes at a time with `pause`
    seconds between), then read until the server closes. A reset after some bytes returns what
    arrived (GMQ's client would fail; the tests look at the bytes). `half_close` sends FIN after
    the request, as `nc -N` does (GMQ's client never does)."""
    if isinstance(data, str):
        data = data.encode()
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if chunk is None:
            s.sendall(data)
        else:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
                if pause:
                    time.sleep(pause)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                part = s.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            out += part
        return out


def reply(data):
    obj = json.loads(data)
    assert isinstance(obj, dict), data
    return obj


def gmq_port(srv):
    """The GMQ port of a running SluiceServer, from its log on stderr."""
    return gmq_port_in(srv.stderr())


def gmq_port_in(log_text):
    """The GMQ port named by the 'GMQ listening on HOST:PORT' line of a server's log."""
    m = GMQ_LISTEN_RE.search(log_text)
    assert m, f"no 'GMQ listening on' line in the server's log:\n{log_text}"
    return int(m.group(2))


def assert_refused(data, code, mention=None):
    """Asserts `data` is an N reply with error {code, message} (and `mention` in the message);
    returns the parsed reply."""
    r = reply(data)
    assert r["confirmation"] == "N", data
    assert isinstance(r["error"], dict) and r["error"].get("code") == code, data
    assert isinstance(r["error"].get("message"), str) and r["error"]["message"], data
    if mention is not None:
        assert mention in r["error"]["message"], data
    return r
