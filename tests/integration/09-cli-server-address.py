"""Which server the CLI talks to: -s/--server URL, else $SLUICE_SERVER, else
http://127.0.0.1:8080; a bare host:port means http://host:port; an address that is not an
http(s) URL is a usage error (exit 2)."""

import pytest

import sluice_harness as h
from cli_harness import run_cli, show


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
