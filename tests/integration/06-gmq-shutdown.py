"""Graceful shutdown with the GMQ listener (docs/gmq.md, docs/operations.md): on SIGTERM it stops
accepting with the HTTP server; a connection that has sent nothing is told shutting_down; a
request in progress is finished and answered before the server exits 0 (within
shutdown_timeout; past it the connection is closed and the exit is still 0), and what it
published is kept."""

import base64
import signal
import socket
import threading
import time

import gmq_client as g


def test_request_in_progress_is_finished_and_new_connections_are_refused(start_sluice,
                                                                        restart_sluice):
    srv = start_sluice("--storage", "file", "--gmq-listen", "127.0.0.1:0")
    port = g.gmq_port(srv)
    req = g.request("P", "late", base64.b64encode(b"sent across the SIGTERM").decode())
    busy = socket.create_connection(("127.0.0.1", port), timeout=10)
    busy.sendall(req[:20])
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    time.sleep(0.2)  # both accepted

    done = {}
    stopper = threading.Thread(target=lambda: done.update(code=srv.stop(signal.SIGTERM)),
                               daemon=True)
    stopper.start()
    # the idle connection is told, at once
    g.assert_refused(idle.recv(4096), "shutting_down")
    idle.close()
    # no new connections
    refused = False
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            refused = True
            break
        time.sleep(0.02)
    assert refused, "the GMQ listener still accepts after SIGTERM"
    assert stopper.is_alive(), "the server exited with a GMQ request in progress"
    busy.sendall(req[20:])
    reply = b""
    while True:
        part = busy.recv(4096)
        if not part:
            break
        reply += part
    busy.close()
    assert g.reply(reply)["confirmation"] == "Y", reply
    stopper.join(15)
    assert done.get("code") == 0, srv.stderr()

    srv = restart_sluice(srv)
    port = g.gmq_port(srv)
    got = g.reply(g.call(port, g.request("S", "late")))["payload"]
    assert base64.b64decode(got) == b"sent across the SIGTERM"


def test_a_request_that_never_completes_does_not_hold_shutdown_past_its_timeout(start_sluice):
    srv = start_sluice("--storage", "memory", "--gmq-listen", "127.0.0.1:0",
                       "--shutdown-timeout", "500ms", "--gmq-timeout", "30s")
    port = g.gmq_port(srv)
    stuck = socket.create_connection(("127.0.0.1", port), timeout=10)
    stuck.sendall(b'{"operation":"P"')
    time.sleep(0.2)
    t0 = time.monotonic()
    assert srv.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 5
    assert "Shutdown timeout" in srv.stderr()
    try:  # the server closed it without an answer (nothing of the request was usable)
        assert stuck.recv(4096) == b""
    except ConnectionResetError:
        pass
    stuck.close()
