"""Fixtures for the integration tests: they start the real `sluiced` and talk HTTP to it.

Binaries: $SLUICE_BIN (default build/sluiced in the repository) and $SLUICE_CLI (default
build/sluice). A missing binary fails the test (it is never skipped).

Fixtures (every server runs in its own fresh temporary directory as cwd):

  sluice_bin       Path of the server binary.
  sluice_cli_bin   Path of the CLI binary (for 09-cli-* tests).
  cli              cli(*args, input=b"") runs `sluice -s <the test's server> *args` and returns
                   the CompletedProcess (bytes); run_cli and show in tests/lib/cli_harness.py.
  sluice           A running server started with `--listen 127.0.0.1:0`, a SluiceServer
                   (tests/lib/sluice_harness.py): .url, .port, .host, .proc, .workdir,
                   .get/.post/.put/.delete/.request(method, path, **requests_kwargs),
                   .publish/.lease/.ack/.release/.pop/.peek/.put_queue/.queue/... helpers,
                   .raw(bytes) and .connect() for raw sockets, .stderr(), and
                   .stop(sig=SIGTERM) -> exit code. Start options come from a marker:
                     @pytest.mark.sluice(args=["--max-queues", "2"], env={...}, config="ini text")
  start_sluice     Factory for more servers or custom ones:
                     start_sluice(*args, env=None, config=None, listen=True) -> SluiceServer
                   `config` is INI text written to <workdir>/sluice.conf and passed with -f;
                   listen=False leaves out `--listen 127.0.0.1:0` (the test then names the
                   address itself, e.g. in the config file).
  run_sluiced      Runs the binary expecting it to exit by itself (bad config, --help):
                     run_sluiced(*args, env=None, config=None) -> ExitResult with .returncode,
                     .stdout, .stderr, .config_path.
  workdir          The test's temporary directory (servers get subdirectories of it).
  restart_sluice   Starts a stopped (or killed: srv.kill()) server again, on the same working
                   directory and so the same data directory, with the same flags and config:
                     restart_sluice(srv, args=None, env=None) -> a new SluiceServer
                   (`args`/`env` replace the old ones when given). Torn down like the others.
  restart          restart(srv, how) stops srv ("graceful": SIGTERM, exit 0; "kill9": SIGKILL)
                   and restarts it on the same data directory, which must be the file storage's.
  tmpfs            Factory for a small real file system (needs root): tmpfs(size="2m",
                   name="tmpfs", options="") -> Path of a tmpfs mounted in the workdir. A mount
                   that fails FAILS the test (never skips). Teardown stops the servers still
                   running (SIGTERM, checked as usual) and unmounts.

On teardown every server still running gets SIGTERM; the test FAILS if any server crashed
(killed by a signal), exited with an unexpected status (set srv.expected_exit to allow others),
did not exit within 15 s (the default shutdown_timeout is 10 s), or wrote sanitizer output
(AddressSanitizer, LeakSanitizer, ThreadSanitizer or UBSan "runtime error:") to stderr. Each
server's stderr is attached to the report of a failing test. Every test has a time limit (60 s,
or $SLUICE_TEST_TIMEOUT, or @pytest.mark.timeout(seconds)).
"""

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import sluice_harness as h  # noqa: E402
from cli_harness import run_cli  # noqa: E402

DEFAULT_TEST_TIMEOUT = float(os.environ.get("SLUICE_TEST_TIMEOUT", "60"))


@pytest.fixture(scope="session")
def sluice_bin():
    path = h.server_bin()
    if not path.exists():
        pytest.fail(f"server binary {path} does not exist: run `make` or set SLUICE_BIN",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def sluice_cli_bin():
    path = h.cli_bin()
    if not path.exists():
        pytest.fail(f"CLI binary {path} does not exist: run `make` or set SLUICE_CLI",
                    pytrace=False)
    return path


@pytest.fixture
def cli(sluice, sluice_cli_bin):
    """cli(*args, input=b"") runs `sluice -s <the test's server> *args`."""
    def run(*args, input=b""):
        return run_cli(sluice_cli_bin, "-s", sluice.url, *args, input=input)
    return run


@pytest.fixture
def workdir(tmp_path):
    return tmp_path


@pytest.fixture
def start_sluice(request, sluice_bin, workdir):
    servers = []
    request.node._sluice_servers = servers

    def start(*args, env=None, config=None, listen=True):
        srv = h.SluiceServer(sluice_bin, workdir / f"server{len(servers)}", args=args, env=env,
                             config=config, listen=listen)
        servers.append(srv)
        try:
            srv.start()
        except h.ServerStartError as e:
            pytest.fail(str(e), pytrace=False)
        return srv

    yield start

    problems = []
    for srv in servers:
        try:
            if srv.running():
                srv.stop(signal.SIGTERM)
        except AssertionError as e:
            problems.append(str(e))
            continue
        for p in srv.problems():
            problems.append(f"{p}\nargv: {srv.argv}\nstderr (last 4000 chars):\n"
                            f"{srv.stderr()[-4000:]}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def restart_sluice(request, start_sluice):
    servers = request.node._sluice_servers

    def restart(srv, args=None, env=None):
        new = srv.restarted(args=args, env=env)
        servers.append(new)
        try:
            new.start()
        except h.ServerStartError as e:
            pytest.fail(str(e), pytrace=False)
        return new

    return restart


@pytest.fixture
def restart(restart_sluice):
    def again(srv, how):
        if how == "graceful":
            assert srv.stop() == 0, srv.stderr()
        else:
            assert srv.kill() == -9
        new = restart_sluice(srv)
        assert "(storage: file)" in new.stderr(), new.stderr()
        return new

    return again


@pytest.fixture
def tmpfs(request, workdir):
    mounted = []

    def mount(size="2m", name="tmpfs", options=""):
        try:
            path = h.mount_tmpfs(workdir / name, size, options)
        except OSError as e:
            pytest.fail(f"cannot mount a tmpfs for this test: {e}", pytrace=False)
        mounted.append(path)
        return path

    yield mount

    # servers must let go of the file system first; their health is still checked by
    # start_sluice's teardown
    problems = []
    for srv in getattr(request.node, "_sluice_servers", []):
        if srv.running():
            try:
                srv.stop(signal.SIGTERM)
            except AssertionError as e:
                problems.append(str(e))
    for path in reversed(mounted):
        h.umount(path)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def sluice(request, start_sluice):
    marker = request.node.get_closest_marker("sluice")
    kw = dict(marker.kwargs) if marker else {}
    args = kw.pop("args", ())
    return start_sluice(*args, **kw)


@pytest.fixture
def run_sluiced(sluice_bin, workdir):
    count = [0]

    def run(*args, env=None, config=None, timeout=h.START_TIMEOUT):
        count[0] += 1
        try:
            return h.run_sluiced(sluice_bin, workdir / f"run{count[0]}", args=args, env=env,
                                 config=config, timeout=timeout)
        except h.ServerStartError as e:
            pytest.fail(str(e), pytrace=False)

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for i, srv in enumerate(getattr(item, "_sluice_servers", [])):
            text = srv.stderr()
            if len(text) > 20000:
                text = "...\n" + text[-20000:]
            rep.sections.append((f"sluiced #{i} stderr ({' '.join(srv.argv[1:])})", text))


class _TestTimeout(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """A hung server must not hang the suite: each test (setup, call, teardown) gets a time
    limit, enforced with SIGALRM."""
    marker = item.get_closest_marker("timeout")
    limit = float(marker.args[0]) if marker else DEFAULT_TEST_TIMEOUT

    def on_alarm(signum, frame):
        raise _TestTimeout(f"test exceeded its {limit:g}s time limit")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
