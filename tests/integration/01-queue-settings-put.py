"""PUT /v1/queues/{q} with a settings body: every field is stored and shown (durations in their
largest exact unit), changing an existing queue answers 200, the settings take effect, and bad
bodies are refused (unknown field or bad value: invalid_parameter; not JSON: invalid_json)."""

import time

import pytest

from sluice_harness import assert_error

ALL_SETTINGS = {"visibility_timeout": "45s", "max_attempts": 3,
                "dead_letter_queue": "jobs.failed", "max_messages": 100000,
                "max_bytes": 1000000000, "max_age": "7d", "dedup_window": "10m",
                "max_in_flight_per_key": 4}


def test_put_with_every_setting_creates_queue_showing_them(sluice):
    r = sluice.put("/v1/queues/jobs", json=ALL_SETTINGS)
    assert r.status_code == 201, r.text
    for settings in (r.json()["settings"], sluice.queue("jobs")["settings"]):
        for k, v in ALL_SETTINGS.items():
            assert settings[k] == v, (k, settings)


def test_put_on_existing_queue_changes_only_given_settings_and_answers_200(sluice):
    sluice.publish("jobs", b"x")
    r = sluice.put("/v1/queues/jobs", json={"max_attempts": 7, "visibility_timeout": "2m"})
    assert r.status_code == 200, r.text
    s = sluice.queue("jobs")["settings"]
    assert s["max_attempts"] == 7 and s["visibility_timeout"] == "2m"
    assert s["dedup_window"] == "5m" and s["dead_letter_queue"] == "jobs.dlq"
    assert sluice.queue("jobs")["messages"] == 1  # changing settings keeps the messages


@pytest.mark.parametrize("given,shown", [
    ("90s", "90s"), ("120s", "2m"), ("1500ms", "1500ms"), ("2000ms", "2s"), ("24h", "1d"),
    ("60m", "1h"), (120, "2m"), (5, "5s"), ("7", "7s"), ("365d", "365d"),
])
def test_durations_are_shown_in_largest_exact_unit(sluice, given, shown):
    sluice.put_queue("d", status=201, visibility_timeout=given)
    assert sluice.queue("d")["settings"]["visibility_timeout"] == shown


def test_empty_dead_letter_queue_disables_dead_lettering_setting(sluice):
    sluice.put_queue("nodlq", status=201, dead_letter_queue="")
    assert sluice.queue("nodlq")["settings"]["dead_letter_queue"] == ""


def test_visibility_timeout_setting_is_the_default_lease(sluice):
    sluice.put_queue("v", status=201, visibility_timeout="200ms")
    sluice.publish("v", b"m")
    [m] = sluice.lease("v")
    assert sluice.lease("v") == []  # still leased
    time.sleep(0.35)
    [again] = sluice.lease("v")
    assert again["id"] == m["id"] and again["attempts"] == 2


def test_empty_body_and_empty_object_create_with_defaults(sluice):
    assert sluice.put("/v1/queues/a").status_code == 201
    r = sluice.put("/v1/queues/b", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert sluice.queue("b")["settings"]["max_attempts"] == 10


@pytest.mark.parametrize("field,value", [
    ("visibility_timeout", "fast"), ("visibility_timeout", "10x"), ("visibility_timeout", "-1s"),
    ("visibility_timeout", "1.5s"), ("visibility_timeout", "366d"), ("max_age", "soon"),
    ("dedup_window", ""), ("max_attempts", -1), ("max_messages", -5), ("max_bytes", -1),
    ("max_in_flight_per_key", -1),
])
def test_bad_setting_values_are_400_invalid_parameter_naming_the_field(sluice, field, value):
    r = sluice.put("/v1/queues/s", json={field: value})
    assert_error(r, 400, "invalid_parameter", mention=field)
    assert_error(sluice.get("/v1/queues/s"), 404, "queue_not_found")  # nothing created


def test_bad_setting_on_existing_queue_changes_nothing(sluice):
    sluice.put_queue("s", status=201, max_attempts=4)
    r = sluice.put("/v1/queues/s", json={"max_attempts": 6, "visibility_timeout": "nope"})
    assert_error(r, 400, "invalid_parameter", mention="visibility_timeout")
    assert sluice.queue("s")["settings"]["max_attempts"] == 4


def test_unknown_field_is_400_invalid_parameter(sluice):
    r = sluice.put("/v1/queues/s", json={"visibility": "30s"})
    assert_error(r, 400, "invalid_parameter", mention="visibility")


@pytest.mark.parametrize("field,value", [
    ("max_attempts", "ten"), ("max_messages", [1]), ("visibility_timeout", {"s": 1}),
    ("dead_letter_queue", 5),
])
def test_wrong_json_type_is_400(sluice, field, value):
    assert_error(sluice.put("/v1/queues/s", json={field: value}), 400,
                 ("invalid_parameter", "invalid_json"))


@pytest.mark.parametrize("body", [b"{", b"not json", b"[1,2]", b"\"str\"", b"{\"a\":1,}"])
def test_malformed_body_is_400_invalid_json(sluice, body):
    r = sluice.put("/v1/queues/s", data=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


def test_invalid_dead_letter_queue_name_is_rejected(sluice):
    r = sluice.put("/v1/queues/s", json={"dead_letter_queue": "bad name!"})
    assert_error(r, 400, ("invalid_parameter", "invalid_name"))


def test_settings_put_with_non_json_content_type_is_415(sluice):
    r = sluice.put("/v1/queues/s", data=b'{"max_attempts": 3}',
                   headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type")


def test_settings_put_accepts_curl_form_content_type(sluice):
    r = sluice.put("/v1/queues/s", data=b'{"max_attempts": 3}',
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 201, r.text
    assert sluice.queue("s")["settings"]["max_attempts"] == 3
