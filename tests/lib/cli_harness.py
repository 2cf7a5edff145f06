"""cli_harness — run the real `sluice` CLI binary from the 09-cli-* integration tests.

One copy of what every tests/integration/09-cli-* file needs (tests/integration/conftest.py
builds the `cli` fixture on it):

* `cli_env(env)` is the environment the CLI runs in: the test runner's without SLUICE_* and proxy
  variables (so neither $SLUICE_SERVER nor a proxy changes which server it talks to), plus `env`.
  Tests that start the CLI with subprocess.Popen themselves (`sluice listen`) use it directly.
* `run_cli(binary, *args, input=b"", env=None, timeout=40)` runs `sluice *args` to completion and
  returns the CompletedProcess (bytes), failing the test if the CLI crashed or a sanitizer
  reported anything.
* `show(p)` formats a CompletedProcess for assertion messages.
"""

import subprocess

import sluice_harness as h

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                   "ALL_PROXY")


def cli_env(env=None):
    """The test runner's environment without SLUICE_* and proxy variables, plus `env`."""
    e = h.server_env(env)
    for k in PROXY_VARIABLES:
        e.pop(k, None)
    return e


def run_cli(binary, *args, input=b"", env=None, timeout=40):
    """Runs `sluice *args` with `input` on stdin and returns the CompletedProcess (bytes). The
    environment is the test runner's without SLUICE_* and proxy variables, plus `env`. Fails the
    test if the CLI crashed or a sanitizer reported anything."""
    p = subprocess.run([str(binary), *args], input=input, capture_output=True, env=cli_env(env),
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
