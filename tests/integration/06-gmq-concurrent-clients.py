"""200 GMQ clients at once (SEEDS-PROTOCOL.md §2.7: GMQ v1.3 crashed with "concurrent map writes"
at 200 parallel clients, and its shared channel could hand one client another's reply): every
client gets its own reply, every published message is popped exactly once, nothing is lost, and
the server is still healthy afterwards."""

import base64
import threading

import pytest

import gmq_client as g

N = 200


def run_all(fn, n=N):
    results, errors = [None] * n, []
    start = threading.Barrier(n)

    def worker(i):
        try:
            start.wait(10)
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors[:5]
    assert all(r is not None for r in results)
    return results


@pytest.mark.parametrize("storage", ["memory", "file"])
def test_200_concurrent_clients_each_get_their_own_reply(start_sluice, storage):
    srv = start_sluice("--storage", storage, "--gmq-listen", "127.0.0.1:0")
    port = g.gmq_port(srv)

    def body(i):
        return f"message {i} from client {i}".encode()

    def publish(i):
        payload = base64.b64encode(body(i)).decode()
        return payload, g.reply(g.call(port, g.request("P", "crowd", payload, user=f"c{i}",
                                                       password="p")))

    for i, (payload, r) in enumerate(run_all(publish)):
        assert r["confirmation"] == "Y", r
        assert r["payload"] == payload  # its own echo, not another client's
        assert r["auth"]["user"] == g.token(f"c{i}")

    assert g.reply(g.call(port, g.request("L", "crowd")))["payload"] == str(N)

    popped = run_all(lambda i: g.reply(g.call(port, g.request("S", "crowd"))))
    got = sorted(base64.b64decode(r["payload"]) for r in popped)
    assert got == sorted(body(i) for i in range(N))  # each exactly once
    assert g.reply(g.call(port, g.request("L", "crowd")))["payload"] == "0"
    q = srv.queue("crowd")
    assert q["messages"] == 0 and q["in_flight"] == 0, q
    assert srv.alive()


def test_concurrent_mixed_operations_on_many_queues(start_sluice):
    srv = start_sluice("--storage", "memory", "--gmq-listen", "127.0.0.1:0")
    port = g.gmq_port(srv)

    def op(i):
        q = f"q{i % 10}"
        if i % 3 == 0:
            return g.reply(g.call(port, g.request("L", q)))
        if i % 3 == 1:
            return g.reply(g.call(port, g.request("P", q, "eA==")))
        return g.reply(g.call(port, g.request("SYNC", q)))

    for i, r in enumerate(run_all(op)):
        assert r["confirmation"] == "Y" and r["queue"] == f"q{i % 10}", r
    total = sum(int(g.reply(g.call(port, g.request("L", f"q{k}")))["payload"]) for k in range(10))
    assert total == len([i for i in range(N) if i % 3 == 1])
