"""GMQ's JSON configuration (docs/config.md, "A GMQ configuration file"): both example files of
SEEDS-PROTOCOL.md §2.5, verbatim, start a working server (GMQ's port and interface, its
credentials checked, max_message_length as the request limit, HTTP on its own default); log.path
sends the log to that file (or, when it cannot be opened, to stderr with a warning, as GMQ fell
back to stdout); queue_type 3 keeps messages in filesystem.path across a restart and a crash;
queue_type 2 and every bad key stop the server with exit status 2 and a message naming the file
and the key."""

import base64
import re
import signal
import socket
import subprocess

import pytest

import gmq_client as g
from sluice_harness import server_env, wait_until

HEAD_EXAMPLE = """{ 
 "auth":{
  "user":"gmqserver",\t\t
  "password":"thisismyverysecureTCPserverpassword"
 },
 "network":{
  "port":"48844",
  "interface":"0.0.0.0",
  "protocol":"tcp4"
 },
 "queue":{
  "queue_type":1,
  "max_queue_number":32,
  "max_message_length":4096,
  "max_queue_capacity":4096
  },
 "database":{
  "vendor":"mysql",
  "dsn":"gmq:qm3ssageM3@(docker:3306)/gmq"
  },
 "filesystem":{
  "path":"../fs/"
  },
 "log":{
  "path":"../log/gmqserver.log"\t
 }
}"""

V13_EXAMPLE = """{ 
 "network":{
  "port":"4884",
  "interface":"",
  "protocol":"tcp4"
 },
 "queue":{
  "queue_type":1,
  "max_queue_number":32,
  "max_message_length":4096,
  "max_queue_capacity":4096
  },
 "database":{
  "vendor":"mysql",
  "dsn":"gmq:qm3ssageM3@(sviluppo.mtl.it:3306)/gmq"
  },
 "filesystem":{
  "path":"../fs/"
  },
 "log":{
  "path":"../log/gmqserver.log"\t
 }
}"""


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def write(workdir, name, text):
    path = workdir / name
    path.write_text(text)
    return path


def start_with_config(start_sluice, workdir, text, *args):
    path = write(workdir, "gmq.json", text)
    return start_sluice("-f", str(path), *args)


@pytest.mark.parametrize("example,port", [(HEAD_EXAMPLE, 48844), (V13_EXAMPLE, 4884)],
                         ids=["head", "v1.3"])
def test_example_config_starts_a_working_server(start_sluice, workdir, example, port):
    # The file is used verbatim: GMQ's own port on every IPv4 address, unless a test server
    # elsewhere on this machine holds it (then only the address is overridden by a flag).
    extra = () if port_free(port) else ("--gmq-listen", "127.0.0.1:0")
    srv = start_with_config(start_sluice, workdir, example, *extra)
    err = srv.stderr()
    assert re.search(r"GMQ listening on 0\.0\.0\.0:%d \(tcp4" % port, err) or extra, err
    # ../log/ does not exist here: logging stays on stderr, with a warning that says so
    assert "Cannot open the log file '../log/gmqserver.log'" in err, err
    assert "(storage: memory)" in err
    gport = g.gmq_port(srv)
    creds = {"user": "gmqserver", "password": "thisismyverysecureTCPserverpassword"} \
        if example is HEAD_EXAMPLE else {}
    r = g.reply(g.call(gport, g.request("P", "q1", "Zmlyc3Q=", **creds)))
    assert r["confirmation"] == "Y", r
    assert g.reply(g.call(gport, g.request("L", "q1", **creds)))["payload"] == "1"
    # max_message_length is the request limit, as GMQ's read buffer was
    big = g.request("P", "q1", "QUFB" * 1500, **creds)
    g.assert_refused(g.call(gport, big), "payload_too_large", "4096")
    # HTTP is served too, on the address the flags give (the harness's --listen)
    assert srv.queue("q1")["messages"] == 1


def test_head_example_requires_its_credentials(start_sluice, workdir):
    srv = start_with_config(start_sluice, workdir, HEAD_EXAMPLE, "--gmq-listen", "127.0.0.1:0")
    port = g.gmq_port(srv)
    g.assert_refused(g.call(port, g.request("L", "q")), "unauthorized", "requires GMQ credentials")
    g.assert_refused(g.call(port, g.request("L", "q", user="gmqserver", password="wrong")),
                     "unauthorized", "do not match")
    g.assert_refused(g.call(port, g.request("L", "q", user="GMQSERVER",
                                            password="thisismyverysecureTCPserverpassword")),
                     "unauthorized")
    # the hex of the tokens is compared case-insensitively, as GMQ did
    req = g.request("L", "q", user="gmqserver", password="thisismyverysecureTCPserverpassword")
    tok = g.token("gmqserver")
    req = req.replace(tok.encode(), tok.upper().encode())
    assert g.reply(g.call(port, req))["confirmation"] == "Y"


def test_log_path_sends_the_log_to_that_file(sluice_bin, workdir):
    logdir = workdir / "logs"
    logdir.mkdir()
    conf = write(workdir, "gmq.json", '{"network":{"port":"0","interface":"127.0.0.1"},'
                 '"queue":{"queue_type":1},"log":{"path":"%s/","name":"gmq.log"}}' % logdir)
    logfile = logdir / "gmq.log"
    logfile.write_text("an earlier run's line\n")
    p = subprocess.Popen([str(sluice_bin), "-f", str(conf), "--listen", "127.0.0.1:0"],
                         cwd=workdir, env=server_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        assert wait_until(lambda: "Listening on http://" in logfile.read_text(), timeout=10), \
            logfile.read_text()
        port = g.gmq_port_in(logfile.read_text())
        assert g.reply(g.call(port, g.request("P", "q", "eA==")))["confirmation"] == "Y"
        p.send_signal(signal.SIGTERM)
        assert p.wait(15) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out, err = p.communicate()
    text = logfile.read_text()
    assert text.startswith("an earlier run's line\n"), text  # appended, not overwritten (GMQ)
    assert "Received SIGTERM" in text and "Stopped." in text
    assert b"Listening on" not in err, err


def test_queue_type_3_keeps_messages_in_filesystem_path_across_restart_and_crash(
        start_sluice, restart_sluice, workdir):
    srv = start_with_config(start_sluice, workdir,
                            '{"network":{"port":"0","interface":"127.0.0.1"},'
                            '"queue":{"queue_type":3},"filesystem":{"path":"./gmqfs/"}}')
    assert "(storage: file)" in srv.stderr()
    port = g.gmq_port(srv)
    bodies = [b"kept 1", b"kept 2", b"kept 3"]
    for b in bodies:
        assert g.reply(g.call(port, g.request("P", "durable",
                                              base64.b64encode(b).decode())))["confirmation"] == "Y"
    assert (srv.workdir / "gmqfs" / "queues" / "durable").is_dir()
    assert srv.stop() == 0

    srv = restart_sluice(srv)
    port = g.gmq_port(srv)
    assert g.reply(g.call(port, g.request("L", "durable")))["payload"] == "3"
    assert base64.b64decode(g.reply(g.call(port, g.request("S", "durable")))["payload"]) == \
        bodies[0]
    srv.kill()  # a crash right after a pop was answered: it must not come back

    srv = restart_sluice(srv)
    port = g.gmq_port(srv)
    assert g.reply(g.call(port, g.request("L", "durable")))["payload"] == "2"
    got = [base64.b64decode(g.reply(g.call(port, g.request("S", "durable")))["payload"])
           for _ in range(3)]
    assert got == [bodies[1], bodies[2], b""]


BAD = [
    ('{"queue":{"queue_type":2},"database":{"vendor":"mysql","dsn":"gmq:x@(db:3306)/gmq"}}',
     "queue.queue_type 2 (database, vendor mysql) is not available yet"),
    ('{"network":{"port":4884},"queue":{"queue_type":1}}', "'network.port' must be a string"),
    ('{"network":{"prot":"tcp"},"queue":{"queue_type":1}}', "unknown key 'network.prot'"),
    ('{"netwrk":{},"queue":{"queue_type":1}}', "unknown key 'netwrk'"),
    ('{"network":{"port":"4884"}}', "queue.queue_type is missing"),
    ('{"queue":{"queue_type":9}}', "queue.queue_type: 9 is not 1"),
    ('{"network":{"protocol":"udp"},"queue":{"queue_type":1}}', "network.protocol: 'udp'"),
    # GMQ's own test/configuration/error_gmq_config.json: a missing comma, queue_type [""]
    ('{\n "network":{\n  "port":"4884"\n  "interface":""\n },\n "queue":{"queue_type":[""]}\n}',
     "not a valid GMQ JSON configuration"),
    ('{"queue":{"queue_type":[""]}}', "'queue.queue_type' must be an integer"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_gmq_config_stops_with_file_key_and_exit_2(run_sluiced, text, message):
    res = run_sluiced("--listen", "127.0.0.1:0", config=text)
    assert res.returncode == 2, res
    assert f"{res.config_path}: " in res.stderr, res
    assert message in res.stderr, res
    assert "Listening on" not in res.stderr


def test_flags_and_environment_override_the_json_file(start_sluice, workdir):
    srv = start_with_config(start_sluice, workdir, V13_EXAMPLE, "--gmq-listen", "127.0.0.1:0",
                            "--storage", "file")
    assert "(storage: file)" in srv.stderr()
    assert re.search(r"GMQ listening on 127\.0\.0\.1:\d+ \(tcp4\)", srv.stderr()), srv.stderr()
