"""Which server the CLI talks to: -s/--server URL, else $SLUICE_SERVER, else
http://127.0.0.1:8080; a bare host:port means http://host:port; an address that is not an
http(s) URL is a usage error (exit 2)."""

import subprocess

import pytest

import sluice_harness as h

# ---- running the CLI (the same few lines in every 09-cli-* file) ----


def run_cli(binary, *args, input=b"", env=None, timeout=40):
    """Runs `sluice *args` with `input` on stdin and returns the CompletedProcess (bytes). The
    environment is the test runner's without SLUICE_* and proxy variables, plus `env`. Fails the
    test if the CLI crashed or a sanitizer reported anything."""
    e = h.server_env(env)
    for k in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        e.pop(k, None)
    p = subprocess.run([str(binary), *args], input=input, capture_output=True, env=e,
                       timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode >= 0, f"sluice was killed by signal {-p.returncode}\n{show(p)}"
    for marker in h.SANITIZER_MARKERS:
        assert marker not in err, f"sanitizer output from sluice:\n{show(p)}"
    return p


def show(p):
    """A CompletedProcess as text, for assertion messages."""
    return (f"argv: {p.args}\nexit status: {p.returncode}\nstdout: {p.stdout[:3000]!r}\n"
            f"stderr: {p.stderr.decode('utf-8', 'replace')[:3000]}")


@pytest.fixture
def cli(sluice, sluice_cli_bin):
    """cli(*args, input=b"") runs `sluice -s <the test's server> *args`."""
    def run(*args, input=b""):
        return run_cli(sluice_cli_bin, "-s", sluice.url, *args, input=input)
    return run


def test_bare_host_and_port_is_accepted(sluice, sluice_cli_bin):
    sluice.publish("addr", b"x")
    p = run_cli(sluice_cli_bin, "-s", f"{sluice.host}:{sluice.port}", "queues")
    assert p.returncode == 0, show(p)
    assert b"addr" in p.stdout


def test_long_option_with_equals_and_full_url(sluice, sluice_cli_bin):
    sluice.publish("addr", b"x")
    p = run_cli(sluice_cli_bin, f"--server={sluice.url}/", "queues")
    assert p.returncode == 0, show(p)
    assert b"addr" in p.stdout


def test_sluice_server_environment_variable_is_the_default(sluice, sluice_cli_bin):
    sluice.publish("addr", b"x")
    p = run_cli(sluice_cli_bin, "queues", env={"SLUICE_SERVER": sluice.url})
    assert p.returncode == 0, show(p)
    assert b"addr" in p.stdout


def test_server_option_wins_over_the_environment(sluice, sluice_cli_bin):
    dead = f"127.0.0.1:{h.free_port()}"
    p = run_cli(sluice_cli_bin, "-s", sluice.url, "queues", env={"SLUICE_SERVER": dead})
    assert p.returncode == 0, show(p)
    p = run_cli(sluice_cli_bin, "queues", env={"SLUICE_SERVER": dead})
    assert p.returncode == 4, show(p)


@pytest.mark.parametrize("server", ["ftp://127.0.0.1:21", "http://", ":8080", "http://[::1"])
def test_an_address_that_is_not_an_http_url_is_a_usage_error(sluice_cli_bin, server):
    p = run_cli(sluice_cli_bin, "-s", server, "queues")
    assert p.returncode == 2, show(p)
    assert p.stderr.startswith(b"sluice: "), show(p)
