"""`sluice --help` lists every command and the exit statuses on stdout and exits 0;
`sluice COMMAND --help` and `sluice help COMMAND` show one command's options; --version prints
the version."""

import re

import pytest

from cli_harness import run_cli, show


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
