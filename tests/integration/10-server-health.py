"""Health endpoints: GET /healthz answers 200 {"status": "ok"} while the process runs, GET /readyz
200 {"status": "ready"} when storage is open and the server is not draining."""

import requests


def test_healthz_is_ok(sluice):
    r = sluice.get("/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_readyz_is_ready(sluice):
    r = sluice.get("/readyz")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "ready"}


def test_health_endpoints_answer_while_long_polls_are_parked(sluice):
    import threading
    sluice.put_queue("q", status=201)
    parked = [threading.Thread(target=requests.get, daemon=True,
                               args=(sluice.url + "/v1/queues/q/messages",),
                               kwargs={"params": {"wait": "2"}, "timeout": 10})
              for _ in range(10)]
    for t in parked:
        t.start()
    for path, body in (("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})):
        r = requests.get(sluice.url + path, timeout=1)
        assert r.status_code == 200 and r.json() == body
    for t in parked:
        t.join(5)


def test_health_on_a_keep_alive_connection_repeatedly(sluice):
    with sluice.connect() as c:
        for _ in range(5):
            c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = c.read_response()
            assert resp.status == 200 and resp.json() == {"status": "ok"}


def test_health_over_http_1_0(sluice):
    with sluice.connect() as c:
        c.send(b"GET /readyz HTTP/1.0\r\n\r\n")
        resp = c.read_response()
        assert resp.status == 200 and resp.json() == {"status": "ready"}
