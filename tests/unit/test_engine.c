/*
 * test_engine.c — the queue engine (src/engine.c) against its contract (engine.h, docs/api.md,
 * SPEC §2): queues and names, leases, acks, releases and undo, redelivery and dead letters,
 * redrive, consumer groups, delays and TTL, ordering keys, idempotency, retention, purge and
 * delete, long-poll waiters, peek, the counters of queue and group info, and a randomized run
 * checked against a small model kept here.
 *
 * Time is a fake clock (clock_now) that tests move with advance(), which also runs the engine's
 * timers. Every test runs in its own process (Check forks) and frees the engine and every message
 * reference it got, so ASan/LSan (make SANITIZE=1 unit) can check the engine's own memory.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dur.h"
#include "engine.h"
#include "msg.h"
#include "pool.h"

/* ---------------------------------------------------------------- fixture and helpers */

#define T0 INT64_C(1700000000000) /* the fake clock's start, ms since the epoch */
#define VIS 30000                 /* the default visibility of the tests' engines */

static int64_t clock_now;
static pool_t pool; /* for info structs; emptied after each test */

static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return clock_now;
}

static void setup(void)
{
    clock_now = T0;
    pool_init(&pool);
}

static void teardown(void)
{
    pool_cleanup(&pool);
}

static engine_settings_t base_settings(void)
{
    engine_settings_t s;
    memset(&s, 0, sizeof s);
    s.visibility_ms = VIS;
    s.max_attempts = 10;
    s.max_in_flight_per_key = 1;
    s.dedup_ms = 300000;
    return s;
}

static engine_t *engine_with(const engine_settings_t *s, uint32_t max_queues)
{
    engine_config_t cfg = {.defaults = *s, .max_queues = max_queues, .clock = fake_clock};
    engine_t *e = engine_new(&cfg);
    ck_assert_ptr_nonnull(e);
    return e;
}

static engine_t *new_engine(void)
{
    engine_settings_t s = base_settings();
    return engine_with(&s, 100);
}

/* Moves the fake clock forward and fires every timer that is due. */
static void advance(engine_t *e, int64_t ms)
{
    clock_now += ms;
    engine_run_timers(e);
}

static msg_t *make_msg(const char *text, const char *key)
{
    return msg_new(text, strlen(text), key, key ? strlen(key) : 0, NULL, 0);
}

static uint64_t publish_msg(engine_t *e, const char *q, msg_t *m, int64_t deliver_at, int64_t ttl)
{
    engine_pub_t p = {.msg = m, .deliver_at = deliver_at, .ttl_ms = ttl};
    ck_assert_int_eq(engine_publish(e, q, &p, 1), 0);
    ck_assert(!p.duplicate);
    return p.id;
}

static uint64_t publish_text(engine_t *e, const char *q, const char *text)
{
    return publish_msg(e, q, make_msg(text, NULL), 0, 0);
}

static uint64_t publish_keyed(engine_t *e, const char *q, const char *text, const char *key)
{
    return publish_msg(e, q, make_msg(text, key), 0, 0);
}

static uint64_t publish_delayed(engine_t *e, const char *q, const char *text, int64_t delay)
{
    return publish_msg(e, q, make_msg(text, NULL), clock_now + delay, 0);
}

/* Publishes with an idempotency key; returns the id and sets *dup. */
static uint64_t publish_idem(engine_t *e, const char *q, const char *text, const char *key,
                             bool *dup)
{
    engine_pub_t p = {.msg = make_msg(text, NULL), .idem_key = key, .idem_len = strlen(key)};
    ck_assert_int_eq(engine_publish(e, q, &p, 1), 0);
    *dup = p.duplicate;
    return p.id;
}

/* What a test keeps of one lease: the message reference is dropped at once. */
typedef struct got {
    uint64_t id;
    uint32_t attempts;
    char receipt[ENGINE_RECEIPT_LEN];
    char body[64];
} got_t;

static void got_fill(got_t *g, engine_lease_t *l)
{
    g->id = l->msg->id;
    g->attempts = l->attempts;
    memcpy(g->receipt, l->receipt, sizeof g->receipt);
    size_t len = l->msg->len < sizeof g->body - 1 ? l->msg->len : sizeof g->body - 1;
    memcpy(g->body, msg_body(l->msg), len);
    g->body[len] = '\0';
    msg_unref(l->msg);
}

/* Leases up to max messages of group g (visibility: the queue's) into out; returns how many. */
static size_t take_n(engine_t *e, const char *q, const char *g, size_t max, got_t *out)
{
    engine_lease_t *l = calloc(max, sizeof *l);
    size_t n = 12345;
    ck_assert_int_eq(engine_lease(e, q, g, max, 0, -1, l, &n), 0);
    ck_assert_uint_le(n, max);
    for (size_t i = 0; i < n; i++)
        got_fill(&out[i], &l[i]);
    free(l);
    return n;
}

/* Leases one message of group g; asserts there is one. */
static got_t take(engine_t *e, const char *q, const char *g)
{
    got_t got;
    ck_assert_uint_eq(take_n(e, q, g, 1, &got), 1);
    return got;
}

/* Asserts that group g has nothing to lease now. */
static void take_none(engine_t *e, const char *q, const char *g)
{
    got_t got[4];
    ck_assert_uint_eq(take_n(e, q, g, 4, got), 0);
}

static void ack_ok(engine_t *e, const char *q, const char *receipt)
{
    ck_assert_int_eq(engine_ack(e, q, receipt), 0);
}

static void ack_dead(engine_t *e, const char *q, const char *receipt)
{
    ck_assert_int_eq(engine_ack(e, q, receipt), SL_ENORECEIPT);
}

static engine_queue_info_t qinfo(engine_t *e, const char *q)
{
    engine_queue_info_t i;
    ck_assert_int_eq(engine_queue_info(e, q, &pool, &i), 0);
    return i;
}

static engine_group_info_t ginfo(engine_t *e, const char *q, const char *g)
{
    engine_group_info_t i;
    ck_assert_int_eq(engine_group_info(e, q, g, &pool, &i), 0);
    return i;
}

static void group_add(engine_t *e, const char *q, const char *g, bool from_latest)
{
    bool created = false;
    engine_group_opts_t o = {.from_latest = from_latest};
    ck_assert_int_eq(engine_group_put(e, q, g, &o, 0, &created), 0);
    ck_assert(created);
}

static void queue_set(engine_t *e, const char *q, const engine_settings_t *s, unsigned mask)
{
    bool created;
    ck_assert_int_eq(engine_queue_put(e, q, s, mask, &created), 0);
}

/* Returns the state of message id as group g sees it (peek), or -1 when peek does not list it;
 * *item gets its attempts and until (msg cleared). */
static int state_of(engine_t *e, const char *q, const char *g, uint64_t id,
                    engine_peek_item_t *item)
{
    engine_peek_item_t it;
    size_t n;
    bool more;
    ck_assert_int_eq(engine_peek(e, q, g, id - 1, 1, &it, &n, &more), 0);
    if (n == 0)
        return -1;
    uint64_t got = it.msg->id;
    msg_unref(it.msg);
    it.msg = NULL;
    if (item)
        *item = it;
    return got == id ? it.state : -1;
}

/* Peeks one message of queue q (default group) at id and returns its reference. */
static msg_t *peek_msg(engine_t *e, const char *q, uint64_t id)
{
    engine_peek_item_t it;
    size_t n;
    bool more;
    ck_assert_int_eq(engine_peek(e, q, "default", id - 1, 1, &it, &n, &more), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(it.msg->id, id);
    return it.msg;
}

/* Whether attribute name of m is exactly value. */
static bool attr_is(const msg_t *m, const char *name, const char *value)
{
    size_t len;
    const char *v = msg_attr_find(m, name, &len);
    return v && len == strlen(value) && memcmp(v, value, len) == 0;
}

/* Returns attribute name of m as a string in the pool, or NULL. */
static const char *attr_str(const msg_t *m, const char *name)
{
    size_t len;
    const char *v = msg_attr_find(m, name, &len);
    return v ? pool_strndup(&pool, v, len) : NULL;
}

/* ---------------------------------------------------------------- queues and names */

START_TEST(test_engine_expired_message_on_the_retry_list_is_never_leased)
{
    /* fuzz finding: only the cursor checked expiry; an undone lease put the message on the retry
     * list, and when its TTL ended before the timer ran, the next lease handed it out. */
    engine_t *e = new_engine();
    msg_t *m = make_msg("brief", NULL);
    publish_msg(e, "jobs", m, 0, 100);
    got_t g = take(e, "jobs", "default");
    ck_assert_int_eq(engine_undo(e, "jobs", g.receipt), 0);
    clock_now += 200; /* expired, and no timer has run */
    take_none(e, "jobs", "default");
    ck_assert_uint_eq(qinfo(e, "jobs").expired, 1);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_expired_keyed_message_waiting_in_its_lane_is_never_leased)
{
    engine_t *e = new_engine();
    publish_keyed(e, "jobs", "k1", "k");
    msg_t *m = make_msg("k2", "k");
    publish_msg(e, "jobs", m, 0, 100);
    got_t g[2];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1); /* k2 waits behind k1 */
    ack_ok(e, "jobs", g[0].receipt);
    clock_now += 200;
    take_none(e, "jobs", "default");
    ck_assert_uint_eq(qinfo(e, "jobs").expired, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_shortened_dedup_window_applies_to_keys_published_after)
{
    /* fuzz finding: keys expired in publish order, so after the window was shortened a key
     * published later stayed a duplicate until older keys with the long window expired. */
    engine_t *e = new_engine();
    bool dup;
    publish_idem(e, "jobs", "old", "a", &dup);
    engine_settings_t s = base_settings();
    s.dedup_ms = 1000;
    queue_set(e, "jobs", &s, ENGINE_SET_DEDUP);
    uint64_t first = publish_idem(e, "jobs", "one", "b", &dup);
    clock_now += 2000;
    uint64_t second = publish_idem(e, "jobs", "two", "b", &dup);
    ck_assert(!dup);
    ck_assert_uint_gt(second, first);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_name_valid_accepts_the_grammar_and_nothing_else)
{
    char longest[ENGINE_NAME_MAX + 1];
    memset(longest, 'a', sizeof longest);
    ck_assert(engine_name_valid("jobs", 4));
    ck_assert(engine_name_valid("a", 1));
    ck_assert(engine_name_valid("0", 1));
    ck_assert(engine_name_valid("Jobs.v2_x-y", 11));
    ck_assert(engine_name_valid("a...", 4));
    ck_assert(engine_name_valid(longest, ENGINE_NAME_MAX));
    ck_assert(!engine_name_valid(longest, ENGINE_NAME_MAX + 1));
    ck_assert(!engine_name_valid("", 0));
    ck_assert(!engine_name_valid(".jobs", 5));
    ck_assert(!engine_name_valid("-jobs", 5));
    ck_assert(!engine_name_valid("_jobs", 5));
    ck_assert(!engine_name_valid("jo/bs", 5));
    ck_assert(!engine_name_valid("jo bs", 5));
    ck_assert(!engine_name_valid("jobs:", 5));
    ck_assert(!engine_name_valid("j\xc3\xa9", 3));
    ck_assert(!engine_name_valid("ab\0c", 4)); /* the length counts, not the NUL */
    ck_assert(engine_name_valid("ab\0c", 2));
}
END_TEST

START_TEST(test_engine_publish_with_an_invalid_name_is_ename_and_stores_nothing)
{
    engine_t *e = new_engine();
    const char *bad[] = {"", ".x", "a/b", "a b", "ä"};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        msg_t *m = make_msg("x", NULL);
        engine_pub_t p = {.msg = m};
        ck_assert_int_eq(engine_publish(e, bad[i], &p, 1), SL_ENAME);
        ck_assert_uint_eq(m->refs, 1); /* the caller keeps its reference */
        msg_unref(m);
    }
    bool created;
    engine_settings_t s = base_settings();
    ck_assert_int_eq(engine_queue_put(e, "a/b", &s, 0, &created), SL_ENAME);
    ck_assert_uint_eq(engine_queue_count(e), 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_publish_creates_the_queue_with_a_default_group)
{
    engine_t *e = new_engine();
    ck_assert_int_eq(engine_queue_info(e, "jobs", &pool, &(engine_queue_info_t){0}), SL_ENOQUEUE);
    clock_now += 5;
    publish_text(e, "jobs", "hello");
    ck_assert_uint_eq(engine_queue_count(e), 1);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_str_eq(i.name, "jobs");
    ck_assert_int_eq(i.created_at, T0 + 5);
    ck_assert_uint_eq(i.messages, 1);
    ck_assert_uint_eq(i.bytes, 5);
    ck_assert_uint_eq(i.published, 1);
    ck_assert_uint_eq(i.ngroups, 1);
    ck_assert_str_eq(i.groups[0].name, ENGINE_DEFAULT_GROUP);
    ck_assert_str_eq(i.settings.dlq, "jobs.dlq");
    ck_assert_int_eq(i.settings.visibility_ms, VIS);
    got_t g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "hello");
    ck_assert_uint_eq(g.attempts, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_publish_ids_strictly_increase_from_one_per_queue)
{
    engine_t *e = new_engine();
    for (uint64_t i = 1; i <= 5; i++)
        ck_assert_uint_eq(publish_text(e, "a", "x"), i);
    ck_assert_uint_eq(publish_text(e, "b", "x"), 1); /* ids are per queue */
    /* ids keep increasing after messages leave: acked, purged, delayed or batched */
    got_t g = take(e, "a", "default");
    ack_ok(e, "a", g.receipt);
    uint64_t purged;
    ck_assert_int_eq(engine_queue_purge(e, "a", &purged), 0);
    ck_assert_uint_eq(publish_delayed(e, "a", "d", 1000), 6);
    engine_pub_t batch[3];
    for (int i = 0; i < 3; i++)
        batch[i] = (engine_pub_t){.msg = make_msg("b", NULL)};
    ck_assert_int_eq(engine_publish(e, "a", batch, 3), 0);
    ck_assert_uint_eq(batch[0].id, 7);
    ck_assert_uint_eq(batch[1].id, 8);
    ck_assert_uint_eq(batch[2].id, 9);
    ck_assert_uint_eq(publish_text(e, "a", "x"), 10);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_new_rejects_an_invalid_config)
{
    engine_settings_t s = base_settings();
    s.max_in_flight_per_key = 0;
    engine_config_t cfg = {.defaults = s, .max_queues = 10, .clock = fake_clock};
    ck_assert_ptr_null(engine_new(&cfg));
    cfg.defaults.max_in_flight_per_key = 1;
    cfg.max_queues = 0;
    ck_assert_ptr_null(engine_new(&cfg));
    engine_free(NULL);
}
END_TEST

START_TEST(test_engine_max_queues_refuses_another_queue_with_etoomany)
{
    engine_settings_t s = base_settings();
    engine_t *e = engine_with(&s, 2);
    publish_text(e, "a", "x");
    queue_set(e, "b", &s, 0);
    msg_t *m = make_msg("x", NULL);
    engine_pub_t p = {.msg = m};
    ck_assert_int_eq(engine_publish(e, "c", &p, 1), SL_ETOOMANY);
    ck_assert_uint_eq(m->refs, 1);
    msg_unref(m);
    bool created;
    ck_assert_int_eq(engine_queue_put(e, "c", &s, 0, &created), SL_ETOOMANY);
    ck_assert_uint_eq(engine_queue_count(e), 2);
    publish_text(e, "a", "existing queues still take messages");
    ck_assert_int_eq(engine_queue_delete(e, "b"), 0);
    publish_text(e, "c", "room again");
    ck_assert_uint_eq(engine_queue_count(e), 2);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_unknown_queue_and_group_are_reported)
{
    engine_t *e = new_engine();
    engine_lease_t l;
    size_t n = 7;
    ck_assert_int_eq(engine_lease(e, "nope", "default", 1, 0, -1, &l, &n), SL_ENOQUEUE);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(engine_ack(e, "nope", "1-1-1"), SL_ENOQUEUE);
    ck_assert_int_eq(engine_release(e, "nope", "1-1-1", 0, NULL), SL_ENOQUEUE);
    ck_assert_int_eq(engine_undo(e, "nope", "1-1-1"), SL_ENOQUEUE);
    ck_assert_int_eq(engine_queue_delete(e, "nope"), SL_ENOQUEUE);
    uint64_t count;
    ck_assert_int_eq(engine_queue_purge(e, "nope", &count), SL_ENOQUEUE);
    bool created;
    ck_assert_int_eq(engine_group_put(e, "nope", "g", NULL, 0, &created), SL_ENOQUEUE);
    uint64_t moved, nf[1];
    size_t nnot;
    ck_assert_int_eq(engine_redrive(e, "nope", NULL, 0, &moved, nf, &nnot), SL_ENOQUEUE);

    publish_text(e, "jobs", "x");
    ck_assert_int_eq(engine_lease(e, "jobs", "billing", 1, 0, -1, &l, &n), SL_ENOGROUP);
    ck_assert_uint_eq(n, 0);
    engine_group_info_t gi;
    ck_assert_int_eq(engine_group_info(e, "jobs", "billing", &pool, &gi), SL_ENOGROUP);
    ck_assert_int_eq(engine_group_delete(e, "jobs", "billing"), SL_ENOGROUP);
    engine_peek_item_t it;
    bool more;
    ck_assert_int_eq(engine_peek(e, "jobs", "billing", 0, 1, &it, &n, &more), SL_ENOGROUP);
    ck_assert_int_eq(engine_peek(e, "nope", "default", 0, 1, &it, &n, &more), SL_ENOQUEUE);
    engine_waiter_t w;
    ck_assert_int_eq(engine_wait(e, "jobs", "billing", &w, T0 + 10), SL_ENOGROUP);
    ck_assert_int_eq(engine_wait(e, "nope", "default", &w, T0 + 10), SL_ENOQUEUE);
    /* a lease for a missing group did not create it */
    ck_assert_uint_eq(qinfo(e, "jobs").ngroups, 1);
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- leases and acks */

START_TEST(test_engine_lease_then_ack_removes_the_message)
{
    engine_t *e = new_engine();
    uint64_t id = publish_text(e, "jobs", "work");
    got_t g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.id, id);
    ck_assert_str_eq(g.body, "work");
    ck_assert_uint_eq(g.attempts, 1);
    ck_assert_uint_eq(qinfo(e, "jobs").in_flight, 1);
    take_none(e, "jobs", "default"); /* leased: invisible to other consumers */
    ack_ok(e, "jobs", g.receipt);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 0);
    ck_assert_uint_eq(i.bytes, 0);
    ck_assert_uint_eq(i.in_flight, 0);
    ck_assert_uint_eq(i.acked, 1);
    advance(e, 10 * VIS); /* an acked message never comes back */
    take_none(e, "jobs", "default");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lease_hands_out_messages_in_publish_order_up_to_max)
{
    engine_t *e = new_engine();
    char body[8];
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "m%d", i);
        publish_text(e, "jobs", body);
    }
    got_t g[5];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 3, g), 3);
    ck_assert_str_eq(g[0].body, "m0");
    ck_assert_str_eq(g[1].body, "m1");
    ck_assert_str_eq(g[2].body, "m2");
    ck_assert_str_ne(g[0].receipt, g[1].receipt);
    ck_assert_uint_eq(take_n(e, "jobs", "default", 5, g), 2);
    ck_assert_str_eq(g[0].body, "m3");
    ck_assert_str_eq(g[1].body, "m4");
    ck_assert_uint_eq(take_n(e, "jobs", "default", 0, g), 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lease_never_takes_bodies_past_max_bytes)
{
    engine_t *e = new_engine();
    for (int i = 0; i < 5; i++)
        publish_text(e, "jobs", "0123456789"); /* 10 bytes each */
    engine_lease_t l[5];
    size_t n;
    ck_assert_int_eq(engine_lease(e, "jobs", "default", 5, 25, -1, l, &n), 0);
    ck_assert_uint_eq(n, 2); /* a third would make 30 > 25 */
    ck_assert_uint_eq(l[0].msg->id, 1);
    ck_assert_uint_eq(l[1].msg->id, 2);
    for (size_t i = 0; i < n; i++)
        msg_unref(l[i].msg);
    ck_assert_int_eq(engine_lease(e, "jobs", "default", 5, 0, -1, l, &n), 0);
    ck_assert_uint_eq(n, 3); /* 0: no byte limit; the one that did not fit comes first */
    ck_assert_uint_eq(l[0].msg->id, 3);
    for (size_t i = 0; i < n; i++)
        msg_unref(l[i].msg);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lease_always_returns_one_message_even_above_max_bytes)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a body of thirty-two bytes......");
    publish_text(e, "jobs", "second");
    engine_lease_t l[2];
    size_t n;
    ck_assert_int_eq(engine_lease(e, "jobs", "default", 2, 8, -1, l, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(l[0].msg->len, 32);
    msg_unref(l[0].msg);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lease_of_an_empty_queue_returns_nothing)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    take_none(e, "jobs", "default");
    publish_text(e, "jobs", "x");
    got_t g = take(e, "jobs", "default");
    ack_ok(e, "jobs", g.receipt);
    take_none(e, "jobs", "default");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_ack_of_a_used_receipt_is_enoreceipt)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "x");
    publish_text(e, "jobs", "y");
    got_t g = take(e, "jobs", "default");
    ack_ok(e, "jobs", g.receipt);
    ack_dead(e, "jobs", g.receipt);
    ck_assert_int_eq(engine_release(e, "jobs", g.receipt, 0, NULL), SL_ENORECEIPT);
    ck_assert_int_eq(engine_undo(e, "jobs", g.receipt), SL_ENORECEIPT);
    ck_assert_uint_eq(qinfo(e, "jobs").acked, 1);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_garbage_receipts_are_enoreceipt)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "x");
    got_t g = take(e, "jobs", "default");
    char upper[ENGINE_RECEIPT_LEN], trailing[ENGINE_RECEIPT_LEN + 2], other[ENGINE_RECEIPT_LEN];
    snprintf(trailing, sizeof trailing, "%s-", g.receipt);
    snprintf(upper, sizeof upper, "%s", g.receipt);
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    /* the same group and message with a lease number one off */
    snprintf(other, sizeof other, "%s", g.receipt);
    char *last = &other[strlen(other) - 1];
    *last = *last == '0' ? '1' : '0';
    const char *bad[] = {"",
                         "-",
                         "1",
                         "1-1",
                         "1--1",
                         "1-1-",
                         "x-1-1",
                         "1-1-1-1",
                         " 1-1-1",
                         "ffffffffffffffffff-1-1",
                         "1-1-fffffffffffffffff",
                         trailing,
                         other};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        ck_assert_msg(engine_ack(e, "jobs", bad[i]) == SL_ENORECEIPT, "receipt '%s'", bad[i]);
    if (strcmp(upper, g.receipt) != 0)
        ack_dead(e, "jobs", upper);
    ck_assert_int_eq(engine_release(e, "jobs", "zz", 0, NULL), SL_ENORECEIPT);
    ck_assert_int_eq(engine_undo(e, "jobs", "zz"), SL_ENORECEIPT);
    ack_ok(e, "jobs", g.receipt); /* the real lease was not disturbed */
    engine_free(e);
}
END_TEST

START_TEST(test_engine_receipt_of_another_queue_is_enoreceipt)
{
    engine_t *e = new_engine();
    publish_text(e, "a", "x");
    publish_text(e, "b", "x");
    got_t ga = take(e, "a", "default");
    got_t gb = take(e, "b", "default");
    /* same group number and message id in both queues: only the lease number differs */
    ack_dead(e, "b", ga.receipt);
    ack_dead(e, "a", gb.receipt);
    ack_ok(e, "a", ga.receipt);
    ack_ok(e, "b", gb.receipt);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lease_expiry_redelivers_with_attempts_plus_one)
{
    engine_t *e = new_engine();
    uint64_t id = publish_text(e, "jobs", "x");
    got_t g1 = take(e, "jobs", "default");
    advance(e, VIS - 1);
    take_none(e, "jobs", "default"); /* still leased */
    advance(e, 1);
    got_t g2 = take(e, "jobs", "default");
    ck_assert_uint_eq(g2.id, id);
    ck_assert_uint_eq(g2.attempts, 2);
    ck_assert_str_ne(g1.receipt, g2.receipt);
    ack_dead(e, "jobs", g1.receipt); /* the expired lease's receipt is dead */
    ck_assert_int_eq(engine_release(e, "jobs", g1.receipt, 0, NULL), SL_ENORECEIPT);
    advance(e, VIS);
    got_t g3 = take(e, "jobs", "default");
    ck_assert_uint_eq(g3.attempts, 3);
    ack_dead(e, "jobs", g2.receipt);
    ack_ok(e, "jobs", g3.receipt);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").delivered, 3);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").acked, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lease_visibility_argument_overrides_the_queue_setting)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    publish_text(e, "jobs", "b");
    engine_lease_t l;
    size_t n;
    ck_assert_int_eq(engine_lease(e, "jobs", "default", 1, 0, 500, &l, &n), 0);
    ck_assert_uint_eq(n, 1);
    msg_unref(l.msg);
    engine_settings_t s = base_settings();
    s.visibility_ms = 2000;
    queue_set(e, "jobs", &s, ENGINE_SET_VISIBILITY);
    got_t gb = take(e, "jobs", "default"); /* the queue's setting: 2000 */
    ck_assert_str_eq(gb.body, "b");
    advance(e, 500);
    got_t again = take(e, "jobs", "default");
    ck_assert_str_eq(again.body, "a");
    ck_assert_uint_eq(again.attempts, 2);
    advance(e, 1499);
    ack_ok(e, "jobs", gb.receipt); /* 1999 ms into a 2000 ms lease */
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lease_with_zero_visibility_expires_at_the_next_timer_run)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "x");
    engine_lease_t l;
    size_t n;
    ck_assert_int_eq(engine_lease(e, "jobs", "default", 1, 0, 0, &l, &n), 0);
    ck_assert_uint_eq(n, 1);
    msg_unref(l.msg);
    ck_assert_int_eq(engine_next_deadline(e), T0);
    advance(e, 0);
    got_t g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.attempts, 2);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_release_makes_the_message_visible_again_at_once)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "x");
    got_t g1 = take(e, "jobs", "default");
    ck_assert_int_eq(engine_release(e, "jobs", g1.receipt, 0, "boom"), 0);
    ack_dead(e, "jobs", g1.receipt);
    ck_assert_uint_eq(qinfo(e, "jobs").in_flight, 0);
    got_t g2 = take(e, "jobs", "default");
    ck_assert_uint_eq(g2.id, g1.id);
    ck_assert_uint_eq(g2.attempts, 2); /* a release counts the attempt */
    ack_ok(e, "jobs", g2.receipt);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_release_with_delay_hides_the_message_until_the_delay_ends)
{
    engine_t *e = new_engine();
    uint64_t id = publish_text(e, "jobs", "x");
    got_t g1 = take(e, "jobs", "default");
    ck_assert_int_eq(engine_release(e, "jobs", g1.receipt, 5000, NULL), 0);
    engine_peek_item_t it;
    ck_assert_int_eq(state_of(e, "jobs", "default", id, &it), ENGINE_RETRY_DELAY);
    ck_assert_str_eq(engine_state_name(it.state), "retry");
    ck_assert_int_eq(it.until, T0 + 5000);
    ck_assert_uint_eq(it.attempts, 1);
    engine_group_info_t gi = ginfo(e, "jobs", "default");
    ck_assert_uint_eq(gi.lag, 1);
    ck_assert_uint_eq(gi.ready, 0);
    ck_assert_uint_eq(gi.in_flight, 0);
    advance(e, 4999);
    take_none(e, "jobs", "default");
    advance(e, 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").ready, 1);
    got_t g2 = take(e, "jobs", "default");
    ck_assert_uint_eq(g2.id, id);
    ck_assert_uint_eq(g2.attempts, 2);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_undo_does_not_count_the_attempt_and_puts_the_message_first)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    publish_text(e, "jobs", "b");
    publish_text(e, "jobs", "c");
    got_t ga = take(e, "jobs", "default");
    got_t gb = take(e, "jobs", "default");
    /* b goes back to the retry line first; a, undone after it, still goes before it */
    ck_assert_int_eq(engine_release(e, "jobs", gb.receipt, 0, NULL), 0);
    ck_assert_int_eq(engine_undo(e, "jobs", ga.receipt), 0);
    ack_dead(e, "jobs", ga.receipt);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").delivered, 1); /* only b's counts */
    got_t g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "a");
    ck_assert_uint_eq(g.attempts, 1);
    g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "b");
    ck_assert_uint_eq(g.attempts, 2);
    g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "c");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_undo_never_dead_letters)
{
    engine_settings_t s = base_settings();
    s.max_attempts = 1;
    engine_t *e = engine_with(&s, 10);
    publish_text(e, "jobs", "x");
    for (int i = 0; i < 5; i++) {
        got_t g = take(e, "jobs", "default");
        ck_assert_uint_eq(g.attempts, 1);
        ck_assert_int_eq(engine_undo(e, "jobs", g.receipt), 0);
    }
    ck_assert_uint_eq(qinfo(e, "jobs").dead_lettered, 0);
    ck_assert_uint_eq(engine_queue_count(e), 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redeliveries_go_before_new_messages)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    publish_text(e, "jobs", "b");
    got_t ga = take(e, "jobs", "default");
    ck_assert_int_eq(engine_release(e, "jobs", ga.receipt, 0, NULL), 0);
    got_t g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "a");
    advance(e, VIS); /* a expires again */
    g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "a");
    ck_assert_uint_eq(g.attempts, 3);
    g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "b");
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- dead letters */

/* Leases the next message of group g and releases it (a failed attempt); returns the lease. */
static got_t fail_once(engine_t *e, const char *q, const char *g, const char *error)
{
    got_t got = take(e, q, g);
    ck_assert_int_eq(engine_release(e, q, got.receipt, 0, error), 0);
    return got;
}

static engine_t *engine_max_attempts(uint32_t max_attempts)
{
    engine_settings_t s = base_settings();
    s.max_attempts = max_attempts;
    return engine_with(&s, 100);
}

static msg_t *attr_msg(const char *text, const char *key, const char *name, const char *value)
{
    msg_attrs_buf_t b;
    msg_attrs_init(&b);
    ck_assert_int_eq(msg_attrs_add(&b, name, strlen(name), value, strlen(value)), 0);
    msg_t *m = msg_new(text, strlen(text), key, key ? strlen(key) : 0, b.buf, b.len);
    msg_attrs_cleanup(&b);
    return m;
}

START_TEST(test_engine_max_attempts_moves_the_message_to_the_dlq_with_its_origin)
{
    engine_t *e = engine_max_attempts(3);
    publish_text(e, "jobs", "first");
    uint64_t id =
        publish_msg(e, "jobs", attr_msg("payload", "k1", "content-type", "text/plain"), 0, 0);
    got_t g = take(e, "jobs", "default");
    ack_ok(e, "jobs", g.receipt); /* id 1 is done; id 2 will fail */
    for (uint32_t a = 1; a <= 3; a++) {
        ck_assert_uint_eq(engine_queue_count(e), 1); /* no dead-letter queue yet */
        g = take(e, "jobs", "default");
        ck_assert_uint_eq(g.id, id);
        ck_assert_uint_eq(g.attempts, a);
        advance(e, VIS);
    }
    take_none(e, "jobs", "default");
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 0);
    ck_assert_uint_eq(i.dead_lettered, 1);
    ck_assert_uint_eq(i.acked, 1);
    engine_queue_info_t d = qinfo(e, "jobs.dlq");
    ck_assert_uint_eq(d.messages, 1);
    ck_assert_uint_eq(d.published, 1);
    ck_assert_str_eq(d.settings.dlq, ""); /* a .dlq queue has none of its own */

    msg_t *m = peek_msg(e, "jobs.dlq", 1);
    ck_assert_uint_eq(m->len, 7);
    ck_assert_int_eq(memcmp(msg_body(m), "payload", 7), 0);
    ck_assert_uint_eq(m->key_len, 2);
    ck_assert_int_eq(memcmp(msg_key(m), "k1", 2), 0);
    ck_assert(attr_is(m, "content-type", "text/plain")); /* user attributes travel along */
    ck_assert(attr_is(m, "sluice-origin-queue", "jobs"));
    ck_assert(attr_is(m, "sluice-origin-group", "default"));
    ck_assert(attr_is(m, "sluice-origin-id", "2"));
    ck_assert(attr_is(m, "sluice-attempts", "3"));
    ck_assert(attr_is(m, "sluice-reason", "lease_expired"));
    char at[32], hist[256];
    snprintf(at, sizeof at, "%lld", (long long)(T0 + 3 * VIS));
    ck_assert(attr_is(m, "sluice-dead-lettered-at", at));
    snprintf(hist, sizeof hist, "%lld lease_expired\n%lld lease_expired\n%lld lease_expired",
             (long long)(T0 + VIS), (long long)(T0 + 2 * VIS), (long long)(T0 + 3 * VIS));
    ck_assert_str_eq(attr_str(m, "sluice-history"), hist);
    ck_assert_ptr_null(attr_str(m, "sluice-last-error")); /* no failure gave an error */
    msg_unref(m);

    got_t dg = take(e, "jobs.dlq", "default"); /* a dead letter is an ordinary message */
    ck_assert_str_eq(dg.body, "payload");
    ck_assert_uint_eq(dg.attempts, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_release_at_max_attempts_dead_letters_with_last_error_and_history)
{
    engine_t *e = engine_max_attempts(3);
    publish_text(e, "jobs", "x");
    advance(e, 100);
    fail_once(e, "jobs", "default", "e1");
    advance(e, 100);
    got_t g = take(e, "jobs", "default");
    advance(e, VIS); /* expires: no error given */
    advance(e, 100);
    g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.attempts, 3);
    ck_assert_int_eq(engine_release(e, "jobs", g.receipt, 5000, "e3\nwith a newline"), 0);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0); /* the delay does not matter any more */
    ck_assert_uint_eq(qinfo(e, "jobs").dead_lettered, 1);
    msg_t *m = peek_msg(e, "jobs.dlq", 1);
    ck_assert(attr_is(m, "sluice-reason", "released"));
    ck_assert(attr_is(m, "sluice-attempts", "3"));
    ck_assert(attr_is(m, "sluice-last-error", "e3\nwith a newline"));
    char hist[256];
    snprintf(hist, sizeof hist,
             "%lld released e1\n%lld lease_expired\n%lld released e3 with a newline",
             (long long)(T0 + 100), (long long)(T0 + 200 + VIS), (long long)(T0 + 300 + VIS));
    ck_assert_str_eq(attr_str(m, "sluice-history"), hist);
    msg_unref(m);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_dead_letter_history_keeps_the_last_ten_failures)
{
    engine_t *e = engine_max_attempts(12);
    publish_text(e, "jobs", "x");
    char err[16];
    for (int a = 1; a <= 12; a++) {
        snprintf(err, sizeof err, "e%d", a);
        advance(e, 1);
        fail_once(e, "jobs", "default", err);
    }
    msg_t *m = peek_msg(e, "jobs.dlq", 1);
    ck_assert(attr_is(m, "sluice-attempts", "12"));
    ck_assert(attr_is(m, "sluice-last-error", "e12"));
    const char *hist = attr_str(m, "sluice-history");
    ck_assert_ptr_nonnull(hist);
    char want[512];
    size_t len = 0;
    for (int a = 3; a <= 12; a++)
        len += (size_t)snprintf(want + len, sizeof want - len, "%s%lld released e%d",
                                a > 3 ? "\n" : "", (long long)(T0 + a), a);
    ck_assert_str_eq(hist, want);
    msg_unref(m);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_dead_letter_history_survives_long_errors)
{
    /* Ten failures, each with an error longer than a history entry keeps (127 bytes): the
     * history still travels with the dead letter, ending with the newest failure. */
    engine_t *e = engine_max_attempts(10);
    publish_text(e, "jobs", "x");
    char err[301];
    memset(err, 'r', 300);
    err[300] = '\0';
    for (int a = 1; a <= 10; a++) {
        advance(e, 1);
        err[0] = (char)('0' + a % 10);
        fail_once(e, "jobs", "default", err);
    }
    msg_t *m = peek_msg(e, "jobs.dlq", 1);
    ck_assert(attr_is(m, "sluice-attempts", "10"));
    const char *last = attr_str(m, "sluice-last-error");
    ck_assert_ptr_nonnull(last);
    ck_assert_uint_eq(strlen(last), 300);
    const char *hist = attr_str(m, "sluice-history");
    ck_assert_msg(hist != NULL, "sluice-history is missing from the dead letter");
    char newest[64];
    snprintf(newest, sizeof newest, "%lld released 0rrr", (long long)(T0 + 10));
    const char *nl = strrchr(hist, '\n');
    ck_assert_ptr_nonnull(strstr(nl ? nl + 1 : hist, newest));
    msg_unref(m);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_release_error_is_cut_at_error_max)
{
    engine_t *e = engine_max_attempts(1);
    publish_text(e, "jobs", "x");
    char err[ENGINE_ERROR_MAX + 100];
    memset(err, 'q', sizeof err - 1);
    err[sizeof err - 1] = '\0';
    fail_once(e, "jobs", "default", err);
    msg_t *m = peek_msg(e, "jobs.dlq", 1);
    const char *last = attr_str(m, "sluice-last-error");
    ck_assert_ptr_nonnull(last);
    ck_assert_uint_eq(strlen(last), ENGINE_ERROR_MAX);
    msg_unref(m);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_dead_letter_records_the_group_that_gave_up)
{
    engine_t *e = engine_max_attempts(1);
    publish_text(e, "jobs", "x");
    group_add(e, "jobs", "billing", false);
    got_t g = take(e, "jobs", "default");
    ack_ok(e, "jobs", g.receipt);
    fail_once(e, "jobs", "billing", "no");
    msg_t *m = peek_msg(e, "jobs.dlq", 1);
    ck_assert(attr_is(m, "sluice-origin-group", "billing"));
    ck_assert(attr_is(m, "sluice-origin-id", "1"));
    msg_unref(m);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_dead_letter_in_one_group_leaves_the_other_groups_alone)
{
    engine_t *e = engine_max_attempts(1);
    publish_text(e, "jobs", "x");
    group_add(e, "jobs", "billing", false);
    fail_once(e, "jobs", "default", NULL);
    ck_assert_uint_eq(qinfo(e, "jobs").dead_lettered, 1);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 1); /* billing still needs it */
    take_none(e, "jobs", "default");
    got_t g = take(e, "jobs", "billing");
    ck_assert_str_eq(g.body, "x");
    ck_assert_uint_eq(g.attempts, 1);
    ack_ok(e, "jobs", g.receipt);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_queue_ending_in_dlq_has_no_dead_letter_queue_by_default)
{
    engine_t *e = engine_max_attempts(2);
    publish_text(e, "work.dlq", "x");
    ck_assert_str_eq(qinfo(e, "work.dlq").settings.dlq, "");
    for (uint32_t a = 1; a <= 6; a++) {
        got_t g = take(e, "work.dlq", "default");
        ck_assert_uint_eq(g.attempts, a);
        advance(e, VIS);
    }
    ck_assert_uint_eq(engine_queue_count(e), 1);
    ck_assert_uint_eq(qinfo(e, "work.dlq").dead_lettered, 0);
    ck_assert_uint_eq(qinfo(e, "work.dlq").messages, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_default_dlq_is_none_when_its_name_would_be_too_long)
{
    engine_t *e = new_engine();
    char name[ENGINE_NAME_MAX + 1], want[ENGINE_NAME_MAX + 1];
    memset(name, 'n', sizeof name);
    name[ENGINE_NAME_MAX - 4] = '\0'; /* 124 characters: "<name>.dlq" is 128 */
    publish_text(e, name, "x");
    memcpy(want, name, ENGINE_NAME_MAX - 4);
    memcpy(want + ENGINE_NAME_MAX - 4, ".dlq", 5);
    ck_assert_str_eq(qinfo(e, name).settings.dlq, want);
    name[ENGINE_NAME_MAX - 4] = 'n';
    name[ENGINE_NAME_MAX - 3] = '\0'; /* 125 characters */
    publish_text(e, name, "x");
    ck_assert_str_eq(qinfo(e, name).settings.dlq, "");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_empty_dead_letter_queue_setting_redelivers_without_limit)
{
    engine_t *e = engine_max_attempts(2);
    engine_settings_t s = base_settings();
    s.dlq[0] = '\0';
    queue_set(e, "jobs", &s, ENGINE_SET_DLQ);
    ck_assert_str_eq(qinfo(e, "jobs").settings.dlq, "");
    publish_text(e, "jobs", "x");
    for (uint32_t a = 1; a <= 5; a++) {
        got_t g = fail_once(e, "jobs", "default", "again");
        ck_assert_uint_eq(g.attempts, a);
    }
    ck_assert_uint_eq(engine_queue_count(e), 1);
    ck_assert_uint_eq(qinfo(e, "jobs").dead_lettered, 0);
    ck_assert_uint_eq(take(e, "jobs", "default").attempts, 6);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_custom_dead_letter_queue_receives_the_dead_letters)
{
    engine_t *e = engine_max_attempts(1);
    engine_settings_t s = base_settings();
    snprintf(s.dlq, sizeof s.dlq, "failed");
    queue_set(e, "jobs", &s, ENGINE_SET_DLQ);
    ck_assert_str_eq(qinfo(e, "jobs").settings.dlq, "failed");
    publish_text(e, "jobs", "x");
    fail_once(e, "jobs", "default", NULL);
    ck_assert_int_eq(engine_queue_info(e, "jobs.dlq", &pool, &(engine_queue_info_t){0}),
                     SL_ENOQUEUE);
    ck_assert_uint_eq(qinfo(e, "failed").messages, 1);
    ck_assert_str_eq(qinfo(e, "failed").settings.dlq, "failed.dlq"); /* an ordinary queue */
    engine_free(e);
}
END_TEST

START_TEST(test_engine_queue_put_rejects_an_invalid_or_self_dead_letter_queue)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    bool created;
    snprintf(s.dlq, sizeof s.dlq, "bad/name");
    ck_assert_int_eq(engine_queue_put(e, "jobs", &s, ENGINE_SET_DLQ, &created), SL_EPARAM);
    snprintf(s.dlq, sizeof s.dlq, "jobs");
    ck_assert_int_eq(engine_queue_put(e, "jobs", &s, ENGINE_SET_DLQ, &created), SL_EPARAM);
    ck_assert_uint_eq(engine_queue_count(e), 0); /* nothing created by a refused put */
    s.max_in_flight_per_key = 0;
    ck_assert_int_eq(engine_queue_put(e, "jobs", &s, ENGINE_SET_KEY_IN_FLIGHT, &created),
                     SL_EPARAM);
    ck_assert_uint_eq(engine_queue_count(e), 0);
    ck_assert_int_eq(engine_queue_put(e, "jobs", &s, ENGINE_SET_VISIBILITY, &created), 0);
    ck_assert(created);
    ck_assert_int_eq(engine_queue_put(e, "jobs", &s, ENGINE_SET_VISIBILITY, &created), 0);
    ck_assert(!created);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_dead_letter_queue_that_cannot_be_created_means_redelivery)
{
    engine_settings_t s = base_settings();
    s.max_attempts = 1;
    engine_t *e = engine_with(&s, 1); /* no room for jobs.dlq */
    publish_text(e, "jobs", "x");
    fail_once(e, "jobs", "default", NULL);
    ck_assert_uint_eq(engine_queue_count(e), 1);
    ck_assert_uint_eq(qinfo(e, "jobs").dead_lettered, 0);
    got_t g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.attempts, 2);
    ack_ok(e, "jobs", g.receipt);
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- redrive */

static void redrive(engine_t *e, const char *q, const uint64_t *ids, size_t n, uint64_t moved,
                    size_t nnot_want)
{
    uint64_t got_moved = 99, nf[8];
    size_t nnot = 99;
    ck_assert_uint_le(n, 8);
    ck_assert_int_eq(engine_redrive(e, q, ids, n, &got_moved, nf, &nnot), 0);
    ck_assert_uint_eq(got_moved, moved);
    ck_assert_uint_eq(nnot, nnot_want);
}

START_TEST(test_engine_redrive_from_the_dlq_moves_every_dead_letter_home)
{
    engine_t *e = engine_max_attempts(1);
    publish_msg(e, "jobs", attr_msg("a", "k", "trace", "t1"), 0, 0);
    publish_text(e, "jobs", "b");
    publish_text(e, "jobs", "c");
    fail_once(e, "jobs", "default", "x");
    fail_once(e, "jobs", "default", "y");
    got_t gc = take(e, "jobs", "default");
    ck_assert_uint_eq(qinfo(e, "jobs.dlq").messages, 2);
    redrive(e, "jobs.dlq", NULL, 0, 2, 0);
    ck_assert_uint_eq(qinfo(e, "jobs.dlq").messages, 0);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 3);
    ck_assert_uint_eq(i.published, 5);
    /* new ids in the origin queue, attempts afresh, user attributes and key kept */
    msg_t *m = peek_msg(e, "jobs", 4);
    ck_assert_uint_eq(m->len, 1);
    ck_assert_int_eq(msg_body(m)[0], 'a');
    ck_assert_uint_eq(m->key_len, 1);
    ck_assert(attr_is(m, "trace", "t1"));
    ck_assert_ptr_null(attr_str(m, "sluice-origin-queue"));
    ck_assert_ptr_null(attr_str(m, "sluice-attempts"));
    msg_unref(m);
    got_t g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.id, 4);
    ck_assert_str_eq(g.body, "a");
    ck_assert_uint_eq(g.attempts, 1);
    g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.id, 5);
    ck_assert_str_eq(g.body, "b");
    ack_ok(e, "jobs", gc.receipt);
    redrive(e, "jobs.dlq", NULL, 0, 0, 0); /* nothing left */
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redrive_from_the_source_queue_moves_only_its_own_dead_letters)
{
    engine_t *e = engine_max_attempts(1);
    engine_settings_t s = base_settings();
    snprintf(s.dlq, sizeof s.dlq, "shared.dlq");
    queue_set(e, "jobs", &s, ENGINE_SET_DLQ);
    queue_set(e, "mail", &s, ENGINE_SET_DLQ);
    publish_text(e, "jobs", "j1");
    publish_text(e, "mail", "m1");
    publish_text(e, "jobs", "j2");
    fail_once(e, "jobs", "default", NULL);
    fail_once(e, "mail", "default", NULL);
    fail_once(e, "jobs", "default", NULL);
    ck_assert_uint_eq(qinfo(e, "shared.dlq").messages, 3);
    redrive(e, "jobs", NULL, 0, 2, 0);
    ck_assert_uint_eq(qinfo(e, "shared.dlq").messages, 1);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 2);
    ck_assert_uint_eq(qinfo(e, "mail").messages, 0);
    ck_assert_str_eq(take(e, "jobs", "default").body, "j1");
    ck_assert_str_eq(take(e, "jobs", "default").body, "j2");
    redrive(e, "shared.dlq", NULL, 0, 1, 0);
    ck_assert_str_eq(take(e, "mail", "default").body, "m1");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redrive_by_id_moves_those_and_reports_ids_not_found)
{
    engine_t *e = engine_max_attempts(1);
    engine_settings_t s = base_settings();
    snprintf(s.dlq, sizeof s.dlq, "shared.dlq");
    queue_set(e, "jobs", &s, ENGINE_SET_DLQ);
    queue_set(e, "mail", &s, ENGINE_SET_DLQ);
    for (int i = 0; i < 3; i++)
        publish_text(e, "jobs", i == 0 ? "a" : i == 1 ? "b" : "c");
    publish_text(e, "mail", "m");
    for (int i = 0; i < 3; i++)
        fail_once(e, "jobs", "default", NULL); /* shared.dlq ids 1..3 */
    fail_once(e, "mail", "default", NULL);     /* shared.dlq id 4 */
    uint64_t ids[] = {2, 99, 4}, moved, nf[3];
    size_t nnot;
    /* from the source queue: id 4 is a dead letter of mail, so not one of jobs' */
    ck_assert_int_eq(engine_redrive(e, "jobs", ids, 3, &moved, nf, &nnot), 0);
    ck_assert_uint_eq(moved, 1);
    ck_assert_uint_eq(nnot, 2);
    ck_assert_uint_eq(nf[0], 99);
    ck_assert_uint_eq(nf[1], 4);
    got_t g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "b");
    /* from the dead-letter queue itself: 2 is gone now, 4 moves */
    ck_assert_int_eq(engine_redrive(e, "shared.dlq", ids, 3, &moved, nf, &nnot), 0);
    ck_assert_uint_eq(moved, 1);
    ck_assert_uint_eq(nnot, 2);
    ck_assert_uint_eq(nf[0], 2);
    ck_assert_uint_eq(nf[1], 99);
    ck_assert_str_eq(take(e, "mail", "default").body, "m");
    ck_assert_uint_eq(qinfo(e, "shared.dlq").messages, 2);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redriven_message_goes_only_to_its_origin_group)
{
    engine_t *e = engine_max_attempts(1);
    publish_text(e, "jobs", "x");
    group_add(e, "jobs", "audit", false);
    got_t ga = take(e, "jobs", "audit");
    ack_ok(e, "jobs", ga.receipt);
    fail_once(e, "jobs", "default", NULL);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    redrive(e, "jobs", NULL, 0, 1, 0);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "audit").lag, 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 1);
    ck_assert_int_eq(state_of(e, "jobs", "audit", 2, NULL), -1); /* not audit's at all */
    take_none(e, "jobs", "audit");
    /* a group created from earliest now does not get it either */
    group_add(e, "jobs", "late", false);
    ck_assert_uint_eq(ginfo(e, "jobs", "late").lag, 0);
    take_none(e, "jobs", "late");
    got_t g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.id, 2);
    ck_assert_uint_eq(g.attempts, 1);
    ack_ok(e, "jobs", g.receipt);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redrive_for_a_deleted_group_goes_to_every_group)
{
    engine_t *e = engine_max_attempts(1);
    publish_text(e, "jobs", "x");
    group_add(e, "jobs", "billing", false);
    got_t g = take(e, "jobs", "default");
    ack_ok(e, "jobs", g.receipt);
    fail_once(e, "jobs", "billing", NULL);
    ck_assert_int_eq(engine_group_delete(e, "jobs", "billing"), 0);
    group_add(e, "jobs", "other", false);
    redrive(e, "jobs.dlq", NULL, 0, 1, 0);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 1);
    ck_assert_str_eq(take(e, "jobs", "default").body, "x");
    ck_assert_str_eq(take(e, "jobs", "other").body, "x");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redrive_recreates_a_deleted_origin_queue)
{
    engine_t *e = engine_max_attempts(1);
    publish_text(e, "jobs", "x");
    fail_once(e, "jobs", "default", NULL);
    ck_assert_int_eq(engine_queue_delete(e, "jobs"), 0);
    redrive(e, "jobs.dlq", NULL, 0, 1, 0);
    got_t g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "x");
    ck_assert_uint_eq(g.id, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redrive_of_an_empty_or_unrelated_queue_moves_nothing)
{
    engine_t *e = engine_max_attempts(1);
    publish_text(e, "jobs", "x");
    uint64_t ids[] = {1}, moved, nf[1];
    size_t nnot;
    ck_assert_int_eq(engine_redrive(e, "jobs", ids, 1, &moved, nf, &nnot), 0); /* no jobs.dlq */
    ck_assert_uint_eq(moved, 0);
    ck_assert_uint_eq(nnot, 1);
    ck_assert_uint_eq(nf[0], 1);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redrive_that_cannot_recreate_the_origin_queue_is_etoomany)
{
    engine_settings_t s = base_settings();
    s.max_attempts = 1;
    engine_t *e = engine_with(&s, 2);
    publish_text(e, "jobs", "x");
    fail_once(e, "jobs", "default", NULL);
    ck_assert_int_eq(engine_queue_delete(e, "jobs"), 0);
    publish_text(e, "other", "y"); /* takes the last queue slot */
    uint64_t moved = 7, nf[1];
    size_t nnot = 7;
    ck_assert_int_eq(engine_redrive(e, "jobs.dlq", NULL, 0, &moved, nf, &nnot), SL_ETOOMANY);
    ck_assert_uint_eq(moved, 0);
    ck_assert_uint_eq(qinfo(e, "jobs.dlq").messages, 1); /* the dead letter stays */
    ck_assert_uint_eq(engine_queue_count(e), 2);
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- consumer groups */

START_TEST(test_engine_every_group_receives_every_message)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    group_add(e, "jobs", "billing", false);
    group_add(e, "jobs", "audit", false);
    publish_text(e, "jobs", "a");
    publish_text(e, "jobs", "b");
    const char *groups[] = {"default", "billing", "audit"};
    for (size_t i = 0; i < 3; i++) {
        got_t g[3];
        ck_assert_uint_eq(take_n(e, "jobs", groups[i], 3, g), 2);
        ck_assert_str_eq(g[0].body, "a");
        ck_assert_str_eq(g[1].body, "b");
        ck_assert_uint_eq(g[0].attempts, 1);
        ack_ok(e, "jobs", g[0].receipt);
        ack_ok(e, "jobs", g[1].receipt);
        /* the message stays until the last group acks it */
        ck_assert_uint_eq(qinfo(e, "jobs").messages, i < 2 ? 2 : 0);
    }
    ck_assert_uint_eq(qinfo(e, "jobs").acked, 6);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_consumers_in_one_group_compete)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    publish_text(e, "jobs", "b");
    got_t c1 = take(e, "jobs", "default"); /* consumer 1 */
    got_t c2 = take(e, "jobs", "default"); /* consumer 2 */
    ck_assert_uint_ne(c1.id, c2.id);
    take_none(e, "jobs", "default");
    ack_ok(e, "jobs", c2.receipt);
    ack_ok(e, "jobs", c1.receipt);
    take_none(e, "jobs", "default");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_from_earliest_starts_at_the_oldest_retained_message)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    publish_text(e, "jobs", "b");
    publish_text(e, "jobs", "c");
    got_t g = take(e, "jobs", "default");
    ack_ok(e, "jobs", g.receipt); /* a is gone */
    take(e, "jobs", "default");   /* b is leased by default: still retained */
    clock_now += 7;
    group_add(e, "jobs", "late", false);
    engine_group_info_t gi = ginfo(e, "jobs", "late");
    ck_assert_uint_eq(gi.lag, 2);
    ck_assert_uint_eq(gi.ready, 2);
    ck_assert_int_eq(gi.created_at, T0 + 7);
    ck_assert_str_eq(take(e, "jobs", "late").body, "b");
    ck_assert_str_eq(take(e, "jobs", "late").body, "c");
    take_none(e, "jobs", "late");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_from_latest_starts_at_the_next_publish)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    publish_delayed(e, "jobs", "delayed before", 1000);
    group_add(e, "jobs", "live", true);
    ck_assert_uint_eq(ginfo(e, "jobs", "live").lag, 0);
    take_none(e, "jobs", "live");
    publish_text(e, "jobs", "b");
    advance(e, 1000);
    got_t g[3];
    ck_assert_uint_eq(take_n(e, "jobs", "live", 3, g), 1);
    ck_assert_str_eq(g[0].body, "b");
    ck_assert_uint_eq(take_n(e, "jobs", "default", 3, g), 3); /* a, b, delayed before */
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 3);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_put_of_an_existing_group_leaves_it_unchanged)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    group_add(e, "jobs", "g", true);
    bool created = true;
    ck_assert_int_eq(engine_group_put(e, "jobs", "g", NULL, 0, &created), 0);
    ck_assert(!created);
    ck_assert_uint_eq(ginfo(e, "jobs", "g").lag, 0); /* still from latest */
    engine_group_opts_t latest = {.from_latest = true, .max_in_flight = 3};
    ck_assert_int_eq(engine_group_put(e, "jobs", "default", &latest, 0, &created), 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").max_in_flight, 0); /* mask 0: nothing */
    ck_assert(!created);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 1);
    ck_assert_int_eq(engine_group_put(e, "jobs", "bad name", NULL, 0, &created), SL_ENAME);
    ck_assert_int_eq(engine_group_put(e, "jobs", "", NULL, 0, &created), SL_ENAME);
    ck_assert_uint_eq(qinfo(e, "jobs").ngroups, 2);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_delete_drops_its_claims_and_leases)
{
    engine_t *e = new_engine();
    for (int i = 0; i < 4; i++)
        publish_text(e, "jobs", "m");
    group_add(e, "jobs", "slow", false);
    got_t g[4];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 4, g), 4);
    for (int i = 0; i < 4; i++)
        ack_ok(e, "jobs", g[i].receipt);
    got_t s = take(e, "jobs", "slow"); /* slow holds one lease, lags on the rest */
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 4);
    ck_assert_uint_eq(qinfo(e, "jobs").in_flight, 1);
    publish_text(e, "jobs", "new"); /* default still needs this one */
    ck_assert_int_eq(engine_group_delete(e, "jobs", "slow"), 0);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 1);
    ck_assert_uint_eq(i.bytes, 3);
    ck_assert_uint_eq(i.in_flight, 0);
    ck_assert_uint_eq(i.ngroups, 1);
    ack_dead(e, "jobs", s.receipt);
    ck_assert_int_eq(engine_group_info(e, "jobs", "slow", &pool, &(engine_group_info_t){0}),
                     SL_ENOGROUP);
    ck_assert_str_eq(take(e, "jobs", "default").body, "new");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_delete_with_keyed_and_delayed_claims_frees_everything)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    group_add(e, "jobs", "g", false);
    publish_keyed(e, "jobs", "k1", "k");
    publish_keyed(e, "jobs", "k2", "k");
    publish_text(e, "jobs", "plain");
    publish_delayed(e, "jobs", "later", 1000);
    got_t g[3];
    ck_assert_uint_eq(take_n(e, "jobs", "g", 3, g), 2); /* k1 and plain; k2 waits */
    ck_assert_int_eq(engine_release(e, "jobs", g[1].receipt, 500, NULL), 0);
    ck_assert_uint_eq(take_n(e, "jobs", "default", 3, g), 2);
    ck_assert_int_eq(engine_group_delete(e, "jobs", "g"), 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 3);
    advance(e, 1000); /* the delayed message comes due for default only */
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 4);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 4);
    ck_assert_uint_eq(qinfo(e, "jobs").ngroups, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_default_group_cannot_be_deleted)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "x");
    ck_assert_int_eq(engine_group_delete(e, "jobs", "default"), SL_ECONFLICT);
    ck_assert_uint_eq(qinfo(e, "jobs").ngroups, 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 1);
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- delays and time to live */

START_TEST(test_engine_delayed_publish_is_invisible_until_due)
{
    engine_t *e = new_engine();
    uint64_t id = publish_delayed(e, "jobs", "later", 5000);
    publish_text(e, "jobs", "now");
    ck_assert_str_eq(take(e, "jobs", "default").body, "now");
    take_none(e, "jobs", "default");
    engine_peek_item_t it;
    ck_assert_int_eq(state_of(e, "jobs", "default", id, &it), ENGINE_DELAYED);
    ck_assert_int_eq(it.until, T0 + 5000);
    ck_assert_int_eq(engine_next_deadline(e), T0 + 5000);
    advance(e, 4999);
    take_none(e, "jobs", "default");
    advance(e, 1);
    got_t g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.id, id);
    ck_assert_str_eq(g.body, "later");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_run_timers_returns_the_next_deadline)
{
    engine_t *e = new_engine();
    ck_assert_int_eq(engine_run_timers(e), INT64_MAX);
    ck_assert_int_eq(engine_next_deadline(e), INT64_MAX);
    publish_delayed(e, "jobs", "a", 5000);
    publish_text(e, "jobs", "b");
    ck_assert_int_eq(engine_run_timers(e), T0 + 5000);
    take(e, "jobs", "default"); /* lease ends at T0 + VIS */
    ck_assert_int_eq(engine_next_deadline(e), T0 + 5000);
    clock_now += 5000;
    ck_assert_int_eq(engine_run_timers(e), T0 + VIS);
    ck_assert_uint_eq(qinfo(e, "jobs").delayed, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_deliver_at_in_the_past_is_visible_at_once)
{
    engine_t *e = new_engine();
    publish_msg(e, "jobs", make_msg("x", NULL), T0 - 1000, 0);
    publish_msg(e, "jobs", make_msg("y", NULL), T0, 0);
    ck_assert_uint_eq(qinfo(e, "jobs").delayed, 0);
    ck_assert_str_eq(take(e, "jobs", "default").body, "x");
    ck_assert_str_eq(take(e, "jobs", "default").body, "y");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_delayed_message_counts_in_delayed_and_not_in_lag_until_due)
{
    engine_t *e = new_engine();
    publish_delayed(e, "jobs", "later", 5000);
    publish_text(e, "jobs", "now");
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 2);
    ck_assert_uint_eq(i.delayed, 1);
    ck_assert_uint_eq(i.bytes, 8);
    engine_group_info_t gi = ginfo(e, "jobs", "default");
    ck_assert_uint_eq(gi.lag, 1);
    ck_assert_uint_eq(gi.ready, 1);
    advance(e, 5000);
    i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 2);
    ck_assert_uint_eq(i.delayed, 0);
    gi = ginfo(e, "jobs", "default");
    ck_assert_uint_eq(gi.lag, 2);
    ck_assert_uint_eq(gi.ready, 2);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_delayed_messages_come_due_in_deliver_time_order)
{
    engine_t *e = new_engine();
    publish_delayed(e, "jobs", "third", 3000);
    publish_delayed(e, "jobs", "first", 1000);
    publish_delayed(e, "jobs", "second", 2000);
    advance(e, 5000);
    ck_assert_str_eq(take(e, "jobs", "default").body, "first");
    ck_assert_str_eq(take(e, "jobs", "default").body, "second");
    ck_assert_str_eq(take(e, "jobs", "default").body, "third");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_ttl_expired_message_is_never_delivered)
{
    engine_t *e = new_engine();
    publish_msg(e, "jobs", make_msg("short", NULL), 0, 1000);
    publish_text(e, "jobs", "kept");
    advance(e, 999);
    ck_assert_uint_eq(qinfo(e, "jobs").expired, 0);
    advance(e, 1);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.expired, 1);
    ck_assert_uint_eq(i.messages, 1);
    ck_assert_uint_eq(i.bytes, 4);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 1);
    got_t g[2];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1);
    ck_assert_str_eq(g[0].body, "kept");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_ttl_expired_message_is_not_delivered_before_its_timer_runs)
{
    engine_t *e = new_engine();
    publish_msg(e, "jobs", make_msg("short", NULL), 0, 1000);
    publish_text(e, "jobs", "kept");
    clock_now += 1000; /* no engine_run_timers() */
    got_t g[2];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1);
    ck_assert_str_eq(g[0].body, "kept");
    ck_assert_uint_eq(qinfo(e, "jobs").expired, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_ttl_that_ends_while_delayed_is_never_delivered)
{
    engine_t *e = new_engine();
    publish_msg(e, "jobs", make_msg("doomed", NULL), T0 + 5000, 2000);
    publish_msg(e, "jobs", make_msg("fine", NULL), T0 + 5000, 8000);
    advance(e, 3000);
    take_none(e, "jobs", "default");
    advance(e, 2000);
    got_t g[2];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1);
    ck_assert_str_eq(g[0].body, "fine");
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.expired, 1);
    ck_assert_uint_eq(i.messages, 1);
    ck_assert_uint_eq(i.delayed, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_ttl_drops_a_message_other_groups_still_need)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    group_add(e, "jobs", "g", false);
    publish_msg(e, "jobs", make_msg("x", NULL), 0, 1000);
    got_t d = take(e, "jobs", "default");
    ack_ok(e, "jobs", d.receipt);
    advance(e, 1000);
    take_none(e, "jobs", "g");
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "g").lag, 0);
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- ordering keys */

START_TEST(test_engine_same_key_messages_go_out_in_publish_order_one_at_a_time)
{
    engine_t *e = new_engine();
    publish_keyed(e, "jobs", "a1", "k");
    publish_keyed(e, "jobs", "a2", "k");
    publish_keyed(e, "jobs", "a3", "k");
    for (int i = 1; i <= 3; i++) {
        got_t g[3];
        ck_assert_uint_eq(take_n(e, "jobs", "default", 3, g), 1);
        char want[4];
        snprintf(want, sizeof want, "a%d", i);
        ck_assert_str_eq(g[0].body, want);
        take_none(e, "jobs", "default");
        ack_ok(e, "jobs", g[0].receipt);
    }
    take_none(e, "jobs", "default");
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_other_keys_proceed_while_a_key_is_blocked)
{
    engine_t *e = new_engine();
    publish_keyed(e, "jobs", "a1", "a");
    publish_keyed(e, "jobs", "a2", "a");
    publish_keyed(e, "jobs", "b1", "b");
    publish_text(e, "jobs", "plain");
    publish_keyed(e, "jobs", "b2", "b");
    got_t g[5];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 5, g), 3);
    ck_assert_str_eq(g[0].body, "a1");
    ck_assert_str_eq(g[1].body, "b1");
    ck_assert_str_eq(g[2].body, "plain");
    ack_ok(e, "jobs", g[1].receipt); /* b1 done: b2 may go, a2 still waits for a1 */
    got_t h[5];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 5, h), 1);
    ck_assert_str_eq(h[0].body, "b2");
    ack_ok(e, "jobs", g[0].receipt);
    ck_assert_uint_eq(take_n(e, "jobs", "default", 5, h), 1);
    ck_assert_str_eq(h[0].body, "a2");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_max_in_flight_per_key_two_lets_two_through_in_order)
{
    engine_settings_t s = base_settings();
    s.max_in_flight_per_key = 2;
    engine_t *e = engine_with(&s, 10);
    for (int i = 1; i <= 4; i++) {
        char body[4];
        snprintf(body, sizeof body, "a%d", i);
        publish_keyed(e, "jobs", body, "k");
    }
    got_t g[4];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 4, g), 2);
    ck_assert_str_eq(g[0].body, "a1");
    ck_assert_str_eq(g[1].body, "a2");
    ack_ok(e, "jobs", g[1].receipt);
    got_t h[4];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 4, h), 1);
    ck_assert_str_eq(h[0].body, "a3");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lease_expiry_of_a_keyed_message_keeps_key_order)
{
    engine_t *e = new_engine();
    publish_keyed(e, "jobs", "a1", "k");
    publish_keyed(e, "jobs", "a2", "k");
    got_t g[2];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1);
    advance(e, VIS); /* a1's lease expires: a2 must still wait for it */
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1);
    ck_assert_str_eq(g[0].body, "a1");
    ck_assert_uint_eq(g[0].attempts, 2);
    ack_ok(e, "jobs", g[0].receipt);
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1);
    ck_assert_str_eq(g[0].body, "a2");
    ck_assert_uint_eq(g[0].attempts, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_release_and_undo_of_a_keyed_message_keep_key_order)
{
    engine_t *e = new_engine();
    publish_keyed(e, "jobs", "a1", "k");
    publish_keyed(e, "jobs", "a2", "k");
    got_t g = take(e, "jobs", "default");
    ck_assert_int_eq(engine_release(e, "jobs", g.receipt, 1000, NULL), 0);
    take_none(e, "jobs", "default");
    advance(e, 1000);
    g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "a1");
    ck_assert_int_eq(engine_undo(e, "jobs", g.receipt), 0);
    g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "a1");
    ck_assert_uint_eq(g.attempts, 2);
    ck_assert_int_eq(engine_release(e, "jobs", g.receipt, 0, NULL), 0);
    g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "a1");
    take_none(e, "jobs", "default");
    ack_ok(e, "jobs", g.receipt);
    ck_assert_str_eq(take(e, "jobs", "default").body, "a2");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_raising_max_in_flight_per_key_lets_more_through)
{
    engine_t *e = new_engine();
    for (int i = 1; i <= 4; i++) {
        char body[4];
        snprintf(body, sizeof body, "a%d", i);
        publish_keyed(e, "jobs", body, "k");
    }
    got_t g[4];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 4, g), 1);
    engine_settings_t s = base_settings();
    s.max_in_flight_per_key = 3;
    queue_set(e, "jobs", &s, ENGINE_SET_KEY_IN_FLIGHT);
    ck_assert_uint_eq(qinfo(e, "jobs").settings.max_in_flight_per_key, 3);
    ck_assert_uint_eq(take_n(e, "jobs", "default", 4, g), 2);
    ck_assert_str_eq(g[0].body, "a2");
    ck_assert_str_eq(g[1].body, "a3");
    take_none(e, "jobs", "default");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_key_lanes_are_per_group)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    group_add(e, "jobs", "g", false);
    publish_keyed(e, "jobs", "a1", "k");
    publish_keyed(e, "jobs", "a2", "k");
    got_t d = take(e, "jobs", "default");
    ck_assert_str_eq(d.body, "a1");
    got_t g = take(e, "jobs", "g"); /* default's lease does not block g */
    ck_assert_str_eq(g.body, "a1");
    ack_ok(e, "jobs", g.receipt);
    ck_assert_str_eq(take(e, "jobs", "g").body, "a2");
    take_none(e, "jobs", "default");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_keyed_message_behind_a_lease_peeks_as_waiting_key)
{
    /* a2 cannot be leased while a1 is: peek must say waiting_key even before a lease call has
     * walked past it (here one leased with max 1). The group's `ready` is documented to count a
     * keyed message as ready until the group reaches it (docs/api.md), so it is not asserted. */
    engine_t *e = new_engine();
    publish_keyed(e, "jobs", "a1", "k");
    uint64_t a2 = publish_keyed(e, "jobs", "a2", "k");
    take(e, "jobs", "default");
    engine_group_info_t gi = ginfo(e, "jobs", "default");
    ck_assert_uint_eq(gi.lag, 2);
    ck_assert_uint_eq(gi.in_flight, 1);
    ck_assert_str_eq(engine_state_name(state_of(e, "jobs", "default", a2, NULL)), "waiting_key");
    take_none(e, "jobs", "default");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_keyed_message_whose_turn_came_is_ready_not_waiting)
{
    /* Once a1 is acked, a2 can be leased: peek must say ready and ready must count it. */
    engine_t *e = new_engine();
    publish_keyed(e, "jobs", "a1", "k");
    uint64_t a2 = publish_keyed(e, "jobs", "a2", "k");
    got_t g[2];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1);
    ck_assert_int_eq(state_of(e, "jobs", "default", a2, NULL), ENGINE_WAITING_KEY);
    ack_ok(e, "jobs", g[0].receipt);
    engine_group_info_t gi = ginfo(e, "jobs", "default");
    ck_assert_uint_eq(gi.lag, 1);
    ck_assert_str_eq(engine_state_name(state_of(e, "jobs", "default", a2, NULL)), "ready");
    ck_assert_uint_eq(gi.ready, 1);
    ck_assert_str_eq(take(e, "jobs", "default").body, "a2");
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- idempotency */

START_TEST(test_engine_idempotency_key_within_the_window_returns_the_original_id)
{
    engine_t *e = new_engine();
    bool dup;
    uint64_t id = publish_idem(e, "jobs", "first", "key-1", &dup);
    ck_assert(!dup);
    advance(e, 300000 - 1);
    uint64_t again = publish_idem(e, "jobs", "second", "key-1", &dup);
    ck_assert(dup);
    ck_assert_uint_eq(again, id);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 1);
    ck_assert_uint_eq(i.published, 1);
    got_t g = take(e, "jobs", "default");
    ck_assert_str_eq(g.body, "first");
    ack_ok(e, "jobs", g.receipt);
    /* still a duplicate after the original left the queue */
    ck_assert_uint_eq(publish_idem(e, "jobs", "third", "key-1", &dup), id);
    ck_assert(dup);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    /* another key is another message */
    ck_assert_uint_eq(publish_idem(e, "jobs", "other", "key-2", &dup), id + 1);
    ck_assert(!dup);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_idempotency_key_after_the_window_stores_a_new_message)
{
    engine_t *e = new_engine();
    bool dup;
    uint64_t id = publish_idem(e, "jobs", "first", "key-1", &dup);
    advance(e, 300000);
    uint64_t id2 = publish_idem(e, "jobs", "second", "key-1", &dup);
    ck_assert(!dup);
    ck_assert_uint_gt(id2, id);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 2);
    /* and the new one opens a new window */
    advance(e, 1000);
    ck_assert_uint_eq(publish_idem(e, "jobs", "third", "key-1", &dup), id2);
    ck_assert(dup);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_idempotency_applies_inside_one_batch_and_per_queue)
{
    engine_t *e = new_engine();
    engine_pub_t b[3] = {
        {.msg = make_msg("a", NULL), .idem_key = "k", .idem_len = 1},
        {.msg = make_msg("b", NULL), .idem_key = "k", .idem_len = 1},
        {.msg = make_msg("c", NULL), .idem_key = "kk", .idem_len = 2},
    };
    ck_assert_int_eq(engine_publish(e, "jobs", b, 3), 0);
    ck_assert(!b[0].duplicate);
    ck_assert(b[1].duplicate);
    ck_assert_uint_eq(b[1].id, b[0].id);
    ck_assert(!b[2].duplicate);
    ck_assert_uint_eq(b[2].id, b[0].id + 1);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 2);
    bool dup;
    ck_assert_uint_eq(publish_idem(e, "other", "a", "k", &dup), 1);
    ck_assert(!dup);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_idempotency_is_off_with_a_zero_window)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    s.dedup_ms = 0;
    queue_set(e, "jobs", &s, ENGINE_SET_DEDUP);
    bool dup;
    ck_assert_uint_eq(publish_idem(e, "jobs", "a", "k", &dup), 1);
    ck_assert_uint_eq(publish_idem(e, "jobs", "b", "k", &dup), 2);
    ck_assert(!dup);
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- retention */

static engine_t *engine_retention(unsigned mask, uint64_t max_messages, uint64_t max_bytes,
                                  int64_t max_age)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    s.max_messages = max_messages;
    s.max_bytes = max_bytes;
    s.max_age_ms = max_age;
    queue_set(e, "jobs", &s, mask);
    return e;
}

START_TEST(test_engine_max_messages_drops_the_oldest_even_when_leased)
{
    engine_t *e = engine_retention(ENGINE_SET_MAX_MESSAGES, 3, 0, 0);
    publish_text(e, "jobs", "m1");
    publish_text(e, "jobs", "m2");
    publish_text(e, "jobs", "m3");
    got_t g1 = take(e, "jobs", "default");
    ck_assert_str_eq(g1.body, "m1");
    publish_text(e, "jobs", "m4");
    publish_text(e, "jobs", "m5");
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 3);
    ck_assert_uint_eq(i.dropped, 2);
    ck_assert_uint_eq(i.in_flight, 0);
    ck_assert_uint_eq(i.published, 5);
    ack_dead(e, "jobs", g1.receipt); /* the dropped message's receipt is dead */
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 3);
    got_t g[4];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 4, g), 3);
    ck_assert_str_eq(g[0].body, "m3");
    ck_assert_str_eq(g[2].body, "m5");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_max_bytes_drops_the_oldest)
{
    engine_t *e = engine_retention(ENGINE_SET_MAX_BYTES, 0, 10, 0);
    publish_text(e, "jobs", "aaaa");
    publish_text(e, "jobs", "bbbb");
    ck_assert_uint_eq(qinfo(e, "jobs").dropped, 0);
    publish_text(e, "jobs", "cc"); /* exactly 10 */
    ck_assert_uint_eq(qinfo(e, "jobs").dropped, 0);
    publish_text(e, "jobs", "d"); /* 11 */
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.dropped, 1);
    ck_assert_uint_eq(i.bytes, 7);
    ck_assert_uint_eq(i.messages, 3);
    ck_assert_str_eq(take(e, "jobs", "default").body, "bbbb");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_retention_drops_messages_every_group_still_needs)
{
    engine_t *e = engine_retention(ENGINE_SET_MAX_MESSAGES, 1, 0, 0);
    group_add(e, "jobs", "g", false);
    publish_text(e, "jobs", "m1");
    got_t gd = take(e, "jobs", "g");
    publish_text(e, "jobs", "m2");
    ck_assert_uint_eq(qinfo(e, "jobs").dropped, 1);
    ack_dead(e, "jobs", gd.receipt);
    ck_assert_uint_eq(ginfo(e, "jobs", "g").lag, 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 1);
    ck_assert_str_eq(take(e, "jobs", "g").body, "m2");
    ck_assert_str_eq(take(e, "jobs", "default").body, "m2");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_delayed_messages_count_toward_limits_but_drop_only_once_visible)
{
    engine_t *e = engine_retention(ENGINE_SET_MAX_MESSAGES, 2, 0, 0);
    publish_delayed(e, "jobs", "d1", 1000);
    publish_delayed(e, "jobs", "d2", 2000);
    publish_delayed(e, "jobs", "d3", 3000);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 3);
    ck_assert_uint_eq(i.delayed, 3);
    ck_assert_uint_eq(i.dropped, 0);
    advance(e, 3000);
    i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 2);
    ck_assert_uint_eq(i.dropped, 1);
    ck_assert_str_eq(take(e, "jobs", "default").body, "d2");
    ck_assert_str_eq(take(e, "jobs", "default").body, "d3");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_max_age_drops_messages_older_than_it)
{
    engine_t *e = engine_retention(ENGINE_SET_MAX_AGE, 0, 0, 1000);
    publish_text(e, "jobs", "old");
    advance(e, 500);
    publish_text(e, "jobs", "young");
    got_t g = take(e, "jobs", "default"); /* leased: dropped all the same */
    ck_assert_int_eq(engine_next_deadline(e), T0 + 1000);
    advance(e, 499);
    ck_assert_uint_eq(qinfo(e, "jobs").dropped, 0);
    advance(e, 1);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.dropped, 1);
    ck_assert_uint_eq(i.messages, 1);
    ack_dead(e, "jobs", g.receipt);
    advance(e, 500);
    ck_assert_uint_eq(qinfo(e, "jobs").dropped, 2);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    take_none(e, "jobs", "default");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_lowering_limits_applies_at_once)
{
    engine_t *e = new_engine();
    for (int i = 0; i < 5; i++)
        publish_text(e, "jobs", "m");
    engine_settings_t s = base_settings();
    s.max_messages = 2;
    queue_set(e, "jobs", &s, ENGINE_SET_MAX_MESSAGES);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 2);
    ck_assert_uint_eq(qinfo(e, "jobs").dropped, 3);
    advance(e, 10000);
    s.max_age_ms = 5000;
    queue_set(e, "jobs", &s, ENGINE_SET_MAX_AGE);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    ck_assert_uint_eq(qinfo(e, "jobs").dropped, 5);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_retention_drop_of_a_leased_keyed_message_unblocks_its_key)
{
    engine_t *e = engine_retention(ENGINE_SET_MAX_MESSAGES, 2, 0, 0);
    publish_keyed(e, "jobs", "a1", "k");
    publish_keyed(e, "jobs", "a2", "k");
    got_t g[3];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 3, g), 1);
    publish_text(e, "jobs", "x"); /* drops a1 */
    ack_dead(e, "jobs", g[0].receipt);
    ck_assert_uint_eq(take_n(e, "jobs", "default", 3, g), 2);
    ck_assert_str_eq(g[0].body, "a2");
    ck_assert_str_eq(g[1].body, "x");
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- purge and delete */

START_TEST(test_engine_purge_deletes_every_message_and_lease_and_keeps_the_queue)
{
    engine_t *e = engine_retention(ENGINE_SET_MAX_MESSAGES, 100, 0, 0);
    group_add(e, "jobs", "g", false);
    publish_text(e, "jobs", "a");
    publish_keyed(e, "jobs", "b", "k");
    publish_keyed(e, "jobs", "c", "k");
    publish_delayed(e, "jobs", "d", 1000);
    got_t g[3];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 3, g), 2);
    got_t r = take(e, "jobs", "g");
    ck_assert_int_eq(engine_release(e, "jobs", r.receipt, 500, NULL), 0);
    uint64_t count = 0;
    ck_assert_int_eq(engine_queue_purge(e, "jobs", &count), 0);
    ck_assert_uint_eq(count, 4);
    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 0);
    ck_assert_uint_eq(i.bytes, 0);
    ck_assert_uint_eq(i.delayed, 0);
    ck_assert_uint_eq(i.in_flight, 0);
    ck_assert_uint_eq(i.ngroups, 2);
    ck_assert_uint_eq(i.settings.max_messages, 100);
    ack_dead(e, "jobs", g[0].receipt);
    ack_dead(e, "jobs", g[1].receipt);
    ck_assert_uint_eq(ginfo(e, "jobs", "g").lag, 0);
    advance(e, 2000);
    take_none(e, "jobs", "default");
    take_none(e, "jobs", "g");
    ck_assert_uint_eq(publish_keyed(e, "jobs", "e", "k"), 5);
    ck_assert_str_eq(take(e, "jobs", "default").body, "e"); /* the key is free again */
    ck_assert_int_eq(engine_queue_purge(e, "jobs", &count), 0);
    ck_assert_uint_eq(count, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_queue_delete_removes_it_and_everything_in_it)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    publish_delayed(e, "jobs", "b", 1000);
    got_t g = take(e, "jobs", "default");
    ck_assert_int_eq(engine_queue_delete(e, "jobs"), 0);
    ck_assert_uint_eq(engine_queue_count(e), 0);
    ck_assert_int_eq(engine_ack(e, "jobs", g.receipt), SL_ENOQUEUE);
    ck_assert_int_eq(engine_queue_delete(e, "jobs"), SL_ENOQUEUE);
    advance(e, 5000); /* no timer of the deleted queue fires */
    ck_assert_uint_eq(publish_text(e, "jobs", "new"), 1);
    ck_assert_uint_eq(qinfo(e, "jobs").published, 1);
    ck_assert_str_eq(take(e, "jobs", "default").body, "new");
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- long-poll waiters */

typedef struct wtest {
    engine_waiter_t w;
    engine_t *e;
    const char *q, *g;
    int calls;
    int status;
    bool lease;           /* the callback leases one message */
    bool repark;          /* ... and parks again when it got none */
    struct wtest *cancel; /* the callback cancels this other waiter */
    size_t leased;        /* messages the callback leased */
    got_t got;            /* the last one */
} wtest_t;

static void on_wake(engine_waiter_t *w)
{
    wtest_t *t = w->data;
    t->calls++;
    t->status = w->status;
    if (t->cancel)
        engine_wait_cancel(t->e, &t->cancel->w);
    if (!t->lease || w->status != 0)
        return;
    size_t n = take_n(t->e, t->q, t->g, 1, &t->got); /* re-entrant call into the engine */
    t->leased += n;
    if (n == 0 && t->repark)
        ck_assert_int_eq(engine_wait(t->e, t->q, t->g, &t->w, INT64_MAX), 0);
}

static void wait_on(engine_t *e, const char *q, const char *g, wtest_t *t, int64_t deadline)
{
    memset(t, 0, sizeof *t);
    t->e = e;
    t->q = q;
    t->g = g;
    t->w.wake = on_wake;
    t->w.data = t;
    ck_assert_int_eq(engine_wait(e, q, g, &t->w, deadline), 0);
}

START_TEST(test_engine_publish_wakes_as_many_waiters_as_messages)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    group_add(e, "jobs", "g", false);
    wtest_t w[4], other;
    for (int i = 0; i < 4; i++)
        wait_on(e, "jobs", "default", &w[i], INT64_MAX);
    wait_on(e, "jobs", "g", &other, INT64_MAX);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").waiting, 4);
    publish_text(e, "jobs", "one");
    ck_assert_int_eq(w[0].calls, 1); /* the longest waiting, and only it */
    ck_assert_int_eq(w[0].status, 0);
    ck_assert_int_eq(w[1].calls + w[2].calls + w[3].calls, 0);
    ck_assert_int_eq(other.calls, 1); /* one per group the message is for */
    ck_assert_uint_eq(ginfo(e, "jobs", "default").waiting, 3);
    ck_assert_uint_eq(ginfo(e, "jobs", "g").waiting, 0);
    engine_pub_t b[2] = {{.msg = make_msg("two", NULL)}, {.msg = make_msg("three", NULL)}};
    ck_assert_int_eq(engine_publish(e, "jobs", b, 2), 0);
    ck_assert_int_eq(w[0].calls, 1);
    ck_assert_int_eq(w[1].calls, 1);
    ck_assert_int_eq(w[2].calls, 1);
    ck_assert_int_eq(w[3].calls, 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").waiting, 1);
    publish_delayed(e, "jobs", "later", 1000); /* a delayed message wakes nobody yet */
    ck_assert_int_eq(w[3].calls, 0);
    advance(e, 1000);
    ck_assert_int_eq(w[3].calls, 1);
    ck_assert_int_eq(w[3].status, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_wake_callback_may_lease_reentrantly)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    wtest_t a, b;
    wait_on(e, "jobs", "default", &a, INT64_MAX);
    wait_on(e, "jobs", "default", &b, INT64_MAX);
    a.lease = b.lease = true;
    publish_text(e, "jobs", "x");
    ck_assert_int_eq(a.calls, 1);
    ck_assert_uint_eq(a.leased, 1);
    ck_assert_str_eq(a.got.body, "x");
    ck_assert_int_eq(b.calls, 0);
    ck_assert_uint_eq(qinfo(e, "jobs").in_flight, 1);
    ack_ok(e, "jobs", a.got.receipt);
    publish_text(e, "jobs", "y");
    ck_assert_int_eq(b.calls, 1);
    ck_assert_str_eq(b.got.body, "y");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_waiter_that_finds_nothing_may_park_again)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    wtest_t a, b;
    wait_on(e, "jobs", "default", &a, INT64_MAX);
    wait_on(e, "jobs", "default", &b, INT64_MAX);
    a.lease = b.lease = true;
    a.repark = b.repark = true;
    engine_pub_t p[2] = {{.msg = make_msg("a1", "k")}, {.msg = make_msg("a2", "k")}};
    ck_assert_int_eq(engine_publish(e, "jobs", p, 2), 0);
    /* both woken; a leased a1, b found a2 blocked behind it and parked again */
    ck_assert_int_eq(a.calls, 1);
    ck_assert_str_eq(a.got.body, "a1");
    ck_assert_int_eq(b.calls, 1);
    ck_assert_uint_eq(b.leased, 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").waiting, 1);
    ack_ok(e, "jobs", a.got.receipt); /* a2's turn: the parked waiter is woken */
    ck_assert_int_eq(b.calls, 2);
    ck_assert_uint_eq(b.leased, 1);
    ck_assert_str_eq(b.got.body, "a2");
    ck_assert_uint_eq(ginfo(e, "jobs", "default").waiting, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_waiter_deadline_times_out)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "x");
    take(e, "jobs", "default");
    wtest_t w;
    wait_on(e, "jobs", "default", &w, T0 + 1000);
    ck_assert_int_eq(engine_next_deadline(e), T0 + 1000);
    advance(e, 999);
    ck_assert_int_eq(w.calls, 0);
    advance(e, 1);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_int_eq(w.status, SL_ETIMEDOUT);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").waiting, 0);
    publish_text(e, "jobs", "y");
    advance(e, VIS);
    ck_assert_int_eq(w.calls, 1); /* called exactly once */
    engine_free(e);
}
END_TEST

START_TEST(test_engine_wait_cancel_prevents_the_callback)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    wtest_t w;
    wait_on(e, "jobs", "default", &w, T0 + 1000);
    engine_wait_cancel(e, &w.w);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").waiting, 0);
    ck_assert_int_eq(engine_next_deadline(e), INT64_MAX);
    publish_text(e, "jobs", "x");
    advance(e, 2000);
    ck_assert_int_eq(w.calls, 0);
    engine_wait_cancel(e, &w.w); /* twice is harmless */
    engine_free(e);
}
END_TEST

START_TEST(test_engine_wait_cancel_of_a_woken_waiter_prevents_its_callback)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    wtest_t a, b;
    wait_on(e, "jobs", "default", &a, INT64_MAX);
    wait_on(e, "jobs", "default", &b, INT64_MAX);
    a.cancel = &b; /* b is woken by the same publish, but a's callback runs first */
    engine_pub_t p[2] = {{.msg = make_msg("1", NULL)}, {.msg = make_msg("2", NULL)}};
    ck_assert_int_eq(engine_publish(e, "jobs", p, 2), 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").waiting, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_wake_all_wakes_every_waiter_with_eshutdown)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "a", &s, 0);
    queue_set(e, "b", &s, 0);
    group_add(e, "b", "g", false);
    wtest_t w[3];
    wait_on(e, "a", "default", &w[0], INT64_MAX);
    wait_on(e, "b", "default", &w[1], T0 + 100);
    wait_on(e, "b", "g", &w[2], INT64_MAX);
    engine_wake_all(e);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(w[i].calls, 1);
        ck_assert_int_eq(w[i].status, SL_ESHUTDOWN);
    }
    ck_assert_uint_eq(ginfo(e, "b", "g").waiting, 0);
    advance(e, 1000); /* the deadline of a woken waiter does not fire again */
    publish_text(e, "a", "x");
    ck_assert_int_eq(w[0].calls + w[1].calls + w[2].calls, 3);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_queue_delete_wakes_its_waiters_with_enoqueue)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    queue_set(e, "other", &s, 0);
    group_add(e, "jobs", "g", false);
    wtest_t a, b, c;
    wait_on(e, "jobs", "default", &a, T0 + 1000);
    wait_on(e, "jobs", "g", &b, INT64_MAX);
    wait_on(e, "other", "default", &c, INT64_MAX);
    ck_assert_int_eq(engine_queue_delete(e, "jobs"), 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.status, SL_ENOQUEUE);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(b.status, SL_ENOQUEUE);
    ck_assert_int_eq(c.calls, 0);
    advance(e, 2000);
    ck_assert_int_eq(a.calls, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_delete_wakes_its_waiters_with_enogroup)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    group_add(e, "jobs", "g", false);
    wtest_t a, b;
    wait_on(e, "jobs", "g", &a, T0 + 1000);
    wait_on(e, "jobs", "default", &b, INT64_MAX);
    ck_assert_int_eq(engine_group_delete(e, "jobs", "g"), 0);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.status, SL_ENOGROUP);
    ck_assert_int_eq(b.calls, 0);
    advance(e, 2000);
    ck_assert_int_eq(a.calls, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_redelivery_and_end_of_release_delay_wake_a_waiter)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "x");
    take(e, "jobs", "default");
    wtest_t w;
    wait_on(e, "jobs", "default", &w, INT64_MAX);
    w.lease = true;
    advance(e, VIS); /* lease expiry */
    ck_assert_int_eq(w.calls, 1);
    ck_assert_uint_eq(w.leased, 1);
    ck_assert_uint_eq(w.got.attempts, 2);
    char receipt[ENGINE_RECEIPT_LEN];
    memcpy(receipt, w.got.receipt, sizeof receipt);
    ck_assert_int_eq(engine_release(e, "jobs", receipt, 500, NULL), 0);
    wait_on(e, "jobs", "default", &w, INT64_MAX);
    w.lease = true;
    advance(e, 499);
    ck_assert_int_eq(w.calls, 0);
    advance(e, 1);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_uint_eq(w.leased, 1);
    ck_assert_uint_eq(w.got.attempts, 3);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_raising_max_in_flight_per_key_wakes_a_waiter)
{
    engine_t *e = new_engine();
    publish_keyed(e, "jobs", "a1", "k");
    publish_keyed(e, "jobs", "a2", "k");
    got_t g[2];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 2, g), 1);
    wtest_t w;
    wait_on(e, "jobs", "default", &w, INT64_MAX);
    w.lease = true;
    engine_settings_t s = base_settings();
    s.max_in_flight_per_key = 2;
    queue_set(e, "jobs", &s, ENGINE_SET_KEY_IN_FLIGHT);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_uint_eq(w.leased, 1);
    ck_assert_str_eq(w.got.body, "a2");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_free_forgets_registered_waiters_without_a_callback)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    wtest_t w;
    wait_on(e, "jobs", "default", &w, T0 + 10);
    engine_free(e);
    ck_assert_int_eq(w.calls, 0);
}
END_TEST

/* ---------------------------------------------------------------- peek */

START_TEST(test_engine_peek_reports_each_state_as_the_group_sees_it)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    queue_set(e, "jobs", &s, 0);
    group_add(e, "jobs", "other", false);  /* keeps acked messages in the queue */
    publish_keyed(e, "jobs", "1", "k");    /* leased */
    publish_keyed(e, "jobs", "2", "k");    /* waiting_key */
    publish_text(e, "jobs", "3");          /* acked */
    publish_text(e, "jobs", "4");          /* retry */
    publish_text(e, "jobs", "5");          /* retry with a delay */
    publish_text(e, "jobs", "6");          /* leased */
    publish_text(e, "jobs", "7");          /* ready */
    publish_delayed(e, "jobs", "8", 9000); /* delayed */
    got_t g[5];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 5, g), 5); /* 1 3 4 5 6 */
    ck_assert_uint_eq(g[4].id, 6);
    ack_ok(e, "jobs", g[1].receipt);
    ck_assert_int_eq(engine_release(e, "jobs", g[2].receipt, 0, NULL), 0);
    ck_assert_int_eq(engine_release(e, "jobs", g[3].receipt, 1000, NULL), 0);
    advance(e, 10);

    engine_peek_item_t it[10];
    size_t n;
    bool more;
    ck_assert_int_eq(engine_peek(e, "jobs", "default", 0, 10, it, &n, &more), 0);
    ck_assert_uint_eq(n, 8);
    ck_assert(!more);
    const char *want[] = {"leased", "waiting_key", "acked", "retry",
                          "retry",  "leased",      "ready", "delayed"};
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(it[i].msg->id, i + 1);
        ck_assert_int_eq(msg_body(it[i].msg)[0], (int)('1' + i));
        ck_assert_msg(strcmp(engine_state_name(it[i].state), want[i]) == 0, "id %zu: %s", i + 1,
                      engine_state_name(it[i].state));
    }
    ck_assert_int_eq(it[0].state, ENGINE_LEASED);
    ck_assert_int_eq(it[0].until, T0 + VIS);
    ck_assert_uint_eq(it[0].attempts, 1);
    ck_assert_int_eq(it[1].state, ENGINE_WAITING_KEY);
    ck_assert_int_eq(it[2].state, ENGINE_ACKED);
    ck_assert_int_eq(it[3].state, ENGINE_RETRY);
    ck_assert_int_eq(it[3].until, 0);
    ck_assert_uint_eq(it[3].attempts, 1);
    ck_assert_int_eq(it[4].state, ENGINE_RETRY_DELAY);
    ck_assert_int_eq(it[4].until, T0 + 1000);
    ck_assert_int_eq(it[6].state, ENGINE_READY);
    ck_assert_uint_eq(it[6].attempts, 0);
    ck_assert_int_eq(it[6].until, 0);
    ck_assert_int_eq(it[7].state, ENGINE_DELAYED);
    ck_assert_int_eq(it[7].until, T0 + 9000);
    for (size_t i = 0; i < n; i++)
        msg_unref(it[i].msg);

    /* the other group sees its own view: all ready but the delayed one */
    ck_assert_int_eq(engine_peek(e, "jobs", "other", 0, 10, it, &n, &more), 0);
    ck_assert_uint_eq(n, 8);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(it[i].state, i < 7 ? ENGINE_READY : ENGINE_DELAYED);
        msg_unref(it[i].msg);
    }
    /* peeking changed nothing */
    ck_assert_uint_eq(take_n(e, "jobs", "default", 5, g), 2); /* 4 (retry), then 7 */
    ck_assert_uint_eq(g[0].id, 4);
    ck_assert_uint_eq(g[1].id, 7);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_peek_pages_with_after_limit_and_more)
{
    engine_t *e = new_engine();
    publish_delayed(e, "jobs", "1", 5000); /* ids of delayed and visible messages interleave */
    publish_text(e, "jobs", "2");
    publish_delayed(e, "jobs", "3", 1000);
    publish_text(e, "jobs", "4");
    publish_text(e, "jobs", "5");
    advance(e, 1000); /* 3 is visible now, after 4 and 5 in delivery order */
    engine_peek_item_t it[3];
    size_t n;
    bool more;
    uint64_t after = 0, seen = 0;
    for (int page = 0; page < 3; page++) {
        ck_assert_int_eq(engine_peek(e, "jobs", "default", after, 2, it, &n, &more), 0);
        ck_assert_uint_eq(n, page < 2 ? 2 : 1);
        ck_assert(more == (page < 2));
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_eq(it[i].msg->id, ++seen);
            after = it[i].msg->id;
            msg_unref(it[i].msg);
        }
    }
    ck_assert_uint_eq(seen, 5);
    ck_assert_int_eq(engine_peek(e, "jobs", "default", 5, 2, it, &n, &more), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert(!more);
    ck_assert_int_eq(engine_peek(e, "jobs", "default", 0, 0, it, &n, &more), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(engine_peek(e, "jobs", "default", 3, 1, it, &n, &more), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(it[0].msg->id, 4);
    ck_assert(more);
    msg_unref(it[0].msg);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_peek_of_a_group_from_latest_lists_only_its_messages)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "old");
    group_add(e, "jobs", "live", true);
    publish_text(e, "jobs", "new");
    engine_peek_item_t it[3];
    size_t n;
    bool more;
    ck_assert_int_eq(engine_peek(e, "jobs", "live", 0, 3, it, &n, &more), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(it[0].msg->id, 2);
    msg_unref(it[0].msg);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_state_names_match_the_api)
{
    ck_assert_str_eq(engine_state_name(ENGINE_READY), "ready");
    ck_assert_str_eq(engine_state_name(ENGINE_DELAYED), "delayed");
    ck_assert_str_eq(engine_state_name(ENGINE_LEASED), "leased");
    ck_assert_str_eq(engine_state_name(ENGINE_RETRY), "retry");
    ck_assert_str_eq(engine_state_name(ENGINE_RETRY_DELAY), "retry");
    ck_assert_str_eq(engine_state_name(ENGINE_WAITING_KEY), "waiting_key");
    ck_assert_str_eq(engine_state_name(ENGINE_ACKED), "acked");
    ck_assert_str_eq(engine_state_name(-1), "unknown");
    ck_assert_str_eq(engine_state_name(ENGINE_ACKED + 1), "unknown");
}
END_TEST

/* ---------------------------------------------------------------- info and list */

START_TEST(test_engine_queue_and_group_info_count_what_happened)
{
    engine_settings_t s = base_settings();
    s.max_attempts = 1;
    s.max_messages = 6;
    engine_t *e = engine_with(&s, 10);
    queue_set(e, "jobs", &s, 0);
    group_add(e, "jobs", "g", false);
    wtest_t w;
    wait_on(e, "jobs", "g", &w, INT64_MAX);
    publish_text(e, "jobs", "aa");                       /* 1: acked by both */
    publish_text(e, "jobs", "bb");                       /* 2: dead-lettered by default */
    publish_msg(e, "jobs", make_msg("cc", NULL), 0, 50); /* 3: expires */
    publish_text(e, "jobs", "dd");                       /* 4: leased by default */
    publish_delayed(e, "jobs", "eeee", 1000);            /* 5: delayed */
    ck_assert_int_eq(w.calls, 1);
    wait_on(e, "jobs", "g", &w, INT64_MAX);
    got_t g[4];
    ck_assert_uint_eq(take_n(e, "jobs", "default", 1, g), 1);
    ack_ok(e, "jobs", g[0].receipt);
    fail_once(e, "jobs", "default", "bad");
    ck_assert_uint_eq(take_n(e, "jobs", "g", 1, g), 1);
    ack_ok(e, "jobs", g[0].receipt);
    advance(e, 50);
    got_t d = take(e, "jobs", "default");
    ck_assert_uint_eq(d.id, 4);

    engine_queue_info_t i = qinfo(e, "jobs");
    ck_assert_uint_eq(i.messages, 3); /* 2 (g), 4, 5 */
    ck_assert_uint_eq(i.bytes, 8);
    ck_assert_uint_eq(i.delayed, 1);
    ck_assert_uint_eq(i.in_flight, 1);
    ck_assert_uint_eq(i.published, 5);
    ck_assert_uint_eq(i.acked, 2);
    ck_assert_uint_eq(i.expired, 1);
    ck_assert_uint_eq(i.dropped, 0);
    ck_assert_uint_eq(i.dead_lettered, 1);
    ck_assert_uint_eq(i.settings.max_attempts, 1);
    ck_assert_uint_eq(i.ngroups, 2);
    ck_assert_str_eq(i.groups[0].name, "default");
    ck_assert_str_eq(i.groups[1].name, "g");

    engine_group_info_t *gd = &i.groups[0], *gg = &i.groups[1];
    ck_assert_uint_eq(gd->lag, 1); /* 4 */
    ck_assert_uint_eq(gd->in_flight, 1);
    ck_assert_uint_eq(gd->ready, 0);
    ck_assert_uint_eq(gd->delivered, 3);
    ck_assert_uint_eq(gd->acked, 1);
    ck_assert_uint_eq(gd->waiting, 0);
    ck_assert_uint_eq(gg->lag, 2); /* 2 and 4 */
    ck_assert_uint_eq(gg->in_flight, 0);
    ck_assert_uint_eq(gg->ready, 2);
    ck_assert_uint_eq(gg->delivered, 1);
    ck_assert_uint_eq(gg->acked, 1);
    ck_assert_uint_eq(gg->waiting, 1);
    engine_group_info_t one = ginfo(e, "jobs", "g");
    ck_assert_str_eq(one.name, "g");
    ck_assert_uint_eq(one.lag, gg->lag);
    ck_assert_uint_eq(one.waiting, 1);

    /* the dead letter made jobs.dlq; publishing more drops the oldest (max_messages 6) */
    for (int k = 0; k < 4; k++)
        publish_text(e, "jobs", "f");
    ck_assert_uint_eq(qinfo(e, "jobs").dropped, 1);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 6);
    ck_assert_uint_eq(qinfo(e, "jobs.dlq").messages, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_queue_list_is_sorted_by_name_with_counters)
{
    engine_t *e = new_engine();
    publish_text(e, "zeta", "z");
    publish_text(e, "alpha", "aa");
    publish_text(e, "alpha", "bb");
    publish_text(e, "Mid", "m");
    group_add(e, "alpha", "g", false);
    take(e, "alpha", "g");
    engine_queue_info_t *list;
    size_t n;
    engine_queue_list(e, &pool, &list, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(list[0].name, "Mid");
    ck_assert_str_eq(list[1].name, "alpha");
    ck_assert_str_eq(list[2].name, "zeta");
    ck_assert_uint_eq(list[1].messages, 2);
    ck_assert_uint_eq(list[1].bytes, 4);
    ck_assert_uint_eq(list[1].published, 2);
    ck_assert_uint_eq(list[1].in_flight, 1);
    ck_assert_uint_eq(list[1].ngroups, 2);
    ck_assert_str_eq(list[1].settings.dlq, "alpha.dlq");
    ck_assert_uint_eq(list[0].ngroups, 1);
    engine_free(e);
    engine_t *empty = new_engine();
    engine_queue_list(empty, &pool, &list, &n);
    ck_assert_uint_eq(n, 0);
    engine_free(empty);
}
END_TEST

START_TEST(test_engine_queue_put_sets_only_the_fields_in_the_mask)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    s.visibility_ms = 111;
    s.max_attempts = 2;
    s.max_messages = 3;
    s.max_bytes = 4;
    s.max_age_ms = 5;
    s.dedup_ms = 6;
    s.max_in_flight_per_key = 7;
    snprintf(s.dlq, sizeof s.dlq, "dead");
    bool created;
    ck_assert_int_eq(
        engine_queue_put(e, "jobs", &s, ENGINE_SET_VISIBILITY | ENGINE_SET_DEDUP, &created), 0);
    ck_assert(created);
    engine_settings_t got = qinfo(e, "jobs").settings;
    ck_assert_int_eq(got.visibility_ms, 111);
    ck_assert_int_eq(got.dedup_ms, 6);
    ck_assert_uint_eq(got.max_attempts, 10);
    ck_assert_uint_eq(got.max_messages, 0);
    ck_assert_uint_eq(got.max_in_flight_per_key, 1);
    ck_assert_str_eq(got.dlq, "jobs.dlq");
    unsigned all = ENGINE_SET_MAX_ATTEMPTS | ENGINE_SET_DLQ | ENGINE_SET_MAX_MESSAGES |
                   ENGINE_SET_MAX_BYTES | ENGINE_SET_MAX_AGE | ENGINE_SET_KEY_IN_FLIGHT;
    ck_assert_int_eq(engine_queue_put(e, "jobs", &s, all, &created), 0);
    ck_assert(!created);
    got = qinfo(e, "jobs").settings;
    ck_assert_uint_eq(got.max_attempts, 2);
    ck_assert_str_eq(got.dlq, "dead");
    ck_assert_uint_eq(got.max_messages, 3);
    ck_assert_uint_eq(got.max_bytes, 4);
    ck_assert_int_eq(got.max_age_ms, 5);
    ck_assert_uint_eq(got.max_in_flight_per_key, 7);
    engine_free(e);
}
END_TEST

/* ---------------------------------------------------------------- randomized model */

/*
 * Random publishes (some keyed, some delayed), leases, acks, releases (some delayed), undos and
 * clock moves over 2 or 3 groups and 3 keys, with max_in_flight_per_key 1 and no dead-lettering.
 * The model knows, for each message and group, whether it was acked, how many attempts it had,
 * and every lease with its expiry. After every step the engine must agree with it:
 *   - a lease never hands a group a message that group acked, nor one it holds a live lease on;
 *   - a keyed message goes to a group only once every earlier message with that key was acked
 *     by it (publish order, one in flight);
 *   - attempts are the model's count + 1; an ack, release or undo succeeds exactly when the
 *     model says the lease is live;
 *   - a lease returning fewer than max returns exactly what the model says is available;
 *   - queue and group counters match the model.
 * Finally every group drains the queue: each message is acked by each group exactly once.
 */

#define MODEL_MSGS 4096
#define MODEL_GROUPS 3
#define MODEL_LEASES 512
#define MODEL_VIS 100
#define MODEL_STEPS 3000

static const char *const model_groups[MODEL_GROUPS] = {"default", "g1", "g2"};
static const char *const model_keys[] = {"ka", "kb", "kc"};

typedef struct mmsg {
    int key;            /* index in model_keys, -1 for none */
    int64_t visible_at; /* deliver time */
    size_t len;
    bool acked[MODEL_GROUPS];
    uint32_t attempts[MODEL_GROUPS];
    int64_t retry_at[MODEL_GROUPS]; /* released with a delay: not visible before this */
} mmsg_t;

typedef struct mlease {
    int g;
    uint64_t id;
    int64_t expires;
    bool ended; /* acked, released or undone */
    char receipt[ENGINE_RECEIPT_LEN];
} mlease_t;

typedef struct model {
    engine_t *e;
    uint64_t rng;
    int ngroups;
    uint64_t nmsgs;
    mmsg_t *m; /* m[id - 1] */
    mlease_t leases[MODEL_LEASES];
    size_t nleases;
    uint64_t acked_total, delivered[MODEL_GROUPS], acked[MODEL_GROUPS];
} model_t;

static uint64_t rnd(model_t *md, uint64_t n)
{
    md->rng ^= md->rng >> 12;
    md->rng ^= md->rng << 25;
    md->rng ^= md->rng >> 27;
    return (md->rng * UINT64_C(2685821657736338717)) % n;
}

static bool mlease_live(const mlease_t *l)
{
    return !l->ended && l->expires > clock_now;
}

static bool model_leased(const model_t *md, int g, uint64_t id)
{
    for (size_t i = 0; i < md->nleases; i++)
        if (md->leases[i].g == g && md->leases[i].id == id && mlease_live(&md->leases[i]))
            return true;
    return false;
}

/* Whether an earlier message with id's key is not yet acked by g. */
static bool model_key_blocked(const model_t *md, int g, uint64_t id)
{
    int key = md->m[id - 1].key;
    if (key < 0)
        return false;
    for (uint64_t k = 1; k < id; k++)
        if (md->m[k - 1].key == key && !md->m[k - 1].acked[g])
            return true;
    return false;
}

static bool model_available(const model_t *md, int g, uint64_t id)
{
    const mmsg_t *m = &md->m[id - 1];
    return !m->acked[g] && m->visible_at <= clock_now && m->retry_at[g] <= clock_now &&
           !model_leased(md, g, id) && !model_key_blocked(md, g, id);
}

static void model_publish(model_t *md)
{
    engine_pub_t p[3];
    size_t n = 1 + (size_t)rnd(md, 3);
    for (size_t i = 0; i < n; i++) {
        uint64_t id = md->nmsgs + 1 + i;
        ck_assert_uint_le(id, MODEL_MSGS);
        mmsg_t *m = &md->m[id - 1];
        memset(m, 0, sizeof *m);
        m->key = (int)rnd(md, 4) - 1;
        m->visible_at = clock_now;
        if (m->key < 0 && rnd(md, 8) == 0)
            m->visible_at = clock_now + 1 + (int64_t)rnd(md, 300);
        char body[24];
        snprintf(body, sizeof body, "m%llu", (unsigned long long)id);
        m->len = strlen(body);
        p[i] = (engine_pub_t){.msg = make_msg(body, m->key < 0 ? NULL : model_keys[m->key]),
                              .deliver_at = m->visible_at > clock_now ? m->visible_at : 0};
    }
    ck_assert_int_eq(engine_publish(md->e, "q", p, n), 0);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(p[i].id, md->nmsgs + 1 + i);
        ck_assert(!p[i].duplicate);
    }
    md->nmsgs += n;
}

/* Drops ended and expired leases from the table. */
static void model_compact(model_t *md)
{
    size_t k = 0;
    for (size_t i = 0; i < md->nleases; i++)
        if (mlease_live(&md->leases[i]))
            md->leases[k++] = md->leases[i];
    md->nleases = k;
}

/* Leases up to max for group g and checks each lease; returns how many. */
static size_t model_lease(model_t *md, int g, size_t max, int64_t vis)
{
    if (md->nleases + max > MODEL_LEASES)
        model_compact(md);
    if (md->nleases + max > MODEL_LEASES)
        return 0;
    uint64_t avail = 0;
    for (uint64_t id = 1; id <= md->nmsgs; id++)
        avail += model_available(md, g, id);
    engine_lease_t out[64];
    size_t n;
    ck_assert_uint_le(max, 64);
    ck_assert_int_eq(engine_lease(md->e, "q", model_groups[g], max, 0, vis, out, &n), 0);
    if (n < max)
        ck_assert_msg(n == avail, "group %d leased %zu of max %zu; the model has %llu available", g,
                      n, max, (unsigned long long)avail);
    else
        ck_assert_uint_ge(avail, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t id = out[i].msg->id;
        ck_assert_uint_ge(id, 1);
        ck_assert_uint_le(id, md->nmsgs);
        mmsg_t *m = &md->m[id - 1];
        char body[24];
        snprintf(body, sizeof body, "m%llu", (unsigned long long)id);
        ck_assert_uint_eq(out[i].msg->len, m->len);
        ck_assert_int_eq(memcmp(msg_body(out[i].msg), body, m->len), 0);
        ck_assert_msg(!m->acked[g], "message %llu delivered to group %d after its ack",
                      (unsigned long long)id, g);
        ck_assert_msg(!model_leased(md, g, id), "message %llu leased twice to group %d",
                      (unsigned long long)id, g);
        ck_assert_msg(!model_key_blocked(md, g, id),
                      "message %llu (key %s) delivered to group %d before an earlier one",
                      (unsigned long long)id, model_keys[m->key], g);
        ck_assert_int_le(m->visible_at, clock_now);
        ck_assert_int_le(m->retry_at[g], clock_now);
        ck_assert_uint_eq(out[i].attempts, m->attempts[g] + 1);
        m->attempts[g]++;
        md->delivered[g]++;
        mlease_t *l = &md->leases[md->nleases++];
        l->g = g;
        l->id = id;
        l->expires = clock_now + (vis < 0 ? MODEL_VIS : vis);
        l->ended = false;
        memcpy(l->receipt, out[i].receipt, sizeof l->receipt);
        msg_unref(out[i].msg);
    }
    return n;
}

enum { M_ACK, M_RELEASE, M_UNDO };

/* Acks, releases or undoes lease i; a dead lease must be refused and is then forgotten. */
static void model_end(model_t *md, size_t i, int how, int64_t delay)
{
    mlease_t *l = &md->leases[i];
    bool live = mlease_live(l);
    int rc = how == M_ACK       ? engine_ack(md->e, "q", l->receipt)
             : how == M_RELEASE ? engine_release(md->e, "q", l->receipt, delay, "model")
                                : engine_undo(md->e, "q", l->receipt);
    if (!live) {
        ck_assert_msg(rc == SL_ENORECEIPT, "dead receipt %s (op %d) gave %d", l->receipt, how, rc);
        md->leases[i] = md->leases[--md->nleases];
        return;
    }
    ck_assert_msg(rc == 0, "live receipt %s (op %d) gave %d", l->receipt, how, rc);
    mmsg_t *m = &md->m[l->id - 1];
    l->ended = true;
    if (how == M_ACK) {
        ck_assert(!m->acked[l->g]);
        m->acked[l->g] = true;
        md->acked[l->g]++;
        md->acked_total++;
    } else if (how == M_RELEASE) {
        m->retry_at[l->g] = clock_now + delay;
    } else {
        m->attempts[l->g]--;
        md->delivered[l->g]--;
    }
}

static void model_check_counters(model_t *md)
{
    uint64_t messages = 0, bytes = 0, delayed = 0, in_flight = 0;
    uint64_t lag[MODEL_GROUPS] = {0}, gin[MODEL_GROUPS] = {0};
    for (uint64_t id = 1; id <= md->nmsgs; id++) {
        const mmsg_t *m = &md->m[id - 1];
        bool retained = false;
        for (int g = 0; g < md->ngroups; g++) {
            if (!m->acked[g]) {
                retained = true;
                lag[g] += m->visible_at <= clock_now;
            }
        }
        messages += retained;
        bytes += retained ? m->len : 0;
        delayed += m->visible_at > clock_now;
    }
    for (size_t i = 0; i < md->nleases; i++) {
        if (mlease_live(&md->leases[i])) {
            in_flight++;
            gin[md->leases[i].g]++;
        }
    }
    engine_queue_info_t qi;
    pool_t p;
    pool_init(&p);
    ck_assert_int_eq(engine_queue_info(md->e, "q", &p, &qi), 0);
    ck_assert_uint_eq(qi.messages, messages);
    ck_assert_uint_eq(qi.bytes, bytes);
    ck_assert_uint_eq(qi.delayed, delayed);
    ck_assert_uint_eq(qi.in_flight, in_flight);
    ck_assert_uint_eq(qi.published, md->nmsgs);
    ck_assert_uint_eq(qi.acked, md->acked_total);
    ck_assert_uint_eq(qi.expired + qi.dropped + qi.dead_lettered, 0);
    ck_assert_uint_eq(qi.ngroups, (size_t)md->ngroups);
    for (int g = 0; g < md->ngroups; g++) {
        const engine_group_info_t *gi = &qi.groups[g];
        ck_assert_str_eq(gi->name, model_groups[g]);
        ck_assert_uint_eq(gi->lag, lag[g]);
        ck_assert_uint_eq(gi->in_flight, gin[g]);
        ck_assert_uint_eq(gi->delivered, md->delivered[g]);
        ck_assert_uint_eq(gi->acked, md->acked[g]);
    }
    pool_cleanup(&p);
}

START_TEST(test_engine_randomized_operations_agree_with_a_model)
{
    static const uint64_t seeds[] = {1, 0x5eed, 20260101, 977};
    model_t *md = calloc(1, sizeof *md);
    md->m = calloc(MODEL_MSGS, sizeof *md->m);
    md->rng = seeds[_i] * UINT64_C(0x9e3779b97f4a7c15) + 1;
    md->ngroups = 2 + _i % 2;
    engine_settings_t s = base_settings();
    s.visibility_ms = MODEL_VIS;
    s.max_attempts = 0;
    s.max_in_flight_per_key = 1;
    md->e = engine_with(&s, 10);
    queue_set(md->e, "q", &s, 0);
    for (int g = 1; g < md->ngroups; g++)
        group_add(md->e, "q", model_groups[g], false);

    for (int step = 0; step < MODEL_STEPS; step++) {
        uint64_t r = rnd(md, 100);
        if (r < 22) {
            model_publish(md);
        } else if (r < 47) {
            int64_t vis = rnd(md, 2) ? -1 : 50 + (int64_t)rnd(md, 150);
            model_lease(md, (int)rnd(md, (uint64_t)md->ngroups), 1 + (size_t)rnd(md, 3), vis);
        } else if (r < 83 && md->nleases > 0) {
            size_t i = (size_t)rnd(md, md->nleases);
            if (r < 67)
                model_end(md, i, M_ACK, 0);
            else if (r < 78)
                model_end(md, i, M_RELEASE, rnd(md, 3) ? 0 : 1 + (int64_t)rnd(md, 150));
            else
                model_end(md, i, M_UNDO, 0);
        } else {
            clock_now += 1 + (int64_t)rnd(md, 80);
            engine_run_timers(md->e);
        }
        model_check_counters(md);
    }

    /* drain: every group leases and acks until nothing is left */
    for (int round = 0; round < 50; round++) {
        clock_now += 1000;
        engine_run_timers(md->e);
        model_compact(md);
        size_t got = 0;
        for (int g = 0; g < md->ngroups; g++) {
            size_t n;
            while ((n = model_lease(md, g, 64, -1)) > 0) {
                got += n;
                for (size_t i = md->nleases; i-- > 0;)
                    if (mlease_live(&md->leases[i]))
                        model_end(md, i, M_ACK, 0);
                model_compact(md);
            }
        }
        model_check_counters(md);
        if (got == 0)
            break;
    }
    for (uint64_t id = 1; id <= md->nmsgs; id++)
        for (int g = 0; g < md->ngroups; g++)
            ck_assert_msg(md->m[id - 1].acked[g], "message %llu never acked by group %d",
                          (unsigned long long)id, g);
    ck_assert_uint_eq(qinfo(md->e, "q").messages, 0);
    ck_assert_uint_gt(md->nmsgs, 500); /* the run did exercise the engine */
    engine_free(md->e);
    free(md->m);
    free(md);
}
END_TEST

/* ---------------------------------------------------------------- runner */

/* ---------------------------------------------------------------- group settings */

/* Adds group g with o to queue q, creating q if needed. */
static void group_add_opts(engine_t *e, const char *q, const char *g, const engine_group_opts_t *o)
{
    bool created = false;
    engine_settings_t s = base_settings();
    ck_assert_int_eq(engine_queue_put(e, q, &s, 0, &created), 0);
    ck_assert_int_eq(engine_group_put(e, q, g, o, 0, &created), 0);
    ck_assert(created);
}

START_TEST(test_engine_group_max_in_flight_one_keeps_strict_order_through_retries)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    group_add_opts(e, "jobs", "push", &(engine_group_opts_t){.max_in_flight = 1});
    publish_text(e, "jobs", "b");
    publish_text(e, "jobs", "c");
    got_t got[4];
    ck_assert_uint_eq(take_n(e, "jobs", "push", 4, got), 1);
    ck_assert_str_eq(got[0].body, "a");
    ck_assert_uint_eq(ginfo(e, "jobs", "push").ready, 0);
    /* a fails and waits out a delay: b must not overtake it */
    ck_assert_int_eq(engine_release(e, "jobs", got[0].receipt, 1000, "HTTP 500"), 0);
    take_none(e, "jobs", "push");
    engine_group_info_t gi = ginfo(e, "jobs", "push");
    ck_assert_uint_eq(gi.retrying, 1);
    ck_assert_uint_eq(gi.ready, 0);
    advance(e, 1000);
    ck_assert_uint_eq(ginfo(e, "jobs", "push").ready, 1);
    got_t again = take(e, "jobs", "push");
    ck_assert_str_eq(again.body, "a");
    ck_assert_uint_eq(again.attempts, 2);
    take_none(e, "jobs", "push");
    ack_ok(e, "jobs", again.receipt);
    ck_assert_str_eq(take(e, "jobs", "push").body, "b");
    /* the default group has no limit */
    ck_assert_uint_eq(take_n(e, "jobs", "default", 4, got), 3);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_max_in_flight_bounds_leases_and_keyed_lanes)
{
    engine_t *e = new_engine();
    group_add_opts(e, "jobs", "two", &(engine_group_opts_t){.max_in_flight = 2});
    publish_keyed(e, "jobs", "k1", "a");
    publish_keyed(e, "jobs", "k2", "b");
    publish_keyed(e, "jobs", "k3", "c");
    publish_text(e, "jobs", "plain");
    got_t got[8];
    ck_assert_uint_eq(ginfo(e, "jobs", "two").ready, 2);
    ck_assert_uint_eq(take_n(e, "jobs", "two", 8, got), 2);
    ck_assert_str_eq(got[0].body, "k1");
    ck_assert_str_eq(got[1].body, "k2");
    take_none(e, "jobs", "two");
    ack_ok(e, "jobs", got[1].receipt);
    ck_assert_uint_eq(take_n(e, "jobs", "two", 8, got + 2), 1);
    ck_assert_str_eq(got[2].body, "k3");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_room_under_its_limit_wakes_a_waiter)
{
    engine_t *e = new_engine();
    group_add_opts(e, "jobs", "one", &(engine_group_opts_t){.max_in_flight = 1});
    publish_text(e, "jobs", "a");
    publish_text(e, "jobs", "b");
    got_t a = take(e, "jobs", "one");
    wtest_t w;
    wait_on(e, "jobs", "one", &w, INT64_MAX);
    w.lease = true;
    ack_ok(e, "jobs", a.receipt);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_uint_eq(w.leased, 1);
    ck_assert_str_eq(w.got.body, "b");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_put_changes_the_limits_of_an_existing_group)
{
    engine_t *e = new_engine();
    group_add_opts(e, "jobs", "g", &(engine_group_opts_t){.max_in_flight = 1});
    publish_text(e, "jobs", "a");
    publish_text(e, "jobs", "b");
    got_t a = take(e, "jobs", "g");
    take_none(e, "jobs", "g");
    wtest_t w;
    wait_on(e, "jobs", "g", &w, INT64_MAX);
    bool created = true;
    engine_group_opts_t o = {.max_in_flight = 0, .max_attempts = 7};
    ck_assert_int_eq(engine_group_put(e, "jobs", "g", &o,
                                      ENGINE_GSET_MAX_IN_FLIGHT | ENGINE_GSET_MAX_ATTEMPTS,
                                      &created),
                     0);
    ck_assert(!created);
    ck_assert_int_eq(w.calls, 1); /* the limit went away: the waiter may lease */
    engine_group_info_t gi = ginfo(e, "jobs", "g");
    ck_assert_uint_eq(gi.max_in_flight, 0);
    ck_assert_uint_eq(gi.max_attempts, 7);
    ck_assert_str_eq(take(e, "jobs", "g").body, "b");
    ack_ok(e, "jobs", a.receipt);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_fanout_queue_keeps_messages_only_for_its_groups)
{
    engine_settings_t st = base_settings();
    engine_config_t cfg = {
        .defaults = st, .max_queues = 10, .clock = fake_clock, .fanout_queue = "mqgo"};
    engine_t *e = engine_new(&cfg);
    publish_text(e, "mqgo", "to nobody"); /* creates the queue, with no group */
    engine_queue_info_t qi = qinfo(e, "mqgo");
    ck_assert_uint_eq(qi.ngroups, 0);
    ck_assert_uint_eq(qi.messages, 0);
    ck_assert_uint_eq(qi.published, 1);
    ck_assert_int_eq(engine_group_info(e, "mqgo", "default", &pool, &(engine_group_info_t){0}),
                     SL_ENOGROUP);
    group_add_opts(e, "mqgo", "r1", &(engine_group_opts_t){.from_latest = true});
    publish_text(e, "mqgo", "to r1");
    ck_assert_uint_eq(qinfo(e, "mqgo").messages, 1);
    got_t g = take(e, "mqgo", "r1");
    ck_assert_str_eq(g.body, "to r1");
    ack_ok(e, "mqgo", g.receipt);
    ck_assert_uint_eq(qinfo(e, "mqgo").messages, 0); /* its only group is done with it */
    publish_text(e, "other", "x");                   /* every other queue has its default group */
    ck_assert_uint_eq(ginfo(e, "other", "default").lag, 1);
    engine_free(e);
}
END_TEST

/* What a log says of a queue with settings s, created at T0, before anything else is restored. */
static engine_queue_info_t queue_info(engine_settings_t s)
{
    return (engine_queue_info_t){.settings = s, .created_at = T0};
}

START_TEST(test_engine_a_queue_restored_as_its_own_dead_letter_queue_redelivers)
{
    /* the API refuses a queue as its own dead-letter queue; a damaged log can still say so */
    engine_t *e = new_engine();
    engine_queue_info_t info = queue_info(base_settings());
    info.settings.max_attempts = 1;
    info.settings.max_messages = 1; /* dead-lettering into it would drop the message itself */
    snprintf(info.settings.dlq, sizeof info.settings.dlq, "jobs");
    ck_assert_int_eq(engine_restore_queue(e, "jobs", &info), 0);
    engine_restore_done(e, "jobs");
    publish_text(e, "jobs", "x");
    got_t g = take(e, "jobs", "default");
    ck_assert_int_eq(engine_release(e, "jobs", g.receipt, 0, "boom"), 0);
    ck_assert_uint_eq(qinfo(e, "jobs").dead_lettered, 0);
    got_t again = take(e, "jobs", "default");
    ck_assert_str_eq(again.body, "x");
    ck_assert_uint_eq(again.attempts, 2);
    engine_free(e);
}
END_TEST

/* Restores queue "jobs" (default settings but s) with groups default (id 1) and audit (id 2),
 * as a log would, ready for messages. */
static void restore_jobs(engine_t *e, const engine_settings_t *s)
{
    engine_queue_info_t info = queue_info(*s);
    info.dlq_auto = true; /* jobs.dlq */
    ck_assert_int_eq(engine_restore_queue(e, "jobs", &info), 0);
    engine_group_info_t g;
    memset(&g, 0, sizeof g);
    g.name = "default";
    g.gid = 1;
    ck_assert_int_eq(engine_restore_group(e, "jobs", &g), 0);
    g.name = "audit";
    g.gid = 2;
    ck_assert_int_eq(engine_restore_group(e, "jobs", &g), 0);
    engine_restore_done(e, "jobs");
}

/* Restores message id of "jobs" with body text, finished by group gid (0: by none). */
static void restore_text(engine_t *e, uint64_t id, const char *text, uint32_t finished_by)
{
    msg_t *m = make_msg(text, NULL);
    m->id = id;
    m->published_at = T0;
    engine_gstate_t st;
    memset(&st, 0, sizeof st);
    st.gid = finished_by;
    st.finished = true;
    ck_assert_int_eq(engine_restore_message(e, "jobs", m, 0, &st, finished_by ? 1 : 0), 0);
}

START_TEST(test_engine_restored_out_of_order_ack_is_forgotten_when_the_message_goes)
{
    /* before a restart: default acked 2 but not 1; audit acked nothing */
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    restore_jobs(e, &s);
    restore_text(e, 1, "one", 0);
    restore_text(e, 2, "two", 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "audit").lag, 2);
    /* audit finishes both: 2 leaves the queue before default's cursor reaches it */
    for (int i = 0; i < 2; i++)
        ack_ok(e, "jobs", take(e, "jobs", "audit").receipt);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 1);
    got_t g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.id, 1);
    take_none(e, "jobs", "default");
    ack_ok(e, "jobs", g.receipt);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    ck_assert_int_eq(engine_group_delete(e, "jobs", "audit"), 0);
    ck_assert_int_eq(engine_queue_delete(e, "jobs"), 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_restored_out_of_order_ack_is_forgotten_when_retention_drops_the_message)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    restore_jobs(e, &s);
    /* audit (after default in the queue's groups) acked 2 and 3 before a restart, not 1 */
    restore_text(e, 1, "one", 0);
    restore_text(e, 2, "two", 2);
    restore_text(e, 3, "three", 2);
    s.max_messages = 1; /* drops 1 and 2; 3 stays for default */
    queue_set(e, "jobs", &s, ENGINE_SET_MAX_MESSAGES);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "audit").lag, 0);
    take_none(e, "jobs", "audit");
    ck_assert_uint_eq(take(e, "jobs", "default").id, 3);
    ck_assert_int_eq(engine_group_delete(e, "jobs", "audit"), 0);
    engine_free(e); /* with default's lease of 3 still there */
}
END_TEST

START_TEST(test_engine_restore_brings_extreme_times_and_durations_into_range)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    s.visibility_ms = INT64_MAX;
    s.dedup_ms = INT64_MAX;
    s.max_age_ms = -1;
    s.max_in_flight_per_key = 0;
    restore_jobs(e, &s);
    engine_queue_info_t qi = qinfo(e, "jobs");
    ck_assert_int_eq(qi.settings.visibility_ms, DUR_MAX_MS);
    ck_assert_int_eq(qi.settings.dedup_ms, DUR_MAX_MS);
    ck_assert_int_eq(qi.settings.max_age_ms, 0);
    ck_assert_uint_eq(qi.settings.max_in_flight_per_key, 1);
    /* published at INT64_MAX: its key is remembered (till the end of the window), no overflow */
    ck_assert_int_eq(engine_restore_idem(e, "jobs", "k", 1, 1, INT64_MAX), 0);
    msg_t *m = msg_new_ext("late", 4, NULL, 0, NULL, 0);
    m->id = 1;
    m->published_at = T0;
    msg_ext(m)->expires_at = INT64_MIN; /* before the epoch: taken as none */
    ck_assert_int_eq(engine_restore_message(e, "jobs", m, INT64_MAX, NULL, 0), 0);
    engine_peek_item_t it;
    ck_assert_int_eq(state_of(e, "jobs", "default", 1, &it), ENGINE_DELAYED);
    ck_assert_int_eq(it.until, INT64_C(253402300799999)); /* the end of year 9999 */
    bool dup;
    ck_assert_uint_eq(publish_idem(e, "jobs", "again", "k", &dup), 1);
    ck_assert(dup);
    ck_assert_int_lt(engine_run_timers(e), INT64_MAX);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_restore_replaces_a_dead_letter_queue_that_is_not_a_queue_name)
{
    /* only a damaged log holds one (the API refuses it): dead-lettering would create a queue
     * that the next start skips, so the default, jobs.dlq, takes its place */
    engine_t *e = new_engine();
    engine_queue_info_t info = queue_info(base_settings());
    info.settings.max_attempts = 1;
    strcpy(info.settings.dlq, "bad name");
    ck_assert_int_eq(engine_restore_queue(e, "jobs", &info), 0);
    ck_assert_str_eq(qinfo(e, "jobs").settings.dlq, "jobs.dlq");
    engine_free(e);
}
END_TEST

START_TEST(test_engine_restore_leaves_out_a_message_whose_attributes_do_not_parse)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    restore_jobs(e, &s);
    static const unsigned char bad[] = "\x0c"
                                       "content-type\x0a"; /* the value's length is cut */
    msg_t *m = msg_new("x", 1, NULL, 0, bad, sizeof bad - 1);
    m->id = 4;
    ck_assert_int_eq(engine_restore_message(e, "jobs", m, 0, NULL, 0), SL_EPARAM);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    ck_assert_uint_eq(publish_text(e, "jobs", "next"), 5); /* its id stays used */
    engine_free(e);
}
END_TEST

START_TEST(test_engine_restore_ends_a_failure_history_at_an_unknown_event)
{
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    s.max_attempts = 4;
    restore_jobs(e, &s);
    msg_t *m = make_msg("payload", NULL);
    m->id = 1;
    m->published_at = T0;
    engine_gstate_t st[2];
    memset(st, 0, sizeof st);
    st[0].gid = 1;
    st[0].attempts = 3;
    st[0].nfail = 3;
    st[0].fail[0] = (engine_failure_t){T0 + 1, 0, ""};   /* kept: lease expired */
    st[0].fail[1] = (engine_failure_t){T0 + 2, 33, "?"}; /* unknown: ends the history */
    st[0].fail[2] = (engine_failure_t){T0 + 3, 1, "e3"};
    st[1].gid = 2;
    st[1].finished = true;
    ck_assert_int_eq(engine_restore_message(e, "jobs", m, 0, st, 2), 0);
    got_t g = take(e, "jobs", "default");
    ck_assert_uint_eq(g.attempts, 4);
    ck_assert_int_eq(engine_release(e, "jobs", g.receipt, 0, "e4"), 0);
    ck_assert_uint_eq(qinfo(e, "jobs").dead_lettered, 1);
    msg_t *d = peek_msg(e, "jobs.dlq", 1);
    char hist[128];
    snprintf(hist, sizeof hist, "%lld released e3\n%lld released e4", (long long)(T0 + 3),
             (long long)T0);
    ck_assert_str_eq(attr_str(d, "sluice-history"), hist);
    msg_unref(d);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_a_queue_whose_ids_are_used_up_refuses_publishes)
{
    /* ids are never reused: a restored last id near the top leaves only what is below it */
    engine_t *e = new_engine();
    engine_queue_info_t info = queue_info(base_settings());
    info.last_id = ENGINE_ID_MAX - 1;
    ck_assert_int_eq(engine_restore_queue(e, "jobs", &info), 0);
    engine_restore_done(e, "jobs");
    engine_pub_t two[2] = {{.msg = make_msg("a", NULL)}, {.msg = make_msg("b", NULL)}};
    ck_assert_int_eq(engine_publish(e, "jobs", two, 2), SL_EIDS); /* all or nothing */
    msg_unref(two[0].msg);
    msg_unref(two[1].msg);
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    ck_assert_uint_eq(publish_text(e, "jobs", "last"), ENGINE_ID_MAX);
    engine_pub_t p = {.msg = make_msg("one more", NULL)};
    ck_assert_int_eq(engine_publish(e, "jobs", &p, 1), SL_EIDS);
    msg_unref(p.msg);
    ck_assert_uint_eq(qinfo(e, "jobs").last_id, ENGINE_ID_MAX);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_restore_says_when_no_group_needs_a_message)
{
    /* the store records such a message as gone: a group made from=earliest afterwards must not
     * find it in the log at the next restart */
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    restore_jobs(e, &s); /* groups default (1) and audit (2) */
    engine_gstate_t done[2] = {{.gid = 1, .finished = true}, {.gid = 2, .finished = true}};
    msg_t *m = msg_new("x", 1, NULL, 0, NULL, 0);
    m->id = 1;
    ck_assert_int_eq(engine_restore_message(e, "jobs", m, 0, done, 2), ENGINE_RESTORE_GONE);
    m = msg_new("y", 1, NULL, 0, NULL, 0);
    m->id = 2;
    ck_assert_int_eq(engine_restore_message(e, "jobs", m, 0, done, 1), 0); /* audit has it */
    engine_restore_done(e, "jobs");
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_restore_leaves_out_a_message_whose_id_is_past_the_last_one)
{
    /* no server hands out UINT64_MAX: a log that names it is damaged, and a group made
     * from=latest afterwards (it starts at UINT64_MAX) must not get that message */
    engine_t *e = new_engine();
    engine_settings_t s = base_settings();
    restore_jobs(e, &s);
    msg_t *m = msg_new("x", 1, NULL, 0, NULL, 0);
    m->id = UINT64_MAX;
    ck_assert_int_eq(engine_restore_message(e, "jobs", m, 0, NULL, 0), SL_EPARAM);
    engine_restore_done(e, "jobs");
    ck_assert_uint_eq(qinfo(e, "jobs").messages, 0);
    group_add(e, "jobs", "late", true);
    ck_assert_uint_eq(ginfo(e, "jobs", "late").lag, 0);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_restored_group_ids_are_never_handed_out_again)
{
    engine_t *e = new_engine();
    engine_queue_info_t info = queue_info(base_settings());
    ck_assert_int_eq(engine_restore_queue(e, "jobs", &info), 0);
    engine_group_info_t d = {.name = "default", .gid = 1};
    ck_assert_int_eq(engine_restore_group(e, "jobs", &d), 0);
    engine_restore_gid(e, "jobs", 5); /* a deleted group's, say */
    engine_restore_done(e, "jobs");
    group_add(e, "jobs", "new", false);
    ck_assert_uint_eq(ginfo(e, "jobs", "new").gid, 6);

    /* a log that names the last group id leaves no id for a new group */
    ck_assert_int_eq(engine_restore_queue(e, "full", &info), 0);
    engine_restore_gid(e, "full", UINT32_MAX);
    engine_restore_done(e, "full"); /* its default group takes the lowest id no group has */
    ck_assert_uint_eq(ginfo(e, "full", "default").gid, 1);
    bool created;
    ck_assert_int_eq(engine_group_put(e, "full", "g", NULL, 0, &created), SL_ETOOMANYGROUPS);
    ck_assert(!created);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_max_attempts_overrides_the_queue_setting)
{
    engine_t *e = new_engine(); /* the queue allows many attempts */
    group_add_opts(e, "jobs", "hook", &(engine_group_opts_t){.max_attempts = 2});
    publish_text(e, "jobs", "x");
    for (int i = 0; i < 2; i++) {
        got_t g = take(e, "jobs", "hook");
        ck_assert_int_eq(engine_release(e, "jobs", g.receipt, 0, "HTTP 503"), 0);
    }
    take_none(e, "jobs", "hook");
    ck_assert_uint_eq(qinfo(e, "jobs").dead_lettered, 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "hook").dead_lettered, 1);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").dead_lettered, 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "hook").lag, 0);
    ck_assert_uint_eq(ginfo(e, "jobs", "default").lag, 1); /* still there for the others */
    got_t d = take(e, "jobs.dlq", "default");
    ck_assert_str_eq(d.body, "x");
    ck_assert_uint_eq(d.attempts, 1);
    engine_free(e);
}
END_TEST

START_TEST(test_engine_group_meta_is_kept_and_bounded)
{
    engine_t *e = new_engine();
    publish_text(e, "jobs", "a");
    group_add_opts(e, "jobs", "s", &(engine_group_opts_t){.meta = "{\"url\":\"http://x\"}"});
    ck_assert_str_eq(ginfo(e, "jobs", "s").meta, "{\"url\":\"http://x\"}");
    ck_assert_ptr_null(ginfo(e, "jobs", "default").meta);
    char *big = malloc(ENGINE_META_MAX + 2);
    memset(big, 'm', ENGINE_META_MAX + 1);
    big[ENGINE_META_MAX + 1] = '\0';
    bool created;
    ck_assert_int_eq(
        engine_group_put(e, "jobs", "t", &(engine_group_opts_t){.meta = big}, 0, &created),
        SL_EPARAM);
    big[ENGINE_META_MAX] = '\0';
    ck_assert_int_eq(
        engine_group_put(e, "jobs", "t", &(engine_group_opts_t){.meta = big}, 0, &created), 0);
    ck_assert_uint_eq(strlen(ginfo(e, "jobs", "t").meta), ENGINE_META_MAX);
    free(big);
    engine_free(e);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_engine_name_valid_accepts_the_grammar_and_nothing_else);
    tcase_add_test(tc, test_engine_expired_message_on_the_retry_list_is_never_leased);
    tcase_add_test(tc, test_engine_expired_keyed_message_waiting_in_its_lane_is_never_leased);
    tcase_add_test(tc, test_engine_shortened_dedup_window_applies_to_keys_published_after);
    tcase_add_test(tc, test_engine_publish_with_an_invalid_name_is_ename_and_stores_nothing);
    tcase_add_test(tc, test_engine_publish_creates_the_queue_with_a_default_group);
    tcase_add_test(tc, test_engine_publish_ids_strictly_increase_from_one_per_queue);
    tcase_add_test(tc, test_engine_new_rejects_an_invalid_config);
    tcase_add_test(tc, test_engine_max_queues_refuses_another_queue_with_etoomany);
    tcase_add_test(tc, test_engine_unknown_queue_and_group_are_reported);
    tcase_add_test(tc, test_engine_lease_then_ack_removes_the_message);
    tcase_add_test(tc, test_engine_lease_hands_out_messages_in_publish_order_up_to_max);
    tcase_add_test(tc, test_engine_lease_never_takes_bodies_past_max_bytes);
    tcase_add_test(tc, test_engine_lease_always_returns_one_message_even_above_max_bytes);
    tcase_add_test(tc, test_engine_lease_of_an_empty_queue_returns_nothing);
    tcase_add_test(tc, test_engine_ack_of_a_used_receipt_is_enoreceipt);
    tcase_add_test(tc, test_engine_garbage_receipts_are_enoreceipt);
    tcase_add_test(tc, test_engine_receipt_of_another_queue_is_enoreceipt);
    tcase_add_test(tc, test_engine_lease_expiry_redelivers_with_attempts_plus_one);
    tcase_add_test(tc, test_engine_lease_visibility_argument_overrides_the_queue_setting);
    tcase_add_test(tc, test_engine_lease_with_zero_visibility_expires_at_the_next_timer_run);
    tcase_add_test(tc, test_engine_release_makes_the_message_visible_again_at_once);
    tcase_add_test(tc, test_engine_release_with_delay_hides_the_message_until_the_delay_ends);
    tcase_add_test(tc, test_engine_undo_does_not_count_the_attempt_and_puts_the_message_first);
    tcase_add_test(tc, test_engine_undo_never_dead_letters);
    tcase_add_test(tc, test_engine_redeliveries_go_before_new_messages);
    tcase_add_test(tc, test_engine_max_attempts_moves_the_message_to_the_dlq_with_its_origin);
    tcase_add_test(tc,
                   test_engine_release_at_max_attempts_dead_letters_with_last_error_and_history);
    tcase_add_test(tc, test_engine_dead_letter_history_keeps_the_last_ten_failures);
    tcase_add_test(tc, test_engine_dead_letter_history_survives_long_errors);
    tcase_add_test(tc, test_engine_release_error_is_cut_at_error_max);
    tcase_add_test(tc, test_engine_dead_letter_records_the_group_that_gave_up);
    tcase_add_test(tc, test_engine_dead_letter_in_one_group_leaves_the_other_groups_alone);
    tcase_add_test(tc, test_engine_queue_ending_in_dlq_has_no_dead_letter_queue_by_default);
    tcase_add_test(tc, test_engine_default_dlq_is_none_when_its_name_would_be_too_long);
    tcase_add_test(tc, test_engine_empty_dead_letter_queue_setting_redelivers_without_limit);
    tcase_add_test(tc, test_engine_custom_dead_letter_queue_receives_the_dead_letters);
    tcase_add_test(tc, test_engine_queue_put_rejects_an_invalid_or_self_dead_letter_queue);
    tcase_add_test(tc, test_engine_dead_letter_queue_that_cannot_be_created_means_redelivery);
    tcase_add_test(tc, test_engine_redrive_from_the_dlq_moves_every_dead_letter_home);
    tcase_add_test(tc, test_engine_redrive_from_the_source_queue_moves_only_its_own_dead_letters);
    tcase_add_test(tc, test_engine_redrive_by_id_moves_those_and_reports_ids_not_found);
    tcase_add_test(tc, test_engine_redriven_message_goes_only_to_its_origin_group);
    tcase_add_test(tc, test_engine_redrive_for_a_deleted_group_goes_to_every_group);
    tcase_add_test(tc, test_engine_redrive_recreates_a_deleted_origin_queue);
    tcase_add_test(tc, test_engine_redrive_of_an_empty_or_unrelated_queue_moves_nothing);
    tcase_add_test(tc, test_engine_redrive_that_cannot_recreate_the_origin_queue_is_etoomany);
    tcase_add_test(tc, test_engine_every_group_receives_every_message);
    tcase_add_test(tc, test_engine_consumers_in_one_group_compete);
    tcase_add_test(tc, test_engine_group_from_earliest_starts_at_the_oldest_retained_message);
    tcase_add_test(tc, test_engine_group_from_latest_starts_at_the_next_publish);
    tcase_add_test(tc, test_engine_group_put_of_an_existing_group_leaves_it_unchanged);
    tcase_add_test(tc, test_engine_group_max_in_flight_one_keeps_strict_order_through_retries);
    tcase_add_test(tc, test_engine_group_max_in_flight_bounds_leases_and_keyed_lanes);
    tcase_add_test(tc, test_engine_group_room_under_its_limit_wakes_a_waiter);
    tcase_add_test(tc, test_engine_group_put_changes_the_limits_of_an_existing_group);
    tcase_add_test(tc, test_engine_group_max_attempts_overrides_the_queue_setting);
    tcase_add_test(tc, test_engine_a_queue_restored_as_its_own_dead_letter_queue_redelivers);
    tcase_add_test(tc, test_engine_a_queue_whose_ids_are_used_up_refuses_publishes);
    tcase_add_test(tc, test_engine_restore_leaves_out_a_message_whose_id_is_past_the_last_one);
    tcase_add_test(tc, test_engine_restore_says_when_no_group_needs_a_message);
    tcase_add_test(tc, test_engine_restored_group_ids_are_never_handed_out_again);
    tcase_add_test(tc, test_engine_restored_out_of_order_ack_is_forgotten_when_the_message_goes);
    tcase_add_test(
        tc, test_engine_restored_out_of_order_ack_is_forgotten_when_retention_drops_the_message);
    tcase_add_test(tc, test_engine_restore_brings_extreme_times_and_durations_into_range);
    tcase_add_test(tc, test_engine_restore_replaces_a_dead_letter_queue_that_is_not_a_queue_name);
    tcase_add_test(tc, test_engine_restore_leaves_out_a_message_whose_attributes_do_not_parse);
    tcase_add_test(tc, test_engine_restore_ends_a_failure_history_at_an_unknown_event);
    tcase_add_test(tc, test_engine_fanout_queue_keeps_messages_only_for_its_groups);
    tcase_add_test(tc, test_engine_group_meta_is_kept_and_bounded);
    tcase_add_test(tc, test_engine_group_delete_drops_its_claims_and_leases);
    tcase_add_test(tc, test_engine_group_delete_with_keyed_and_delayed_claims_frees_everything);
    tcase_add_test(tc, test_engine_default_group_cannot_be_deleted);
    tcase_add_test(tc, test_engine_delayed_publish_is_invisible_until_due);
    tcase_add_test(tc, test_engine_run_timers_returns_the_next_deadline);
    tcase_add_test(tc, test_engine_deliver_at_in_the_past_is_visible_at_once);
    tcase_add_test(tc, test_engine_delayed_message_counts_in_delayed_and_not_in_lag_until_due);
    tcase_add_test(tc, test_engine_delayed_messages_come_due_in_deliver_time_order);
    tcase_add_test(tc, test_engine_ttl_expired_message_is_never_delivered);
    tcase_add_test(tc, test_engine_ttl_expired_message_is_not_delivered_before_its_timer_runs);
    tcase_add_test(tc, test_engine_ttl_that_ends_while_delayed_is_never_delivered);
    tcase_add_test(tc, test_engine_ttl_drops_a_message_other_groups_still_need);
    tcase_add_test(tc, test_engine_same_key_messages_go_out_in_publish_order_one_at_a_time);
    tcase_add_test(tc, test_engine_other_keys_proceed_while_a_key_is_blocked);
    tcase_add_test(tc, test_engine_max_in_flight_per_key_two_lets_two_through_in_order);
    tcase_add_test(tc, test_engine_lease_expiry_of_a_keyed_message_keeps_key_order);
    tcase_add_test(tc, test_engine_release_and_undo_of_a_keyed_message_keep_key_order);
    tcase_add_test(tc, test_engine_raising_max_in_flight_per_key_lets_more_through);
    tcase_add_test(tc, test_engine_key_lanes_are_per_group);
    tcase_add_test(tc, test_engine_keyed_message_behind_a_lease_peeks_as_waiting_key);
    tcase_add_test(tc, test_engine_keyed_message_whose_turn_came_is_ready_not_waiting);
    tcase_add_test(tc, test_engine_idempotency_key_within_the_window_returns_the_original_id);
    tcase_add_test(tc, test_engine_idempotency_key_after_the_window_stores_a_new_message);
    tcase_add_test(tc, test_engine_idempotency_applies_inside_one_batch_and_per_queue);
    tcase_add_test(tc, test_engine_idempotency_is_off_with_a_zero_window);
    tcase_add_test(tc, test_engine_max_messages_drops_the_oldest_even_when_leased);
    tcase_add_test(tc, test_engine_max_bytes_drops_the_oldest);
    tcase_add_test(tc, test_engine_retention_drops_messages_every_group_still_needs);
    tcase_add_test(tc, test_engine_delayed_messages_count_toward_limits_but_drop_only_once_visible);
    tcase_add_test(tc, test_engine_max_age_drops_messages_older_than_it);
    tcase_add_test(tc, test_engine_lowering_limits_applies_at_once);
    tcase_add_test(tc, test_engine_retention_drop_of_a_leased_keyed_message_unblocks_its_key);
    tcase_add_test(tc, test_engine_purge_deletes_every_message_and_lease_and_keeps_the_queue);
    tcase_add_test(tc, test_engine_queue_delete_removes_it_and_everything_in_it);
    tcase_add_test(tc, test_engine_publish_wakes_as_many_waiters_as_messages);
    tcase_add_test(tc, test_engine_wake_callback_may_lease_reentrantly);
    tcase_add_test(tc, test_engine_waiter_that_finds_nothing_may_park_again);
    tcase_add_test(tc, test_engine_waiter_deadline_times_out);
    tcase_add_test(tc, test_engine_wait_cancel_prevents_the_callback);
    tcase_add_test(tc, test_engine_wait_cancel_of_a_woken_waiter_prevents_its_callback);
    tcase_add_test(tc, test_engine_wake_all_wakes_every_waiter_with_eshutdown);
    tcase_add_test(tc, test_engine_queue_delete_wakes_its_waiters_with_enoqueue);
    tcase_add_test(tc, test_engine_group_delete_wakes_its_waiters_with_enogroup);
    tcase_add_test(tc, test_engine_redelivery_and_end_of_release_delay_wake_a_waiter);
    tcase_add_test(tc, test_engine_raising_max_in_flight_per_key_wakes_a_waiter);
    tcase_add_test(tc, test_engine_free_forgets_registered_waiters_without_a_callback);
    tcase_add_test(tc, test_engine_peek_reports_each_state_as_the_group_sees_it);
    tcase_add_test(tc, test_engine_peek_pages_with_after_limit_and_more);
    tcase_add_test(tc, test_engine_peek_of_a_group_from_latest_lists_only_its_messages);
    tcase_add_test(tc, test_engine_state_names_match_the_api);
    tcase_add_test(tc, test_engine_queue_and_group_info_count_what_happened);
    tcase_add_test(tc, test_engine_queue_list_is_sorted_by_name_with_counters);
    tcase_add_test(tc, test_engine_queue_put_sets_only_the_fields_in_the_mask);
    tcase_add_loop_test(tc, test_engine_randomized_operations_agree_with_a_model, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(engine_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
