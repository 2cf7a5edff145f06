"""sluice_harness — start the real `sluiced` binary and talk to it over real sockets.

Used by tests/integration/conftest.py (which turns it into pytest fixtures) and importable by any
test that needs the pieces directly.

* `SluiceServer` starts the binary with `--listen 127.0.0.1:0` (plus the flags, environment and
  INI config file a test asks for) in a fresh directory, waits for the log line
  `Listening on http://HOST:PORT`, and offers `.url`, `.port`, `.proc`, `.get/.post/.put/.delete`
  through a `requests.Session`, a few API helpers (`publish`, `lease`, ...) and `.stop()`.
  `.problems()` lists what makes a run unhealthy: exit by a signal, an unexpected exit code, or
  sanitizer output in stderr.
* `run_sluiced` runs the binary expecting it to exit by itself (bad config, --help, --version).
* `RawConn` / `raw_http` speak HTTP over a plain socket, for malformed and slow requests.
* `assert_error` checks the API's error shape: `{"error": {"code": ..., "message": ...}}`.
* Durability tests: `SluiceServer.kill()` (SIGKILL), `.data_dir`, `.restarted()` (the same
  server again, on the same data directory); `segment_files`, `read_records` (records with their
  offsets, publish bodies), `flip_byte`, `cut_file`, `append_bytes` to damage segment files as a
  crash or a bad disk would; `mount_tmpfs`/`umount` for a small real file system.
"""

import base64
import os
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 10.0
REQUEST_TIMEOUT = 5.0
STOP_TIMEOUT = 15.0
LISTEN_RE = re.compile(r"Listening on http://(\[[^\]]+\]|[^\s:/]+):(\d+)")
# Strings that mean a sanitizer build found a bug (ASan, LSan, TSan, UBSan).
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:")
RFC3339_MS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def server_bin():
    """Path of the server binary: $SLUICE_BIN, or build/sluiced in the repository."""
    return Path(os.environ.get("SLUICE_BIN") or REPO_ROOT / "build" / "sluiced")


def cli_bin():
    """Path of the CLI binary: $SLUICE_CLI, or build/sluice in the repository."""
    return Path(os.environ.get("SLUICE_CLI") or REPO_ROOT / "build" / "sluice")


def server_env(extra=None):
    """The environment for a server: ours without any SLUICE_* variable (the test runner's own
    SLUICE_BIN/SLUICE_CLI must not configure the server), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    env.update(extra or {})
    return env


def free_port():
    """A TCP port that was free a moment ago (for tests that must name a port themselves)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rfc3339(epoch_seconds, offset_minutes=0, millis=True):
    """An RFC 3339 time for `epoch_seconds`, in UTC ("Z") or at a fixed offset ("+01:00")."""
    import datetime
    tz = datetime.timezone(datetime.timedelta(minutes=offset_minutes))
    t = datetime.datetime.fromtimestamp(epoch_seconds, tz)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if millis:
        text += ".%03d" % (t.microsecond // 1000)
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    m = abs(offset_minutes)
    return f"{text}{sign}{m // 60:02d}:{m % 60:02d}"


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text, validate=True)


class ServerStartError(Exception):
    pass


class _Pipe:
    """Reads the server's stdout on a thread, so a chatty server never blocks on a full pipe,
    and keeps every line."""

    def __init__(self, stream):
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            with self.lock:
                self.lines.append(line)
        stream.close()

    def text(self):
        with self.lock:
            return "".join(self.lines)


class SluiceServer:
    """One running `sluiced`. Start it with `start()` (the fixtures do this)."""

    _started = 0  # servers started by this test process: names each one's stderr file

    def __init__(self, binary, workdir, args=(), env=None, config=None, listen=True,
                 config_name="sluice.conf"):
        self.binary = Path(binary)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = None
        argv = [str(self.binary)]
        if listen:
            argv += ["--listen", "127.0.0.1:0"]
        if config is not None:
            self.config_path = self.workdir / config_name
            self.config_path.write_text(config)
            argv += ["-f", str(self.config_path)]
        argv += [str(a) for a in args]
        self.argv = argv
        self.env = server_env(env)
        # What it was made with, so that `restarted()` can start the same server again.
        self.args = tuple(str(a) for a in args)
        self.extra_env = dict(env or {})
        self.config = config
        self.listen = listen
        self.proc = None
        self.host = None
        self.port = None
        self.url = None
        self.returncode = None
        self.stopped_with = None
        # Exit codes teardown accepts; stop(sig) adds -sig for a signal that kills by design.
        self.expected_exit = {0}
        self.session = requests.Session()
        self._stderr_path = None

    # ---- life cycle ---------------------------------------------------------------------------

    def start(self, timeout=START_TIMEOUT):
        if not self.binary.exists():
            raise ServerStartError(f"server binary {self.binary} does not exist (build it with "
                                   f"`make`, or set SLUICE_BIN)")
        # stderr goes to a file, not a pipe: the server writes each log line with one write(2)
        # before it answers the request that caused it, so a test reading the log after the
        # answer sees the line (a pipe read on a thread could still be behind).
        SluiceServer._started += 1
        self._stderr_path = self.workdir / f"sluiced.{SluiceServer._started}.stderr"
        try:
            with open(self._stderr_path, "wb") as err:
                self.proc = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env,
                                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=err)
        except OSError as e:
            raise ServerStartError(f"cannot run {self.binary}: {e}")
        self._stdout = _Pipe(self.proc.stdout)
        deadline = time.monotonic() + timeout
        while True:
            m = LISTEN_RE.search(self.stderr())
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                break
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                self._join_stdout()
                raise ServerStartError(
                    f"sluiced exited with {self.returncode} before logging 'Listening on'\n"
                    f"argv: {self.argv}\nstderr:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self.returncode = self.proc.returncode
                self._join_stdout()
                raise ServerStartError(
                    f"sluiced did not log 'Listening on http://HOST:PORT' within {timeout}s\n"
                    f"argv: {self.argv}\nstderr:\n{self.stderr()}")
            time.sleep(0.02)
        self.url = f"http://{self.host}:{self.port}"
        return self

    def _join_stdout(self):
        if getattr(self, "_stdout", None):
            self._stdout.thread.join(timeout=5)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig` and waits for the exit; returns the exit code (negative: killed by that
        signal, as subprocess reports it). Raises AssertionError if the server does not exit
        within `timeout` (it is then killed). The default allows the default shutdown_timeout
        (10 s) plus slack."""
        self.session.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.stopped_with = sig
            if sig in (signal.SIGKILL,):
                self.expected_exit.add(-sig)
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = self.proc.returncode
                self._join_stdout()
                raise AssertionError(
                    f"sluiced did not exit within {timeout}s of signal {sig!s}\n"
                    f"stderr:\n{self.stderr()}")
        self.returncode = self.proc.returncode
        self._join_stdout()
        return self.returncode

    def stderr(self):
        """Everything the server has logged so far."""
        if self._stderr_path is None:
            return ""
        return self._stderr_path.read_bytes().decode("utf-8", "replace")

    def kill(self):
        """SIGKILL: a crash, as far as the storage can tell (nothing is flushed). Returns the
        exit code (-9); teardown accepts it."""
        return self.stop(signal.SIGKILL)

    @property
    def data_dir(self):
        """The `file` storage's directory: the last --data-dir flag, or the default
        ./sluice-data in the server's working directory (a config file is not looked at)."""
        d = "sluice-data"
        for i, a in enumerate(self.args):
            if a == "--data-dir" and i + 1 < len(self.args):
                d = self.args[i + 1]
            elif a.startswith("--data-dir="):
                d = a.split("=", 1)[1]
        return self.workdir / d

    def restarted(self, args=None, env=None):
        """A new, not yet started SluiceServer like this one: same binary, working directory
        (so the same default data directory), flags and config, unless `args` or `env` (the
        extra environment) replace them. This one must have stopped."""
        assert not self.running(), "stop (or kill) the server before starting it again"
        return SluiceServer(self.binary, self.workdir,
                            args=self.args if args is None else args,
                            env=self.extra_env if env is None else env,
                            config=self.config, listen=self.listen)

    def stdout(self):
        return self._stdout.text() if getattr(self, "_stdout", None) else ""

    def problems(self):
        """What makes this (stopped) run unhealthy, as a list of sentences; empty when clean."""
        out = []
        rc = self.returncode
        if rc is not None and rc < 0 and rc not in self.expected_exit:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = str(-rc)
            out.append(f"sluiced was killed by signal {name} (it crashed)")
        elif rc is not None and rc not in self.expected_exit:
            out.append(f"sluiced exited with status {rc}, expected one of "
                       f"{sorted(self.expected_exit)}")
        err = self.stderr()
        for marker in SANITIZER_MARKERS:
            if marker in err:
                out.append(f"sluiced stderr contains sanitizer output ({marker!r})")
        return out

    # ---- HTTP ---------------------------------------------------------------------------------

    def request(self, method, path, **kw):
        kw.setdefault("timeout", REQUEST_TIMEOUT)
        return self.session.request(method, self.url + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def raw(self, data, **kw):
        """Sends bytes on a new socket and reads one response (see raw_http)."""
        return raw_http(self.port, data, host=self.host, **kw)

    def connect(self, timeout=5.0):
        return RawConn(self.port, host=self.host, timeout=timeout)

    def alive(self):
        """True when the server still answers /healthz (used after abuse)."""
        r = requests.get(self.url + "/healthz", timeout=REQUEST_TIMEOUT)
        return r.status_code == 200 and r.json() == {"status": "ok"}

    # ---- API helpers: each asserts the documented success status --------------------------

    def publish(self, queue, body=b"x", params=None, headers=None, status=201):
        r = self.post(f"/v1/queues/{queue}/messages", data=body, params=params, headers=headers)
        assert r.status_code == status, _describe(r)
        return r.json()

    def publish_many(self, queue, bodies, **kw):
        return [self.publish(queue, b, **kw)["id"] for b in bodies]

    def batch(self, queue, messages, status=201):
        r = self.post(f"/v1/queues/{queue}/batch", json={"messages": messages})
        assert r.status_code == status, _describe(r)
        return r.json()

    def lease(self, queue, status=200, **params):
        r = self.get(f"/v1/queues/{queue}/messages", params=params,
                     timeout=REQUEST_TIMEOUT + _wait_seconds(params.get("wait")))
        assert r.status_code == status, _describe(r)
        msgs = r.json()["messages"]
        assert isinstance(msgs, list), r.text
        return msgs

    def ack(self, queue, receipts):
        r = self.post(f"/v1/queues/{queue}/ack", json={"receipts": receipts})
        assert r.status_code == 200, _describe(r)
        return r.json()

    def release(self, queue, receipts, **fields):
        r = self.post(f"/v1/queues/{queue}/release", json={"receipts": receipts, **fields})
        assert r.status_code == 200, _describe(r)
        return r.json()

    def pop(self, queue, **params):
        r = self.post(f"/v1/queues/{queue}/pop", params=params,
                      timeout=REQUEST_TIMEOUT + _wait_seconds(params.get("wait")))
        assert r.status_code == 200, _describe(r)
        return r.json()["message"]

    def peek(self, queue, **params):
        r = self.get(f"/v1/queues/{queue}/peek", params=params)
        assert r.status_code == 200, _describe(r)
        return r.json()

    def put_queue(self, queue, status=None, **settings):
        r = self.put(f"/v1/queues/{queue}", json=settings if settings else None)
        if status is None:
            assert r.status_code in (200, 201), _describe(r)
        else:
            assert r.status_code == status, _describe(r)
        return r.json()

    def queue(self, queue):
        r = self.get(f"/v1/queues/{queue}")
        assert r.status_code == 200, _describe(r)
        return r.json()

    def put_group(self, queue, group, status=None, **params):
        r = self.put(f"/v1/queues/{queue}/groups/{group}", params=params or None)
        if status is None:
            assert r.status_code in (200, 201), _describe(r)
        else:
            assert r.status_code == status, _describe(r)
        return r.json()

    def group(self, queue, group):
        r = self.get(f"/v1/queues/{queue}/groups/{group}")
        assert r.status_code == 200, _describe(r)
        return r.json()


def _wait_seconds(wait):
    """Seconds in a `wait` parameter, generously, for the client's socket timeout."""
    if wait is None:
        return 0
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", str(wait))
    if not m:
        return 0
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def _describe(r):
    return f"{r.request.method} {r.request.url} -> {r.status_code} {r.headers!r}\n{r.text[:2000]}"


def describe(r):
    """A response as text, for assertion messages."""
    return _describe(r)


def assert_error(r, status, code, mention=None):
    """Asserts `r` is the API's error reply: `status`, a JSON body
    `{"error": {"code": code, "message": "<non-empty>"}}`. `mention`, when given, must appear in
    the message (the docs promise the message names the bad parameter or item). Returns the
    message."""
    assert r.status_code == status, _describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), _describe(r)
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), _describe(r)
    err = body["error"]
    if isinstance(code, (tuple, set, frozenset, list)):
        assert err.get("code") in code, _describe(r)
    else:
        assert err.get("code") == code, _describe(r)
    assert isinstance(err.get("message"), str) and err["message"], _describe(r)
    if mention is not None:
        assert mention in err["message"], f"error message should name {mention!r}: {_describe(r)}"
    return err["message"]


def wait_until(pred, timeout=2.0, interval=0.02):
    """Polls `pred` until it returns a true value (returned) or `timeout` passes (returns the last
    false value)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


# ---- the file storage's segment files (src/qlog.c) ---------------------------------------------

SEG_HEADER_SIZE = 32
RECORD_OVERHEAD = 12  # 8-byte head (length, type, flags, reserved) + 4-byte XXH32
REC_PUBLISH, REC_FINISH, REC_FAIL, REC_DROP, REC_QUEUE, REC_GROUP, REC_GROUP_DEL, REC_PURGE = \
    range(1, 9)


class Record:
    """One record of a segment file, as laid out on disk (src/qlog.c's opening comment).
    `offset` is where its head starts in the file, `size` its whole length (12 + payload).
    Publish records also have `id`, `body`, `body_offset` (absolute, in the file)."""

    def __init__(self, offset, rtype, payload):
        self.offset = offset
        self.type = rtype
        self.payload = payload
        self.size = RECORD_OVERHEAD + len(payload)
        self.end = offset + self.size
        if rtype == REC_PUBLISH:
            # u64 id first, u32 body_len at 36, and the body last (whatever comes between)
            self.id = struct.unpack_from("<Q", payload, 0)[0]
            body_len = struct.unpack_from("<I", payload, 36)[0]
            start = len(payload) - body_len
            self.body = payload[start:]
            self.body_offset = offset + 8 + start

    def __repr__(self):
        extra = f" id={self.id}" if self.type == REC_PUBLISH else ""
        return f"<Record type={self.type} offset={self.offset} size={self.size}{extra}>"


def queue_dir(data_dir, queue):
    return Path(data_dir) / "queues" / queue


def segment_files(data_dir, queue):
    """The queue's segment files (NNNNNNNNNNNNNNNN.seg), oldest first."""
    d = queue_dir(data_dir, queue)
    return sorted(p for p in d.glob("*.seg") if len(p.name) == 20) if d.is_dir() else []


def read_records(path):
    """Parses a segment file by its lengths, oldest record first. It does not verify checksums
    (the server does that): it is for finding offsets in files the server wrote whole. Stops at
    the first head that is impossible or runs past the end of the file."""
    data = Path(path).read_bytes()
    assert data[:8] == b"SLUICELG", f"{path} does not start with a segment header"
    out, off = [], SEG_HEADER_SIZE
    while off + RECORD_OVERHEAD <= len(data):
        length, rtype, flags, reserved = struct.unpack_from("<IBBH", data, off)
        if not 1 <= rtype <= 8 or flags or reserved or off + RECORD_OVERHEAD + length > len(data):
            break
        out.append(Record(off, rtype, data[off + 8:off + 8 + length]))
        off += RECORD_OVERHEAD + length
    return out


def records_end(path):
    """Where the records of a segment file end (read_records): the zero tail, if any, follows."""
    recs = read_records(path)
    return recs[-1].end if recs else SEG_HEADER_SIZE


def zero_tail(path):
    """The zero tail of a segment file (src/qlog.c): the bytes after its last record, which
    the server writes ahead as zeros. Asserts that they are all zeros; returns their number."""
    end = records_end(path)
    rest = Path(path).read_bytes()[end:]
    assert not any(rest), f"{path}: non-zero bytes after the last record at {end}"
    return len(rest)


def strip_zero_tail(path):
    """Cuts the zero tail off a segment file, so that it ends with its last record (as an
    append-only writer leaves it). Returns the new size."""
    zero_tail(path)
    end = records_end(path)
    os.truncate(path, end)
    return end


def flip_byte(path, offset, mask=0xFF):
    """XORs the byte at `offset` of the file with `mask` (a bit flip on the disk)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        assert len(b) == 1, f"{path} has no byte at offset {offset}"
        f.seek(offset)
        f.write(bytes([b[0] ^ mask]))


def cut_file(path, size):
    """Truncates the file to `size` bytes (a write torn by a crash)."""
    os.truncate(path, size)


def append_bytes(path, data):
    with open(path, "ab") as f:
        f.write(data)


# ---- small real file systems (root only) --------------------------------------------------------

def mount_tmpfs(path, size, options=""):
    """Mounts a tmpfs of `size` ("2m") on directory `path` (created). Raises OSError with mount's
    own message when it fails (not root, no tmpfs)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (f",{options}" if options else "")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise OSError(f"mount -t tmpfs -o {opts} tmpfs {path} failed (status {p.returncode}): "
                      f"{p.stderr.strip() or p.stdout.strip()}")
    return path


def umount(path):
    """Unmounts `path`; if it is busy, detaches it lazily so nothing stays mounted."""
    p = subprocess.run(["umount", str(path)], capture_output=True, text=True)
    if p.returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, text=True)


# ---- starting failures ------------------------------------------------------------------------

class ExitResult:
    def __init__(self, argv, returncode, stdout, stderr, config_path):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.config_path = config_path

    def __repr__(self):
        return (f"<sluiced {self.argv} exited {self.returncode}>\nstdout:\n{self.stdout}\n"
                f"stderr:\n{self.stderr}")


def run_sluiced(binary, workdir, args=(), env=None, config=None, config_name="sluice.conf",
                timeout=START_TIMEOUT):
    """Runs sluiced expecting it to exit on its own (bad configuration, --help, --version).
    Returns an ExitResult. Raises AssertionError if it is still running after `timeout` (it
    probably started serving; it is killed)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [str(binary)]
    config_path = None
    if config is not None:
        config_path = workdir / config_name
        config_path.write_text(config)
        argv += ["-f", str(config_path)]
    argv += [str(a) for a in args]
    if not Path(binary).exists():
        raise ServerStartError(f"server binary {binary} does not exist (build it with `make`, "
                               f"or set SLUICE_BIN)")
    try:
        p = subprocess.run(argv, cwd=workdir, env=server_env(env), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout)
    except OSError as e:
        raise ServerStartError(f"cannot run {binary}: {e}")
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"sluiced {argv} was still running after {timeout}s (expected it to "
                             f"exit)\nstderr:\n{(e.stderr or b'').decode('utf-8', 'replace')}")
    res = ExitResult(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
                     p.stderr.decode("utf-8", "replace"), config_path)
    for marker in SANITIZER_MARKERS:
        assert marker not in res.stderr, f"sanitizer output from sluiced:\n{res!r}"
    assert res.returncode >= 0, f"sluiced was killed by a signal (crashed):\n{res!r}"
    return res


# ---- raw sockets --------------------------------------------------------------------------------

class RawResponse:
    def __init__(self, status, reason, headers, body, raw):
        self.status = status
        self.status_code = status
        self.reason = reason
        self.headers = headers  # lower-cased names
        self.body = body
        self.raw = raw

    def json(self):
        import json
        return json.loads(self.body)

    def __repr__(self):
        return f"<RawResponse {self.status} {self.reason} {self.headers} {self.body[:300]!r}>"


class ConnectionClosed(Exception):
    """The peer closed (or reset) the connection before a whole response arrived."""

    def __init__(self, partial):
        super().__init__(f"connection closed; received {partial[:300]!r}")
        self.partial = partial


class RawConn:
    """One plain TCP connection to the server."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads more bytes into buf; returns False at EOF/reset. Raises socket.timeout when
        the deadline passes."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out waiting for the server")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_response(self, timeout=5.0, head=False):
        """Reads one whole response. Raises ConnectionClosed if the connection ends first, and
        socket.timeout if nothing complete arrives within `timeout`."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if self.eof or not self._fill(deadline):
                raise ConnectionClosed(self.buf)
        head_bytes, rest = self.buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
        if not m:
            raise AssertionError(f"not an HTTP response: {self.buf[:300]!r}")
        status, reason = int(m.group(1)), m.group(2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if head or status in (204, 304) or 100 <= status < 200:
            self.buf = rest
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body, self.buf = self._read_chunked(rest, deadline)
        elif "content-length" in headers:
            n = int(headers["content-length"])
            self.buf = rest
            while len(self.buf) < n:
                if self.eof or not self._fill(deadline):
                    raise ConnectionClosed(self.buf)
            body, self.buf = self.buf[:n], self.buf[n:]
        else:
            self.buf = rest
            while not self.eof and self._fill(deadline):
                pass
            body, self.buf = self.buf, b""
        return RawResponse(status, reason, headers, body, head_bytes + b"\r\n\r\n" + body)

    def _read_chunked(self, data, deadline):
        self.buf = data
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                if self.eof or not self._fill(deadline):
                    raise ConnectionClosed(self.buf)
            size_line, self.buf = self.buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(self.buf) < size + 2:
                if self.eof or not self._fill(deadline):
                    raise ConnectionClosed(self.buf)
            body += self.buf[:size]
            self.buf = self.buf[size + 2:]
            if size == 0:
                return body, self.buf

    def wait_closed(self, timeout):
        """Waits up to `timeout` for the server to close the connection. Returns (closed, data)
        where data is whatever arrived meanwhile."""
        deadline = time.monotonic() + timeout
        try:
            while not self.eof and self._fill(deadline):
                pass
        except (socket.timeout, TimeoutError):
            return False, self.buf
        return True, self.buf

    def is_open(self):
        """True when the server has not closed the connection (checked without blocking)."""
        if self.eof:
            return False
        r, _, _ = select.select([self.sock], [], [], 0)
        if not r:
            return True
        try:
            data = self.sock.recv(65536, socket.MSG_PEEK)
        except ConnectionResetError:
            return False
        return bool(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_http(port, data, host="127.0.0.1", timeout=5.0):
    """Sends `data` (bytes or str) on a new connection and returns the first response, or raises
    ConnectionClosed if the server closes without a whole response."""
    with RawConn(port, host=host, timeout=timeout) as c:
        c.send(data)
        return c.read_response(timeout=timeout)
