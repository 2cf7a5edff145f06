"""`sluice --help` lists every command and the exit statuses on stdout and exits 0;
`sluice COMMAND --help` and `sluice help COMMAND` show one command's options; --version prints
the version."""

import re

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


COMMANDS = ["publish", "consume", "pop", "ack", "release", "peek", "queues", "stats"]


def test_help_lists_commands_and_exit_statuses(sluice_cli_bin):
    p = run_cli(sluice_cli_bin, "--help")
    assert p.returncode == 0, show(p)
    assert p.stderr == b""
    out = p.stdout.decode()
    for name in COMMANDS:
        assert re.search(rf"^  {name}\b", out, re.M), out
    for status in range(0, 5):
        assert re.search(rf"^  {status}  \S", out, re.M), out
    for option in ("--server", "--json", "--help", "--version", "SLUICE_SERVER"):
        assert option in out


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_has_its_own_help(sluice_cli_bin, name):
    p = run_cli(sluice_cli_bin, name, "--help")
    assert p.returncode == 0, show(p)
    out = p.stdout.decode()
    assert out.startswith(f"Usage: sluice [global options] {name}")
    same = run_cli(sluice_cli_bin, "help", name)
    assert same.returncode == 0 and same.stdout == p.stdout, show(same)


def test_publish_help_documents_its_options(sluice_cli_bin):
    out = run_cli(sluice_cli_bin, "publish", "-h").stdout.decode()
    for option in ("--delay", "--ttl", "--deliver-at", "--key", "--idempotency-key",
                   "--content-type", "--attr"):
        assert option in out, out


def test_version_prints_the_version(sluice_cli_bin):
    p = run_cli(sluice_cli_bin, "--version")
    assert p.returncode == 0, show(p)
    assert re.match(rb"sluice \d+\.\d+\.\d+\n", p.stdout), show(p)


def test_missing_command_prints_the_usage_on_stderr_and_exits_2(sluice_cli_bin):
    p = run_cli(sluice_cli_bin)
    assert p.returncode == 2, show(p)
    assert p.stdout == b""
    assert b"Usage: sluice" in p.stderr
