"""Competing consumers under load: several publishers and several consumers of one group at once
(long-polling, leasing in batches, acking) see every message exactly once when no lease expires,
while a second group independently receives every message too."""

import threading

import requests

from sluice_harness import unb64

PUBLISHERS, PER_PUBLISHER, CONSUMERS = 4, 150, 4
TOTAL = PUBLISHERS * PER_PUBLISHER


def test_every_message_is_delivered_once_to_each_group(sluice):
    sluice.put_queue("load", status=201)
    sluice.put_group("load", "audit", status=201)
    errors, received, lock = [], {"default": [], "audit": []}, threading.Lock()

    def publisher(n):
        with requests.Session() as s:
            for i in range(PER_PUBLISHER):
                r = s.post(f"{sluice.url}/v1/queues/load/messages", data=b"%d-%d" % (n, i),
                           timeout=10)
                if r.status_code != 201:
                    errors.append(r.text)

    def consumer(group):
        with requests.Session() as s:
            while True:
                with lock:
                    if len(received[group]) >= TOTAL:
                        return
                r = s.get(f"{sluice.url}/v1/queues/load/messages",
                          params={"group": group, "max": "7", "wait": "1", "visibility": "30s"},
                          timeout=10)
                if r.status_code != 200:
                    errors.append(r.text)
                    return
                msgs = r.json()["messages"]
                if not msgs:
                    with lock:
                        if len(received[group]) >= TOTAL:
                            return
                    continue
                a = s.post(f"{sluice.url}/v1/queues/load/ack",
                           json={"receipts": [m["receipt"] for m in msgs]}, timeout=10)
                if a.status_code != 200 or a.json()["acked"] != len(msgs):
                    errors.append(a.text)
                with lock:
                    received[group] += [unb64(m["body"]) for m in msgs]

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(PUBLISHERS)]
    threads += [threading.Thread(target=consumer, args=("default",)) for _ in range(CONSUMERS)]
    threads += [threading.Thread(target=consumer, args=("audit",)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(40)
    assert not any(t.is_alive() for t in threads), "consumers did not finish"
    assert errors == []
    expected = sorted(b"%d-%d" % (n, i) for n in range(PUBLISHERS) for i in range(PER_PUBLISHER))
    for group in ("default", "audit"):
        assert sorted(received[group]) == expected, group  # each exactly once
    q = sluice.queue("load")
    assert q["messages"] == 0 and q["published"] == TOTAL and q["in_flight"] == 0


def test_each_publishers_messages_are_delivered_in_publish_order_to_one_consumer(sluice):
    sluice.put_queue("order", status=201)

    def publisher(n):
        with requests.Session() as s:
            for i in range(100):
                s.post(f"{sluice.url}/v1/queues/order/messages", data=b"%d-%d" % (n, i),
                       timeout=10)

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    msgs = sluice.lease("order", max=1000)
    assert len(msgs) == 300
    ids = [m["id"] for m in msgs]
    assert ids == sorted(ids)
    for n in range(3):
        mine = [unb64(m["body"]) for m in msgs if unb64(m["body"]).startswith(b"%d-" % n)]
        assert mine == [b"%d-%d" % (n, i) for i in range(100)]
