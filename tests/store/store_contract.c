/*
 * store_contract.c — the storage contract: one suite that every backend must pass, unchanged
 * (STYLE rule 8). It sees a backend only through store.h — store_open(), store_submit() and the
 * other wrappers — and never calls the queue engine, so it holds for a SQL backend that has no
 * engine as much as for `memory`.
 *
 * `store_contract --backends` prints the names store_names() lists, one per line; `make store`
 * then runs the binary once per name with SLUICE_STORE=<name> (the first name listed when
 * unset). Check forks every test, and each test opens a fresh backend on a fresh loop with a
 * fresh temporary data_dir, so durable backends start empty and no test sees another's state.
 *
 * Requests complete through their callback, which may run inline or later from the loop. The
 * helpers therefore submit, then run the loop until the callback has fired, with a guard timer:
 * a backend that never answers fails the test (after AWAIT_MS) instead of hanging it. Every
 * request is a call_t with its own result pool, kept until the end of the test, when the suite
 * checks that no callback ran twice and releases the message references the results hold.
 *
 * Timing tests use short durations (tens of milliseconds). Where a message must appear after a
 * delay, the test leases repeatedly until it does and checks the lower bound of the time taken,
 * so a slower backend does not make the suite flaky while an early delivery is still caught.
 */
#include <check.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "dur.h"
#include "engine.h"
#include "err.h"
#include "msg.h"
#include "pool.h"
#include "store.h"

/* The longest any request may take to be answered before the test fails. */
#define AWAIT_MS 2000
/* How long a test waits for something time-driven (expiry, delay) before failing. */
#define EVENTUALLY_MS 2000
/* Allowed early firing of a timer: backends keep time in whole milliseconds. */
#define SLACK_MS 5

#define DEFAULT_VISIBILITY_MS 30000
#define DEFAULT_MAX_ATTEMPTS 10
#define DEFAULT_DEDUP_MS 300000

/* The run's temporary directory, made by main() and removed by it after every test, so that a
 * test that crashed leaves nothing behind. Each test works in a directory of its own inside. */
static char root_dir[200];

/* One request and what became of it. */
typedef struct call {
    store_req_t req;
    pool_t pool;       /* the request's result pool */
    int calls;         /* times the callback ran */
    int64_t done_ms;   /* now_ms() when it last ran */
    struct call *next; /* every call of the test, newest first */
} call_t;

/* The fixture: one backend on one loop, for one test. */
static struct {
    uv_loop_t loop;
    store_t *store;
    char dir[256];      /* the test's temporary directory, removed at teardown */
    char data_dir[300]; /* the backend's, inside dir */
    int opened;
    uv_timer_t guard; /* ends run_until() */
    bool guard_fired;
    uv_timer_t later; /* submits later_call from the loop (publish_later) */
    call_t *later_call;
    call_t *calls;
} fx;

static const char *backend_name(void)
{
    const char *name = getenv("SLUICE_STORE");
    return name && *name ? name : store_names()[0];
}

static int64_t now_ms(void)
{
    return (int64_t)(uv_hrtime() / 1000000);
}

/* Asserts that an SL_E* result is the one expected, naming both in the failure. */
#define assert_err(got, want)                                                                     \
    do {                                                                                          \
        int got_ = (got), want_ = (want);                                                         \
        ck_assert_msg(got_ == want_, "%s: got %d (%s), want %d (%s)", #got, got_, err_text(got_), \
                      want_, err_text(want_));                                                    \
    } while (0)

/* ---------------------------------------------------------------- fixture */

/* Opens the backend on an empty directory of its own under the test's temporary directory. */
static void store_open_fresh(uint32_t max_queues)
{
    snprintf(fx.data_dir, sizeof fx.data_dir, "%s/data%d", fx.dir, fx.opened++);
    ck_assert_msg(mkdir(fx.data_dir, 0700) == 0, "cannot create %s", fx.data_dir);
    store_config_t cfg = {
        .name = backend_name(),
        .data_dir = fx.data_dir, /* kept until teardown, in case the backend keeps it */
        .engine = {.defaults = {.visibility_ms = DEFAULT_VISIBILITY_MS,
                                .max_attempts = DEFAULT_MAX_ATTEMPTS,
                                .max_in_flight_per_key = 1,
                                .max_messages = 0,
                                .max_bytes = 0,
                                .max_age_ms = 0,
                                .dedup_ms = DEFAULT_DEDUP_MS},
                   .max_queues = max_queues},
    };
    int err = store_open(&cfg, &fx.loop, &fx.store);
    ck_assert_msg(err == 0, "store_open('%s') failed: %s", cfg.name, err_text(err));
    ck_assert_ptr_nonnull(fx.store);
}

/* Runs the loop until nothing is left on it, or fails after AWAIT_MS. */
static void loop_settle(void)
{
    int64_t deadline = now_ms() + AWAIT_MS;
    while (uv_run(&fx.loop, UV_RUN_NOWAIT) != 0) {
        ck_assert_msg(now_ms() < deadline, "the loop still has active handles after close");
        usleep(1000);
    }
}

static void store_close_now(void)
{
    store_close(fx.store);
    fx.store = NULL;
    loop_settle();
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void setup(void)
{
    memset(&fx, 0, sizeof fx);
    snprintf(fx.dir, sizeof fx.dir, "%s/test-XXXXXX", root_dir);
    ck_assert_ptr_nonnull(mkdtemp(fx.dir));
    ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
    uv_timer_init(&fx.loop, &fx.guard);
    uv_timer_init(&fx.loop, &fx.later);
    store_open_fresh(10000);
}

static void teardown(void)
{
    for (call_t *c = fx.calls; c; c = c->next) {
        ck_assert_msg(c->calls <= 1, "a request's callback ran %d times", c->calls);
        store_req_cleanup(&c->req);
    }
    uv_close((uv_handle_t *)&fx.guard, NULL);
    uv_close((uv_handle_t *)&fx.later, NULL);
    store_close_now();
    ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
    while (fx.calls) {
        call_t *c = fx.calls;
        fx.calls = c->next;
        pool_cleanup(&c->pool);
        free(c);
    }
    nftw(fx.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------------- running the loop */

static void on_guard(uv_timer_t *t)
{
    (void)t;
    fx.guard_fired = true;
}

/* Runs the loop until *count is non-zero (count may be NULL: never) or ms have passed. */
static void run_until(const int *count, int64_t ms)
{
    fx.guard_fired = false;
    uv_update_time(&fx.loop);
    uv_timer_start(&fx.guard, on_guard, (uint64_t)ms, 0);
    while ((count == NULL || *count == 0) && !fx.guard_fired)
        uv_run(&fx.loop, UV_RUN_ONCE);
    uv_timer_stop(&fx.guard);
}

static void run_for(int64_t ms)
{
    run_until(NULL, ms);
}

/* ---------------------------------------------------------------- requests */

static void on_done(store_req_t *req)
{
    call_t *c = req->data;
    c->calls++;
    c->done_ms = now_ms();
}

/* Returns a new request for op (freed at teardown). */
static call_t *call_new(int op, const char *queue, const char *group)
{
    call_t *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    pool_init(&c->pool);
    store_req_init(&c->req, op, on_done, c, &c->pool);
    c->req.queue = queue;
    c->req.group = group;
    c->next = fx.calls;
    fx.calls = c;
    return c;
}

static void submit(call_t *c)
{
    store_submit(fx.store, &c->req);
}

/* Runs the loop until c is answered; fails after ms, or when its callback ran more than once. */
static void await(call_t *c, int64_t ms)
{
    run_until(&c->calls, ms);
    ck_assert_msg(c->calls <= 1, "the callback of request %d on '%s' ran %d times", c->req.op,
                  c->req.queue ? c->req.queue : "", c->calls);
    ck_assert_msg(c->calls == 1, "request %d on '%s' was not answered within %lld ms", c->req.op,
                  c->req.queue ? c->req.queue : "", (long long)ms);
}

static call_t *exec(call_t *c)
{
    submit(c);
    await(c, AWAIT_MS);
    return c;
}

/* ---------------------------------------------------------------- publish */

static msg_t *msg_make(const char *body, const char *key, const char *ctype)
{
    msg_attrs_buf_t b;
    msg_attrs_init(&b);
    if (ctype)
        ck_assert_int_eq(msg_attrs_add(&b, "content-type", 12, ctype, strlen(ctype)), 0);
    msg_t *m = msg_new(body, strlen(body), key, key ? strlen(key) : 0, b.buf, b.len);
    msg_attrs_cleanup(&b);
    return m;
}

/* Returns an unsubmitted publish of n items to queue; fill them with item(). */
static call_t *publish_call(const char *queue, size_t n)
{
    call_t *c = call_new(STORE_PUBLISH, queue, NULL);
    c->req.u.publish.items = pool_calloc(&c->pool, n, sizeof *c->req.u.publish.items);
    c->req.u.publish.n = n;
    return c;
}

static engine_pub_t *item(call_t *c, size_t i, const char *body)
{
    engine_pub_t *p = &c->req.u.publish.items[i];
    p->msg = msg_make(body, NULL, NULL);
    return p;
}

/* Publishes c, which must succeed; returns the id of its first item. */
static uint64_t publish_ok(call_t *c)
{
    exec(c);
    assert_err(c->req.status, 0);
    return c->req.u.publish.items[0].id;
}

/* Publishes one message and returns its id. */
static uint64_t publish(const char *queue, const char *body)
{
    call_t *c = publish_call(queue, 1);
    item(c, 0, body);
    return publish_ok(c);
}

static uint64_t publish_keyed(const char *queue, const char *body, const char *key)
{
    call_t *c = publish_call(queue, 1);
    c->req.u.publish.items[0].msg = msg_make(body, key, NULL);
    return publish_ok(c);
}

/* Publishes a message that becomes visible at deliver_at (ms since the epoch). */
static uint64_t publish_at(const char *queue, const char *body, int64_t deliver_at)
{
    call_t *c = publish_call(queue, 1);
    item(c, 0, body)->deliver_at = deliver_at;
    return publish_ok(c);
}

/* Publishes a message that must fail with want; the caller's references stay the caller's. */
static void publish_fails(const char *queue, int want)
{
    call_t *c = publish_call(queue, 1);
    item(c, 0, "refused");
    exec(c);
    assert_err(c->req.status, want);
    msg_unref(c->req.u.publish.items[0].msg);
}

static void on_later(uv_timer_t *t)
{
    (void)t;
    submit(fx.later_call);
}

/* Publishes body to queue from a timer callback ms from now; returns the publish request. */
static call_t *publish_later(const char *queue, const char *body, int64_t ms)
{
    fx.later_call = publish_call(queue, 1);
    item(fx.later_call, 0, body);
    uv_update_time(&fx.loop);
    uv_timer_start(&fx.later, on_later, (uint64_t)ms, 0);
    return fx.later_call;
}

/* ---------------------------------------------------------------- consume */

static call_t *lease_call(const char *queue, const char *group, size_t max, int64_t visibility_ms,
                          int64_t wait_ms)
{
    call_t *c = call_new(STORE_LEASE, queue, group);
    c->req.u.lease.max = max;
    c->req.u.lease.visibility_ms = visibility_ms;
    c->req.u.lease.wait_ms = wait_ms;
    return c;
}

/* Leases up to max messages at once (no wait); the lease must succeed. */
static call_t *lease(const char *queue, const char *group, size_t max, int64_t visibility_ms)
{
    call_t *c = exec(lease_call(queue, group, max, visibility_ms, 0));
    assert_err(c->req.status, 0);
    ck_assert_uint_le(c->req.u.lease.n, max);
    return c;
}

static engine_lease_t *leased(call_t *c, size_t i)
{
    ck_assert_uint_lt(i, c->req.u.lease.n);
    return &c->req.u.lease.out[i];
}

/* Leases one message, which must be there. */
static engine_lease_t *lease_one(const char *queue, const char *group, int64_t visibility_ms)
{
    call_t *c = lease(queue, group, 1, visibility_ms);
    ck_assert_msg(c->req.u.lease.n == 1, "no message to lease on '%s'", queue);
    return leased(c, 0);
}

static void assert_nothing_to_lease(const char *queue, const char *group)
{
    call_t *c = lease(queue, group, 10, -1);
    ck_assert_msg(c->req.u.lease.n == 0, "'%s' handed out %zu message(s), want none", queue,
                  c->req.u.lease.n);
}

/* Leases until a message comes (or fails after EVENTUALLY_MS): for redeliveries and delays. */
static engine_lease_t *lease_eventually(const char *queue, const char *group)
{
    int64_t deadline = now_ms() + EVENTUALLY_MS;
    for (;;) {
        call_t *c = lease(queue, group, 1, -1);
        if (c->req.u.lease.n > 0)
            return leased(c, 0);
        ck_assert_msg(now_ms() < deadline, "no message on '%s' within %d ms", queue, EVENTUALLY_MS);
        run_for(5);
    }
}

static void assert_body(const msg_t *m, const char *body)
{
    ck_assert_ptr_nonnull(m);
    size_t len = strlen(body);
    ck_assert_msg(m->len == len && memcmp(msg_body(m), body, len) == 0, "body '%.*s', want '%s'",
                  (int)m->len, (const char *)msg_body(m), body);
}

/* Ack, release or undo of n receipts; the request itself must succeed. */
static call_t *receipts(int op, const char *queue, const char **rs, size_t n, int64_t delay_ms,
                        const char *error)
{
    call_t *c = call_new(op, queue, NULL);
    c->req.u.ack.receipts = rs;
    c->req.u.ack.n = n;
    c->req.u.ack.delay_ms = delay_ms;
    c->req.u.ack.error = error;
    exec(c);
    assert_err(c->req.status, 0);
    ck_assert_ptr_nonnull(c->req.u.ack.results);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += c->req.u.ack.results[i] == 0;
    ck_assert_uint_eq(c->req.u.ack.done, ok);
    return c;
}

/* Returns the result for one receipt: 0 or SL_ENORECEIPT. */
static int ack(const char *queue, const char *receipt)
{
    return receipts(STORE_ACK, queue, &receipt, 1, 0, NULL)->req.u.ack.results[0];
}

static int release(const char *queue, const char *receipt, int64_t delay_ms, const char *error)
{
    return receipts(STORE_RELEASE, queue, &receipt, 1, delay_ms, error)->req.u.ack.results[0];
}

static int undo(const char *queue, const char *receipt)
{
    return receipts(STORE_UNDO, queue, &receipt, 1, 0, NULL)->req.u.ack.results[0];
}

/* ---------------------------------------------------------------- browse */

static call_t *peek_call(const char *queue, const char *group, uint64_t after, size_t limit)
{
    call_t *c = call_new(STORE_PEEK, queue, group);
    c->req.u.peek.after = after;
    c->req.u.peek.limit = limit;
    return exec(c);
}

static call_t *peek(const char *queue, const char *group, uint64_t after, size_t limit)
{
    call_t *c = peek_call(queue, group, after, limit);
    assert_err(c->req.status, 0);
    ck_assert_uint_le(c->req.u.peek.n, limit);
    return c;
}

static call_t *redrive(const char *queue, const uint64_t *ids, size_t n)
{
    call_t *c = call_new(STORE_REDRIVE, queue, NULL);
    c->req.u.redrive.ids = ids;
    c->req.u.redrive.n = n;
    return exec(c);
}

/* Asserts attribute name of m has the value want (NULL: absent). */
static void assert_attr(const msg_t *m, const char *name, const char *want)
{
    size_t len = 0;
    const char *v = msg_attr_find(m, name, &len);
    if (want == NULL) {
        ck_assert_msg(v == NULL, "attribute %s is '%.*s', want none", name, (int)len, v);
        return;
    }
    ck_assert_msg(v != NULL, "attribute %s is missing, want '%s'", name, want);
    ck_assert_msg(len == strlen(want) && memcmp(v, want, len) == 0,
                  "attribute %s is '%.*s', want '%s'", name, (int)len, v, want);
}

/* ---------------------------------------------------------------- queues and groups */

static int queue_put(const char *queue, const engine_settings_t *set, unsigned mask, bool *created)
{
    call_t *c = call_new(STORE_QUEUE_PUT, queue, NULL);
    if (set)
        c->req.u.queue_put.set = *set;
    c->req.u.queue_put.mask = mask;
    exec(c);
    if (created)
        *created = c->req.u.queue_put.created;
    return c->req.status;
}

/* Creates queue with the defaults. */
static void queue_create(const char *queue)
{
    bool created = false;
    assert_err(queue_put(queue, NULL, 0, &created), 0);
    ck_assert(created);
}

/* Creates queue with one setting changed (mask names it). */
static void queue_create_with(const char *queue, const engine_settings_t *set, unsigned mask)
{
    bool created = false;
    assert_err(queue_put(queue, set, mask, &created), 0);
    ck_assert(created);
}

static call_t *queue_info_call(const char *queue)
{
    return exec(call_new(STORE_QUEUE_INFO, queue, NULL));
}

static engine_queue_info_t *queue_info(const char *queue)
{
    call_t *c = queue_info_call(queue);
    assert_err(c->req.status, 0);
    return &c->req.u.queue_info;
}

static call_t *queue_list(void)
{
    call_t *c = exec(call_new(STORE_QUEUE_LIST, NULL, NULL));
    assert_err(c->req.status, 0);
    return c;
}

static int queue_delete(const char *queue)
{
    return exec(call_new(STORE_QUEUE_DELETE, queue, NULL))->req.status;
}

static call_t *queue_purge(const char *queue)
{
    return exec(call_new(STORE_QUEUE_PURGE, queue, NULL));
}

static call_t *group_put(const char *queue, const char *group, bool from_latest)
{
    call_t *c = call_new(STORE_GROUP_PUT, queue, group);
    c->req.u.group.from_latest = from_latest;
    return exec(c);
}

static call_t *group_info_call(const char *queue, const char *group)
{
    return exec(call_new(STORE_GROUP_INFO, queue, group));
}

static engine_group_info_t *group_info(const char *queue, const char *group)
{
    call_t *c = group_info_call(queue, group);
    assert_err(c->req.status, 0);
    return &c->req.u.group.info;
}

static int group_delete(const char *queue, const char *group)
{
    return exec(call_new(STORE_GROUP_DELETE, queue, group))->req.status;
}

/* Runs the loop until queue has dead-lettered want messages, or fails after EVENTUALLY_MS. */
static void await_dead_lettered(const char *queue, uint64_t want)
{
    int64_t deadline = now_ms() + EVENTUALLY_MS;
    while (queue_info(queue)->dead_lettered < want) {
        ck_assert_msg(now_ms() < deadline, "'%s' did not dead-letter %llu message(s) in %d ms",
                      queue, (unsigned long long)want, EVENTUALLY_MS);
        run_for(5);
    }
}

/* ---------------------------------------------------------------- basics */

START_TEST(test_contract_ready_reports_zero_when_the_backend_is_open)
{
    assert_err(store_ready(fx.store), 0);
}
END_TEST

START_TEST(test_contract_publish_returns_increasing_ids_and_a_known_durability)
{
    uint64_t last = 0;
    for (int i = 0; i < 5; i++) {
        call_t *c = publish_call("jobs", 1);
        item(c, 0, "hello");
        uint64_t id = publish_ok(c);
        ck_assert_uint_gt(id, last);
        ck_assert(!c->req.u.publish.items[0].duplicate);
        const char *stored = c->req.u.publish.stored;
        ck_assert_ptr_nonnull(stored);
        ck_assert_msg(!strcmp(stored, "memory") || !strcmp(stored, "os") ||
                          !strcmp(stored, "fsync"),
                      "stored is '%s'", stored);
        last = id;
    }
    ck_assert_uint_eq(queue_info("jobs")->messages, 5);
    ck_assert_uint_eq(queue_info("jobs")->published, 5);
}
END_TEST

START_TEST(test_contract_publish_to_an_invalid_name_is_refused_and_stores_nothing)
{
    char too_long[ENGINE_NAME_MAX + 2];
    memset(too_long, 'a', sizeof too_long - 1);
    too_long[sizeof too_long - 1] = '\0';
    const char *bad[] = {"", "-jobs", ".jobs", "has space", "a/b", "jobs!", "ü", too_long};
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++)
        publish_fails(bad[i], SL_ENAME);
    ck_assert_uint_eq(queue_list()->req.u.queue_list.n, 0);

    char longest[ENGINE_NAME_MAX + 1];
    memset(longest, 'b', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    publish(longest, "fits");
    publish("A0._-z", "fits");
    ck_assert_uint_eq(queue_list()->req.u.queue_list.n, 2);
}
END_TEST

START_TEST(test_contract_batch_publish_stores_every_item_in_order)
{
    int64_t before = dur_now_ms();
    call_t *c = publish_call("jobs", 3);
    item(c, 0, "first");
    c->req.u.publish.items[1].msg = msg_make("second", "customer-7", "text/plain");
    item(c, 2, "third");
    publish_ok(c);
    int64_t after = dur_now_ms();
    engine_pub_t *p = c->req.u.publish.items;
    ck_assert_uint_lt(p[0].id, p[1].id);
    ck_assert_uint_lt(p[1].id, p[2].id);

    call_t *l = lease("jobs", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 3);
    const char *bodies[] = {"first", "second", "third"};
    for (size_t i = 0; i < 3; i++) {
        msg_t *m = leased(l, i)->msg;
        assert_body(m, bodies[i]);
        ck_assert_uint_eq(m->id, p[i].id);
        ck_assert_int_ge(m->published_at, before);
        ck_assert_int_le(m->published_at, after);
        ck_assert_uint_eq(leased(l, i)->attempts, 1);
    }
    msg_t *m = leased(l, 1)->msg;
    ck_assert_uint_eq(m->key_len, 10);
    ck_assert(memcmp(msg_key(m), "customer-7", 10) == 0);
    assert_attr(m, "content-type", "text/plain");
    ck_assert_uint_eq(leased(l, 0)->msg->key_len, 0);
    ck_assert_uint_eq(leased(l, 0)->msg->attrs_len, 0);
}
END_TEST

START_TEST(test_contract_creating_a_queue_past_max_queues_is_refused)
{
    store_close_now();
    store_open_fresh(2);
    publish("a", "x");
    queue_create("b");
    publish_fails("c", SL_ETOOMANY);
    assert_err(queue_put("c", NULL, 0, NULL), SL_ETOOMANY);
    ck_assert_uint_eq(queue_list()->req.u.queue_list.n, 2);
    publish("a", "existing queues still take messages");
}
END_TEST

/* ---------------------------------------------------------------- lease and ack */

START_TEST(test_contract_leased_message_is_gone_once_acked)
{
    uint64_t id = publish("jobs", "hello");
    engine_lease_t *l = lease_one("jobs", NULL, -1);
    assert_body(l->msg, "hello");
    ck_assert_uint_eq(l->msg->id, id);
    ck_assert_uint_eq(l->attempts, 1);
    ck_assert_uint_gt(strlen(l->receipt), 0);
    assert_nothing_to_lease("jobs", NULL); /* consumers of one group compete */

    assert_err(ack("jobs", l->receipt), 0);
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 0);
    ck_assert_uint_eq(qi->acked, 1);
    ck_assert_uint_eq(qi->in_flight, 0);
    assert_nothing_to_lease("jobs", NULL);
}
END_TEST

START_TEST(test_contract_ack_of_a_dead_receipt_reports_no_receipt)
{
    publish("jobs", "one");
    publish("jobs", "two");
    call_t *l = lease("jobs", NULL, 2, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 2);
    const char *r1 = leased(l, 0)->receipt, *r2 = leased(l, 1)->receipt;
    ck_assert_str_ne(r1, r2);

    assert_err(ack("jobs", r1), 0);
    assert_err(ack("jobs", r1), SL_ENORECEIPT); /* already acked */

    const char *batch[] = {r1, "not-a-receipt", "", r2, "1-1-1"};
    call_t *c = receipts(STORE_ACK, "jobs", batch, 5, 0, NULL);
    assert_err(c->req.u.ack.results[0], SL_ENORECEIPT);
    assert_err(c->req.u.ack.results[1], SL_ENORECEIPT);
    assert_err(c->req.u.ack.results[2], SL_ENORECEIPT);
    assert_err(c->req.u.ack.results[3], 0);
    assert_err(c->req.u.ack.results[4], SL_ENORECEIPT);
    ck_assert_uint_eq(c->req.u.ack.done, 1);
    ck_assert_uint_eq(queue_info("jobs")->acked, 2);
}
END_TEST

START_TEST(test_contract_ack_on_an_unknown_queue_reports_no_queue)
{
    publish("jobs", "hello");
    engine_lease_t *l = lease_one("jobs", NULL, -1);
    const char *r = l->receipt;
    for (int op = STORE_ACK; op <= STORE_UNDO; op++) {
        call_t *c = call_new(op, "nope", NULL);
        c->req.u.ack.receipts = &r;
        c->req.u.ack.n = 1;
        exec(c);
        assert_err(c->req.status, SL_ENOQUEUE);
    }
    assert_err(ack("jobs", r), 0); /* the lease was not touched */
}
END_TEST

START_TEST(test_contract_lease_on_an_unknown_queue_reports_no_queue)
{
    call_t *c = exec(lease_call("nope", NULL, 1, -1, 0));
    assert_err(c->req.status, SL_ENOQUEUE);
    ck_assert_uint_eq(c->req.u.lease.n, 0);

    /* a long poll is no different: answered at once, not after the wait */
    int64_t t0 = now_ms();
    c = lease_call("nope", NULL, 1, -1, 5000);
    submit(c);
    await(c, AWAIT_MS);
    assert_err(c->req.status, SL_ENOQUEUE);
    ck_assert_int_lt(c->done_ms - t0, 1000);
    ck_assert_uint_eq(queue_list()->req.u.queue_list.n, 0); /* and it creates nothing */
}
END_TEST

START_TEST(test_contract_lease_on_an_unknown_group_reports_no_group)
{
    publish("jobs", "hello");
    call_t *c = exec(lease_call("jobs", "nope", 1, -1, 0));
    assert_err(c->req.status, SL_ENOGROUP);

    int64_t t0 = now_ms();
    c = lease_call("jobs", "nope", 1, -1, 5000);
    submit(c);
    await(c, AWAIT_MS);
    assert_err(c->req.status, SL_ENOGROUP);
    ck_assert_int_lt(c->done_ms - t0, 1000);
    ck_assert_uint_eq(queue_info("jobs")->ngroups, 1); /* no group was created */
    lease_one("jobs", NULL, -1);
}
END_TEST

START_TEST(test_contract_lease_returns_at_most_max_messages_in_publish_order)
{
    uint64_t ids[5];
    const char *bodies[] = {"m0", "m1", "m2", "m3", "m4"};
    for (int i = 0; i < 5; i++)
        ids[i] = publish("jobs", bodies[i]);
    call_t *l = lease("jobs", NULL, 3, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_uint_eq(leased(l, i)->msg->id, ids[i]);
        assert_body(leased(l, i)->msg, bodies[i]);
    }
    l = lease("jobs", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 2);
    ck_assert_uint_eq(leased(l, 0)->msg->id, ids[3]);
    ck_assert_uint_eq(leased(l, 1)->msg->id, ids[4]);
}
END_TEST

START_TEST(test_contract_lease_stops_at_max_bytes_but_returns_at_least_one_message)
{
    for (int i = 0; i < 4; i++)
        publish("jobs", "0123456789");
    call_t *c = lease_call("jobs", NULL, 10, -1, 0);
    c->req.u.lease.max_bytes = 25; /* two bodies fit, a third would pass it */
    exec(c);
    assert_err(c->req.status, 0);
    ck_assert_uint_eq(c->req.u.lease.n, 2);

    c = lease_call("jobs", NULL, 10, -1, 0);
    c->req.u.lease.max_bytes = 1; /* smaller than one body: still one message */
    exec(c);
    assert_err(c->req.status, 0);
    ck_assert_uint_eq(c->req.u.lease.n, 1);
}
END_TEST

/* ---------------------------------------------------------------- redelivery */

START_TEST(test_contract_expired_lease_is_redelivered_with_attempts_two)
{
    uint64_t id = publish("jobs", "hello");
    int64_t t0 = now_ms();
    engine_lease_t *first = lease_one("jobs", NULL, 50);
    ck_assert_uint_eq(first->attempts, 1);
    assert_nothing_to_lease("jobs", NULL); /* invisible while leased */

    engine_lease_t *again = lease_eventually("jobs", NULL);
    ck_assert_int_ge(now_ms() - t0, 50 - SLACK_MS);
    ck_assert_uint_eq(again->msg->id, id);
    assert_body(again->msg, "hello");
    ck_assert_uint_eq(again->attempts, 2);
    ck_assert_str_ne(again->receipt, first->receipt);

    assert_err(ack("jobs", first->receipt), SL_ENORECEIPT); /* its lease is over */
    assert_err(ack("jobs", again->receipt), 0);
    ck_assert_uint_eq(queue_info("jobs")->messages, 0);
}
END_TEST

START_TEST(test_contract_lease_without_visibility_uses_the_queue_visibility_timeout)
{
    engine_settings_t set = {.visibility_ms = 50};
    queue_create_with("jobs", &set, ENGINE_SET_VISIBILITY);
    publish("jobs", "hello");
    int64_t t0 = now_ms();
    lease_one("jobs", NULL, -1);
    assert_nothing_to_lease("jobs", NULL);
    engine_lease_t *again = lease_eventually("jobs", NULL);
    ck_assert_int_ge(now_ms() - t0, 50 - SLACK_MS);
    ck_assert_uint_eq(again->attempts, 2);
}
END_TEST

START_TEST(test_contract_lease_with_zero_visibility_makes_the_message_visible_again_at_once)
{
    publish("jobs", "hello");
    engine_lease_t *first = lease_one("jobs", NULL, 0);
    run_for(10);
    engine_lease_t *again = lease_one("jobs", NULL, -1);
    ck_assert_uint_eq(again->attempts, 2);
    assert_err(ack("jobs", first->receipt), SL_ENORECEIPT);
}
END_TEST

START_TEST(test_contract_released_message_is_available_again_at_once)
{
    publish("jobs", "hello");
    engine_lease_t *first = lease_one("jobs", NULL, -1);
    assert_err(release("jobs", first->receipt, 0, "try again"), 0);
    engine_lease_t *again = lease_one("jobs", NULL, -1);
    ck_assert_uint_eq(again->attempts, 2);
    assert_err(release("jobs", first->receipt, 0, NULL), SL_ENORECEIPT);
    assert_err(ack("jobs", first->receipt), SL_ENORECEIPT);
    assert_err(ack("jobs", again->receipt), 0);
}
END_TEST

START_TEST(test_contract_released_message_with_a_delay_returns_only_after_the_delay)
{
    publish("jobs", "hello");
    engine_lease_t *first = lease_one("jobs", NULL, -1);
    int64_t t0 = now_ms();
    assert_err(release("jobs", first->receipt, 100, NULL), 0);
    assert_nothing_to_lease("jobs", NULL);
    ck_assert_uint_eq(queue_info("jobs")->in_flight, 0);

    engine_lease_t *again = lease_eventually("jobs", NULL);
    ck_assert_int_ge(now_ms() - t0, 100 - SLACK_MS);
    assert_body(again->msg, "hello");
    ck_assert_uint_eq(again->attempts, 2);
}
END_TEST

START_TEST(test_contract_undone_lease_is_redelivered_first_without_counting_an_attempt)
{
    uint64_t a = publish("jobs", "a");
    uint64_t b = publish("jobs", "b");
    engine_lease_t *first = lease_one("jobs", NULL, -1);
    ck_assert_uint_eq(first->msg->id, a);
    assert_err(undo("jobs", first->receipt), 0);
    assert_err(undo("jobs", first->receipt), SL_ENORECEIPT);

    call_t *l = lease("jobs", NULL, 2, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 2);
    ck_assert_uint_eq(leased(l, 0)->msg->id, a); /* first in line */
    ck_assert_uint_eq(leased(l, 0)->attempts, 1);
    ck_assert_uint_eq(leased(l, 1)->msg->id, b);
    assert_err(ack("jobs", first->receipt), SL_ENORECEIPT);
    assert_err(ack("jobs", leased(l, 0)->receipt), 0);
}
END_TEST

/* ---------------------------------------------------------------- long polls */

START_TEST(test_contract_parked_lease_is_completed_by_a_later_publish)
{
    queue_create("jobs");
    call_t *l = lease_call("jobs", NULL, 1, -1, 3000);
    int64_t t0 = now_ms();
    submit(l);
    ck_assert_int_eq(l->calls, 0); /* nothing to hand out yet */
    ck_assert_uint_eq(group_info("jobs", NULL)->waiting, 1);
    call_t *p = publish_later("jobs", "wake up", 30);

    await(l, 3000 + AWAIT_MS);
    assert_err(l->req.status, 0);
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    assert_body(leased(l, 0)->msg, "wake up");
    ck_assert_uint_eq(leased(l, 0)->attempts, 1);
    ck_assert_int_ge(l->done_ms - t0, 30 - SLACK_MS);
    ck_assert_int_lt(l->done_ms - t0, 2000); /* by the publish, not the end of the wait */

    await(p, AWAIT_MS);
    assert_err(p->req.status, 0);
    ck_assert_uint_eq(leased(l, 0)->msg->id, p->req.u.publish.items[0].id);
    assert_err(ack("jobs", leased(l, 0)->receipt), 0);
}
END_TEST

START_TEST(test_contract_wake_only_lease_takes_what_is_there_then_wakes_empty)
{
    queue_create("jobs");
    publish("jobs", "there");
    call_t *l = lease_call("jobs", NULL, 5, -1, 3000);
    l->req.u.lease.wake_only = true;
    exec(l); /* what is there is leased at once, as by any lease */
    assert_err(l->req.status, 0);
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    assert_body(leased(l, 0)->msg, "there");

    call_t *w = lease_call("jobs", NULL, 5, -1, 3000);
    w->req.u.lease.wake_only = true;
    int64_t t0 = now_ms();
    submit(w);
    ck_assert_int_eq(w->calls, 0); /* parked */
    call_t *p = publish_later("jobs", "wake up", 30);
    await(w, 3000 + AWAIT_MS);
    assert_err(w->req.status, 0);
    ck_assert_uint_eq(w->req.u.lease.n, 0); /* woken, holding nothing */
    ck_assert_int_lt(w->done_ms - t0, 2000);
    await(p, AWAIT_MS);
    ck_assert_uint_eq(group_info("jobs", NULL)->in_flight, 1); /* only the first lease's */
    assert_body(lease_one("jobs", NULL, -1)->msg, "wake up");
}
END_TEST

START_TEST(test_contract_parked_lease_times_out_with_an_empty_result_after_wait)
{
    queue_create("jobs");
    call_t *l = lease_call("jobs", NULL, 1, -1, 100);
    int64_t t0 = now_ms();
    submit(l);
    ck_assert_int_eq(l->calls, 0);
    await(l, 100 + AWAIT_MS);
    assert_err(l->req.status, 0);
    ck_assert_uint_eq(l->req.u.lease.n, 0);
    ck_assert_int_ge(l->done_ms - t0, 100 - SLACK_MS);

    publish("jobs", "late"); /* the finished lease must not take it */
    lease_one("jobs", NULL, -1);
}
END_TEST

START_TEST(test_contract_one_message_completes_only_one_of_two_parked_leases)
{
    queue_create("jobs");
    call_t *l1 = lease_call("jobs", NULL, 1, -1, 200);
    call_t *l2 = lease_call("jobs", NULL, 1, -1, 200);
    submit(l1);
    submit(l2);
    publish("jobs", "only one");
    await(l1, 200 + AWAIT_MS);
    await(l2, 200 + AWAIT_MS);
    assert_err(l1->req.status, 0);
    assert_err(l2->req.status, 0);
    ck_assert_uint_eq(l1->req.u.lease.n + l2->req.u.lease.n, 1);
}
END_TEST

START_TEST(test_contract_parked_lease_is_completed_when_a_delayed_message_becomes_visible)
{
    queue_create("jobs");
    int64_t t0 = now_ms();
    publish_at("jobs", "delayed", dur_now_ms() + 80);
    call_t *l = lease_call("jobs", NULL, 1, -1, 3000);
    submit(l);
    await(l, 3000 + AWAIT_MS);
    assert_err(l->req.status, 0);
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    assert_body(leased(l, 0)->msg, "delayed");
    ck_assert_int_ge(l->done_ms - t0, 80 - SLACK_MS);
    ck_assert_int_lt(l->done_ms - t0, 2000);
}
END_TEST

START_TEST(test_contract_parked_lease_is_completed_by_an_expired_lease)
{
    publish("jobs", "hello");
    int64_t t0 = now_ms();
    lease_one("jobs", NULL, 50);
    call_t *l = lease_call("jobs", NULL, 1, -1, 3000);
    submit(l);
    await(l, 3000 + AWAIT_MS);
    assert_err(l->req.status, 0);
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    ck_assert_uint_eq(leased(l, 0)->attempts, 2);
    ck_assert_int_ge(l->done_ms - t0, 50 - SLACK_MS);
    ck_assert_int_lt(l->done_ms - t0, 2000);
}
END_TEST

START_TEST(test_contract_parked_lease_waits_for_a_message_held_behind_its_ordering_key)
{
    publish_keyed("orders", "a1", "k");
    engine_lease_t *a1 = lease_one("orders", NULL, -1);
    call_t *l = lease_call("orders", NULL, 1, -1, 3000);
    submit(l);
    publish_keyed("orders", "a2", "k"); /* blocked by a1: nothing for the parked lease yet */
    run_for(30);
    ck_assert_int_eq(l->calls, 0);

    assert_err(ack("orders", a1->receipt), 0);
    await(l, 3000 + AWAIT_MS);
    assert_err(l->req.status, 0);
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    assert_body(leased(l, 0)->msg, "a2");
}
END_TEST

START_TEST(test_contract_cancelled_parked_lease_is_never_answered)
{
    queue_create("jobs");
    call_t *l = lease_call("jobs", NULL, 1, -1, 150);
    submit(l);
    ck_assert_int_eq(l->calls, 0);
    assert_err(store_cancel(fx.store, &l->req), 0);
    assert_err(store_cancel(fx.store, &l->req), SL_ENOENT); /* no longer pending */
    ck_assert_uint_eq(group_info("jobs", NULL)->waiting, 0);

    publish("jobs", "for someone else");
    run_for(300); /* past the wait the cancelled lease had */
    ck_assert_int_eq(l->calls, 0);

    engine_lease_t *got = lease_one("jobs", NULL, -1); /* the cancelled lease took nothing */
    ck_assert_uint_eq(got->attempts, 1);
    assert_err(ack("jobs", got->receipt), 0);
}
END_TEST

START_TEST(test_contract_cancel_of_a_finished_request_reports_not_pending)
{
    publish("jobs", "hello");
    call_t *l = exec(lease_call("jobs", NULL, 1, -1, 1000));
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    assert_err(store_cancel(fx.store, &l->req), SL_ENOENT);
    call_t *q = queue_info_call("jobs");
    assert_err(store_cancel(fx.store, &q->req), SL_ENOENT);
}
END_TEST

START_TEST(test_contract_drain_answers_every_parked_lease_with_an_empty_result)
{
    queue_create("jobs");
    assert_err(group_put("jobs", "audit", false)->req.status, 0);
    queue_create("other");
    call_t *ls[] = {
        lease_call("jobs", NULL, 1, -1, 5000),
        lease_call("jobs", NULL, 4, -1, 5000),
        lease_call("jobs", "audit", 1, -1, 5000),
        lease_call("other", NULL, 1, -1, 5000),
    };
    int64_t t0 = now_ms();
    for (size_t i = 0; i < SL_ARRAY_LEN(ls); i++)
        submit(ls[i]);
    run_for(20);
    for (size_t i = 0; i < SL_ARRAY_LEN(ls); i++)
        ck_assert_int_eq(ls[i]->calls, 0);
    store_drain(fx.store);
    for (size_t i = 0; i < SL_ARRAY_LEN(ls); i++) {
        await(ls[i], AWAIT_MS);
        assert_err(ls[i]->req.status, 0);
        ck_assert_uint_eq(ls[i]->req.u.lease.n, 0);
        ck_assert_int_lt(ls[i]->done_ms - t0, 4000);
    }
}
END_TEST

START_TEST(test_contract_parked_lease_on_a_deleted_queue_is_answered_with_no_queue)
{
    queue_create("jobs");
    call_t *l = lease_call("jobs", NULL, 1, -1, 5000);
    int64_t t0 = now_ms();
    submit(l);
    run_for(10);
    ck_assert_int_eq(l->calls, 0);
    assert_err(queue_delete("jobs"), 0);
    await(l, AWAIT_MS);
    assert_err(l->req.status, SL_ENOQUEUE);
    ck_assert_uint_eq(l->req.u.lease.n, 0);
    ck_assert_int_lt(l->done_ms - t0, 4000);
}
END_TEST

START_TEST(test_contract_parked_lease_on_a_deleted_group_is_answered_before_its_wait_ends)
{
    queue_create("jobs");
    assert_err(group_put("jobs", "audit", false)->req.status, 0);
    call_t *l = lease_call("jobs", "audit", 1, -1, 5000);
    int64_t t0 = now_ms();
    submit(l);
    run_for(10);
    ck_assert_int_eq(l->calls, 0);
    assert_err(group_delete("jobs", "audit"), 0);
    await(l, AWAIT_MS);
    ck_assert_msg(l->req.status == SL_ENOGROUP || (l->req.status == 0 && l->req.u.lease.n == 0),
                  "status %s with %zu message(s)", err_text(l->req.status), l->req.u.lease.n);
    ck_assert_int_lt(l->done_ms - t0, 4000);
}
END_TEST

/* ---------------------------------------------------------------- peek */

static engine_peek_item_t *peeked(call_t *c, size_t i)
{
    ck_assert_uint_lt(i, c->req.u.peek.n);
    return &c->req.u.peek.out[i];
}

static void assert_state(call_t *c, size_t i, uint64_t id, int state)
{
    engine_peek_item_t *it = peeked(c, i);
    ck_assert_msg(it->msg->id == id, "item %zu has id %llu, want %llu", i,
                  (unsigned long long)it->msg->id, (unsigned long long)id);
    ck_assert_msg(it->state == state, "message %llu is %s (%d), want %s (%d)",
                  (unsigned long long)id, engine_state_name(it->state), it->state,
                  engine_state_name(state), state);
}

START_TEST(test_contract_peek_shows_each_message_state_for_the_group)
{
    queue_create("jobs");
    assert_err(group_put("jobs", "audit", false)->req.status, 0); /* keeps acked messages */
    int64_t visible_at = dur_now_ms() + 60000;
    uint64_t acked = publish("jobs", "acked");
    uint64_t held = publish("jobs", "leased");
    uint64_t later = publish("jobs", "released with a delay");
    uint64_t k1 = publish_keyed("jobs", "key first", "k");
    uint64_t k2 = publish_keyed("jobs", "key second", "k");
    uint64_t delayed = publish_at("jobs", "delayed", visible_at);
    uint64_t held2 = publish("jobs", "leased too");
    uint64_t retry = publish("jobs", "released");
    uint64_t ready = publish("jobs", "ready");

    assert_err(ack("jobs", lease_one("jobs", NULL, -1)->receipt), 0);
    int64_t t_lease = dur_now_ms();
    ck_assert_uint_eq(lease_one("jobs", NULL, 30000)->msg->id, held);
    engine_lease_t *l = lease_one("jobs", NULL, -1);
    ck_assert_uint_eq(l->msg->id, later);
    assert_err(release("jobs", l->receipt, 60000, NULL), 0);
    ck_assert_uint_eq(lease_one("jobs", NULL, -1)->msg->id, k1);
    /* k2 waits behind k1 (max_in_flight_per_key 1); other messages proceed */
    ck_assert_uint_eq(lease_one("jobs", NULL, -1)->msg->id, held2);
    l = lease_one("jobs", NULL, -1);
    ck_assert_uint_eq(l->msg->id, retry);
    assert_err(release("jobs", l->receipt, 0, NULL), 0);
    int64_t t_after = dur_now_ms();

    call_t *c = peek("jobs", NULL, 0, 20);
    ck_assert_uint_eq(c->req.u.peek.n, 9);
    ck_assert(!c->req.u.peek.more);
    assert_state(c, 0, acked, ENGINE_ACKED);
    assert_state(c, 1, held, ENGINE_LEASED);
    ck_assert_uint_eq(peeked(c, 1)->attempts, 1);
    ck_assert_int_ge(peeked(c, 1)->until, t_lease + 30000);
    ck_assert_int_le(peeked(c, 1)->until, t_after + 30000);
    assert_state(c, 2, later, ENGINE_RETRY_DELAY);
    ck_assert_uint_eq(peeked(c, 2)->attempts, 1);
    ck_assert_int_ge(peeked(c, 2)->until, t_lease + 60000);
    ck_assert_int_le(peeked(c, 2)->until, t_after + 60000);
    assert_state(c, 3, k1, ENGINE_LEASED);
    assert_state(c, 4, k2, ENGINE_WAITING_KEY);
    assert_state(c, 5, delayed, ENGINE_DELAYED);
    ck_assert_int_eq(peeked(c, 5)->until, visible_at);
    assert_state(c, 6, held2, ENGINE_LEASED);
    assert_state(c, 7, retry, ENGINE_RETRY);
    ck_assert_uint_eq(peeked(c, 7)->attempts, 1);
    assert_state(c, 8, ready, ENGINE_READY);
    ck_assert_uint_eq(peeked(c, 8)->attempts, 0);
    assert_body(peeked(c, 0)->msg, "acked");
    assert_body(peeked(c, 5)->msg, "delayed");
    ck_assert_uint_eq(peeked(c, 4)->msg->key_len, 1);

    /* another group sees the same messages untouched */
    c = peek("jobs", "audit", 0, 20);
    ck_assert_uint_eq(c->req.u.peek.n, 9);
    for (size_t i = 0; i < 9; i++)
        ck_assert_int_eq(peeked(c, i)->state, i == 5 ? ENGINE_DELAYED : ENGINE_READY);

    /* peeking leases nothing */
    ck_assert_uint_eq(group_info("jobs", "audit")->in_flight, 0);
    ck_assert_uint_eq(lease_one("jobs", "audit", -1)->msg->id, acked);
}
END_TEST

START_TEST(test_contract_peek_pages_through_messages_in_id_order)
{
    uint64_t ids[6];
    ids[0] = publish_at("jobs", "delayed", dur_now_ms() + 60000); /* not in the visible order */
    for (int i = 1; i < 6; i++)
        ids[i] = publish("jobs", "m");
    call_t *c = peek("jobs", NULL, 0, 4);
    ck_assert_uint_eq(c->req.u.peek.n, 4);
    ck_assert(c->req.u.peek.more);
    for (size_t i = 0; i < 4; i++)
        ck_assert_uint_eq(peeked(c, i)->msg->id, ids[i]);

    c = peek("jobs", NULL, ids[3], 4);
    ck_assert_uint_eq(c->req.u.peek.n, 2);
    ck_assert(!c->req.u.peek.more);
    ck_assert_uint_eq(peeked(c, 0)->msg->id, ids[4]);
    ck_assert_uint_eq(peeked(c, 1)->msg->id, ids[5]);

    c = peek("jobs", NULL, ids[1], 4);
    ck_assert_uint_eq(c->req.u.peek.n, 4);
    ck_assert(!c->req.u.peek.more);
    ck_assert_uint_eq(peeked(c, 0)->msg->id, ids[2]);

    c = peek("jobs", NULL, ids[5], 4);
    ck_assert_uint_eq(c->req.u.peek.n, 0);
    ck_assert(!c->req.u.peek.more);
}
END_TEST

START_TEST(test_contract_peek_on_an_unknown_queue_or_group_is_refused)
{
    assert_err(peek_call("nope", NULL, 0, 10)->req.status, SL_ENOQUEUE);
    publish("jobs", "m");
    assert_err(peek_call("jobs", "nope", 0, 10)->req.status, SL_ENOGROUP);
}
END_TEST

/* ---------------------------------------------------------------- dead letters and redrive */

/* Makes jobs dead-letter after one expired lease of 30 ms. */
static void queue_with_one_attempt(const char *queue)
{
    engine_settings_t set = {.visibility_ms = 30, .max_attempts = 1};
    queue_create_with(queue, &set, ENGINE_SET_VISIBILITY | ENGINE_SET_MAX_ATTEMPTS);
}

START_TEST(test_contract_message_out_of_attempts_moves_to_the_dead_letter_queue)
{
    queue_with_one_attempt("jobs");
    call_t *p = publish_call("jobs", 1);
    p->req.u.publish.items[0].msg = msg_make("payload", "k7", "text/plain");
    uint64_t id = publish_ok(p);
    ck_assert_uint_eq(lease_one("jobs", NULL, -1)->attempts, 1);
    await_dead_lettered("jobs", 1);

    assert_nothing_to_lease("jobs", NULL);
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 0);
    ck_assert_uint_eq(qi->in_flight, 0);

    call_t *c = peek("jobs.dlq", NULL, 0, 10);
    ck_assert_uint_eq(c->req.u.peek.n, 1);
    msg_t *m = peeked(c, 0)->msg;
    assert_body(m, "payload");
    ck_assert_uint_eq(m->key_len, 2);
    assert_attr(m, "content-type", "text/plain");
    assert_attr(m, "sluice-origin-queue", "jobs");
    assert_attr(m, "sluice-origin-group", "default");
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)id);
    assert_attr(m, "sluice-origin-id", idbuf);
    assert_attr(m, "sluice-attempts", "1");
    assert_attr(m, "sluice-reason", "lease_expired");
    ck_assert_uint_eq(queue_info("jobs.dlq")->messages, 1);
}
END_TEST

START_TEST(test_contract_released_message_out_of_attempts_carries_its_last_error)
{
    engine_settings_t set = {.max_attempts = 2};
    queue_create_with("jobs", &set, ENGINE_SET_MAX_ATTEMPTS);
    publish("jobs", "payload");
    assert_err(release("jobs", lease_one("jobs", NULL, -1)->receipt, 0, "first failure"), 0);
    engine_lease_t *l = lease_one("jobs", NULL, -1);
    ck_assert_uint_eq(l->attempts, 2);
    assert_err(release("jobs", l->receipt, 0, "upstream timeout"), 0);

    await_dead_lettered("jobs", 1);
    assert_nothing_to_lease("jobs", NULL);
    engine_lease_t *d = lease_one("jobs.dlq", NULL, -1);
    assert_body(d->msg, "payload");
    assert_attr(d->msg, "sluice-attempts", "2");
    assert_attr(d->msg, "sluice-reason", "released");
    assert_attr(d->msg, "sluice-last-error", "upstream timeout");
    size_t len = 0;
    const char *h = msg_attr_find(d->msg, "sluice-history", &len);
    ck_assert_ptr_nonnull(h);
    char hist[1600];
    ck_assert_uint_lt(len, sizeof hist);
    memcpy(hist, h, len);
    hist[len] = '\0';
    ck_assert_msg(strstr(hist, " released first failure\n") &&
                      strstr(hist, " released upstream timeout"),
                  "history '%s'", hist);
}
END_TEST

START_TEST(test_contract_queue_named_dlq_has_no_dead_letter_queue_of_its_own)
{
    engine_settings_t set = {.visibility_ms = 30, .max_attempts = 1};
    queue_create_with("jobs.dlq", &set, ENGINE_SET_VISIBILITY | ENGINE_SET_MAX_ATTEMPTS);
    ck_assert_str_eq(queue_info("jobs.dlq")->settings.dlq, "");
    publish("jobs.dlq", "stays");
    lease_one("jobs.dlq", NULL, -1);
    engine_lease_t *again = lease_eventually("jobs.dlq", NULL);
    ck_assert_uint_eq(again->attempts, 2); /* redelivered without limit */
    ck_assert_uint_eq(queue_info("jobs.dlq")->dead_lettered, 0);
    assert_err(queue_info_call("jobs.dlq.dlq")->req.status, SL_ENOQUEUE);
}
END_TEST

START_TEST(test_contract_redrive_from_the_dead_letter_queue_publishes_again_with_fresh_attempts)
{
    queue_with_one_attempt("jobs");
    call_t *p = publish_call("jobs", 1);
    p->req.u.publish.items[0].msg = msg_make("payload", NULL, "text/plain");
    publish_ok(p);
    lease_one("jobs", NULL, -1);
    await_dead_lettered("jobs", 1);

    call_t *r = redrive("jobs.dlq", NULL, 0);
    assert_err(r->req.status, 0);
    ck_assert_uint_eq(r->req.u.redrive.moved, 1);
    ck_assert_uint_eq(r->req.u.redrive.nnot, 0);
    ck_assert_uint_eq(queue_info("jobs.dlq")->messages, 0);

    engine_lease_t *l = lease_one("jobs", NULL, 30000);
    assert_body(l->msg, "payload");
    ck_assert_uint_eq(l->attempts, 1);
    assert_attr(l->msg, "content-type", "text/plain"); /* user attributes travel */
    assert_attr(l->msg, "sluice-origin-queue", NULL);  /* dead-letter ones do not */
    assert_err(ack("jobs", l->receipt), 0);

    r = redrive("jobs.dlq", NULL, 0); /* nothing left */
    assert_err(r->req.status, 0);
    ck_assert_uint_eq(r->req.u.redrive.moved, 0);
    assert_err(redrive("nope", NULL, 0)->req.status, SL_ENOQUEUE);
}
END_TEST

START_TEST(test_contract_redrive_by_source_queue_and_ids_moves_those_for_the_origin_group_only)
{
    queue_with_one_attempt("jobs");
    assert_err(group_put("jobs", "audit", false)->req.status, 0);
    publish("jobs", "p1");
    publish("jobs", "p2");
    ck_assert_uint_eq(lease("jobs", NULL, 2, -1)->req.u.lease.n, 2);
    await_dead_lettered("jobs", 2);

    call_t *c = peek("jobs.dlq", NULL, 0, 10);
    ck_assert_uint_eq(c->req.u.peek.n, 2);
    uint64_t d1 = peeked(c, 0)->msg->id, d2 = peeked(c, 1)->msg->id;
    assert_body(peeked(c, 0)->msg, "p1");
    uint64_t missing = d2 + 1000;
    uint64_t ids[] = {d1, missing};
    call_t *r = redrive("jobs", ids, 2);
    assert_err(r->req.status, 0);
    ck_assert_uint_eq(r->req.u.redrive.moved, 1);
    ck_assert_uint_eq(r->req.u.redrive.nnot, 1);
    ck_assert_uint_eq(r->req.u.redrive.not_found[0], missing);

    c = peek("jobs.dlq", NULL, 0, 10);
    ck_assert_uint_eq(c->req.u.peek.n, 1);
    ck_assert_uint_eq(peeked(c, 0)->msg->id, d2);

    engine_lease_t *l = lease_one("jobs", NULL, 30000);
    assert_body(l->msg, "p1");
    ck_assert_uint_eq(l->attempts, 1);
    assert_nothing_to_lease("jobs", NULL);
    /* audit never failed: it still has its two originals and gets no copy */
    ck_assert_uint_eq(group_info("jobs", "audit")->lag, 2);
    call_t *a = lease("jobs", "audit", 10, 30000);
    ck_assert_uint_eq(a->req.u.lease.n, 2);
    assert_body(leased(a, 0)->msg, "p1");
    assert_body(leased(a, 1)->msg, "p2");
}
END_TEST

/* ---------------------------------------------------------------- queues */

START_TEST(test_contract_queue_put_creates_then_changes_a_queue)
{
    bool created = false;
    assert_err(queue_info_call("jobs")->req.status, SL_ENOQUEUE);
    engine_settings_t set = {.visibility_ms = 1000};
    assert_err(queue_put("jobs", &set, ENGINE_SET_VISIBILITY, &created), 0);
    ck_assert(created);
    set.visibility_ms = 2000;
    assert_err(queue_put("jobs", &set, ENGINE_SET_VISIBILITY, &created), 0);
    ck_assert(!created);
    assert_err(queue_put("jobs", NULL, 0, &created), 0);
    ck_assert(!created);
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_str_eq(qi->name, "jobs");
    ck_assert_int_eq(qi->settings.visibility_ms, 2000);
    ck_assert_uint_eq(qi->messages, 0);
    ck_assert_uint_eq(qi->ngroups, 1);
    ck_assert_str_eq(qi->groups[0].name, ENGINE_DEFAULT_GROUP);

    publish("made-by-publish", "x");
    assert_err(queue_put("made-by-publish", NULL, 0, &created), 0);
    ck_assert(!created);
}
END_TEST

static void assert_settings_eq(const engine_settings_t *got, const engine_settings_t *want)
{
    ck_assert_int_eq(got->visibility_ms, want->visibility_ms);
    ck_assert_uint_eq(got->max_attempts, want->max_attempts);
    ck_assert_uint_eq(got->max_in_flight_per_key, want->max_in_flight_per_key);
    ck_assert_uint_eq(got->max_messages, want->max_messages);
    ck_assert_uint_eq(got->max_bytes, want->max_bytes);
    ck_assert_int_eq(got->max_age_ms, want->max_age_ms);
    ck_assert_int_eq(got->dedup_ms, want->dedup_ms);
    ck_assert_str_eq(got->dlq, want->dlq);
}

START_TEST(test_contract_queue_settings_round_trip_through_queue_info)
{
    engine_settings_t set = {.visibility_ms = 1234,
                             .max_attempts = 3,
                             .max_in_flight_per_key = 2,
                             .max_messages = 100,
                             .max_bytes = 100000,
                             .max_age_ms = 7LL * 24 * 3600 * 1000,
                             .dedup_ms = 60000,
                             .dlq = "jobs.failed"};
    unsigned all = ENGINE_SET_VISIBILITY | ENGINE_SET_MAX_ATTEMPTS | ENGINE_SET_DLQ |
                   ENGINE_SET_MAX_MESSAGES | ENGINE_SET_MAX_BYTES | ENGINE_SET_MAX_AGE |
                   ENGINE_SET_DEDUP | ENGINE_SET_KEY_IN_FLIGHT;
    queue_create_with("jobs", &set, all);
    assert_settings_eq(&queue_info("jobs")->settings, &set);

    engine_settings_t other = {.visibility_ms = 5,
                               .max_attempts = 0,
                               .max_in_flight_per_key = 9,
                               .max_messages = 0,
                               .max_bytes = 0,
                               .max_age_ms = 0,
                               .dedup_ms = 0,
                               .dlq = ""};
    bool created = true;
    assert_err(queue_put("jobs", &other, all, &created), 0);
    ck_assert(!created);
    assert_settings_eq(&queue_info("jobs")->settings, &other);
}
END_TEST

START_TEST(test_contract_queue_put_changes_only_the_fields_in_the_mask)
{
    engine_settings_t set = {.visibility_ms = 1234, .max_attempts = 3, .dlq = "jobs.failed"};
    queue_create_with("jobs", &set,
                      ENGINE_SET_VISIBILITY | ENGINE_SET_MAX_ATTEMPTS | ENGINE_SET_DLQ);
    engine_settings_t change = {.visibility_ms = 999, .max_attempts = 77, .dlq = "ignored"};
    assert_err(queue_put("jobs", &change, ENGINE_SET_VISIBILITY, NULL), 0);
    engine_settings_t *got = &queue_info("jobs")->settings;
    ck_assert_int_eq(got->visibility_ms, 999);
    ck_assert_uint_eq(got->max_attempts, 3);
    ck_assert_str_eq(got->dlq, "jobs.failed");
    ck_assert_uint_eq(got->max_in_flight_per_key, 1);
    ck_assert_int_eq(got->dedup_ms, DEFAULT_DEDUP_MS);
}
END_TEST

START_TEST(test_contract_new_queue_gets_the_default_settings_and_dead_letter_queue)
{
    publish("jobs", "x");
    engine_settings_t want = {.visibility_ms = DEFAULT_VISIBILITY_MS,
                              .max_attempts = DEFAULT_MAX_ATTEMPTS,
                              .max_in_flight_per_key = 1,
                              .dedup_ms = DEFAULT_DEDUP_MS,
                              .dlq = "jobs.dlq"};
    assert_settings_eq(&queue_info("jobs")->settings, &want);
    queue_create("other");
    ck_assert_str_eq(queue_info("other")->settings.dlq, "other.dlq");
    queue_create("other.dlq");
    ck_assert_str_eq(queue_info("other.dlq")->settings.dlq, "");
}
END_TEST

START_TEST(test_contract_queue_put_refuses_invalid_names_and_settings)
{
    assert_err(queue_put("bad name", NULL, 0, NULL), SL_ENAME);
    assert_err(queue_put("", NULL, 0, NULL), SL_ENAME);
    engine_settings_t set = {.dlq = "bad name"};
    assert_err(queue_put("jobs", &set, ENGINE_SET_DLQ, NULL), SL_EPARAM);
    snprintf(set.dlq, sizeof set.dlq, "jobs");
    assert_err(queue_put("jobs", &set, ENGINE_SET_DLQ, NULL), SL_EPARAM);
    engine_settings_t zero = {.max_in_flight_per_key = 0};
    assert_err(queue_put("jobs", &zero, ENGINE_SET_KEY_IN_FLIGHT, NULL), SL_EPARAM);
    ck_assert_uint_eq(queue_list()->req.u.queue_list.n, 0);
}
END_TEST

START_TEST(test_contract_queue_list_is_sorted_by_name)
{
    ck_assert_uint_eq(queue_list()->req.u.queue_list.n, 0);
    queue_create("b");
    queue_create("c");
    publish("a", "one");
    publish("a", "two");
    queue_create("a-1");
    queue_create("B");
    assert_err(group_put("c", "audit", false)->req.status, 0);
    call_t *c = queue_list();
    ck_assert_uint_eq(c->req.u.queue_list.n, 5);
    engine_queue_info_t *q = c->req.u.queue_list.queues;
    const char *want[] = {"B", "a", "a-1", "b", "c"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(q[i].name, want[i]);
    ck_assert_uint_eq(q[1].messages, 2);
    ck_assert_uint_eq(q[1].published, 2);
    ck_assert_uint_eq(q[1].bytes, 6);
    ck_assert_uint_eq(q[2].messages, 0);
    ck_assert_uint_eq(q[4].ngroups, 2);
    ck_assert_uint_eq(q[3].ngroups, 1);
}
END_TEST

START_TEST(test_contract_purge_deletes_every_message_and_keeps_the_queue)
{
    engine_settings_t set = {.visibility_ms = 4321};
    queue_create_with("jobs", &set, ENGINE_SET_VISIBILITY);
    assert_err(group_put("jobs", "audit", false)->req.status, 0);
    publish("jobs", "one");
    publish("jobs", "two");
    publish_at("jobs", "delayed", dur_now_ms() + 60000);
    engine_lease_t *l = lease_one("jobs", NULL, -1);

    call_t *c = queue_purge("jobs");
    assert_err(c->req.status, 0);
    ck_assert_uint_eq(c->req.u.purged, 3);
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 0);
    ck_assert_uint_eq(qi->delayed, 0);
    ck_assert_uint_eq(qi->in_flight, 0);
    ck_assert_uint_eq(qi->bytes, 0);
    ck_assert_int_eq(qi->settings.visibility_ms, 4321);
    ck_assert_uint_eq(qi->ngroups, 2);
    assert_err(ack("jobs", l->receipt), SL_ENORECEIPT);
    assert_nothing_to_lease("jobs", NULL);
    assert_nothing_to_lease("jobs", "audit");

    c = queue_purge("jobs");
    ck_assert_uint_eq(c->req.u.purged, 0);
    assert_err(queue_purge("nope")->req.status, SL_ENOQUEUE);

    publish("jobs", "after");
    assert_body(lease_one("jobs", "audit", -1)->msg, "after");
}
END_TEST

START_TEST(test_contract_deleted_queue_is_gone_with_its_messages)
{
    assert_err(group_put("jobs", "audit", false)->req.status, SL_ENOQUEUE);
    publish("jobs", "one");
    engine_lease_t *l = lease_one("jobs", NULL, -1);
    assert_err(queue_delete("jobs"), 0);
    assert_err(queue_info_call("jobs")->req.status, SL_ENOQUEUE);
    assert_err(exec(lease_call("jobs", NULL, 1, -1, 0))->req.status, SL_ENOQUEUE);
    assert_err(queue_delete("jobs"), SL_ENOQUEUE);
    ck_assert_uint_eq(queue_list()->req.u.queue_list.n, 0);
    const char *r = l->receipt;
    call_t *a = call_new(STORE_ACK, "jobs", NULL);
    a->req.u.ack.receipts = &r;
    a->req.u.ack.n = 1;
    assert_err(exec(a)->req.status, SL_ENOQUEUE);

    publish("jobs", "fresh"); /* a new queue of the same name starts empty */
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 1);
    ck_assert_uint_eq(qi->published, 1);
    assert_body(lease_one("jobs", NULL, -1)->msg, "fresh");
}
END_TEST

/* ---------------------------------------------------------------- groups */

START_TEST(test_contract_group_put_starts_from_the_earliest_or_the_latest_message)
{
    publish("jobs", "a");
    publish("jobs", "b");
    call_t *g = group_put("jobs", "early", false);
    assert_err(g->req.status, 0);
    ck_assert(g->req.u.group.created);
    ck_assert_str_eq(g->req.u.group.info.name, "early");
    ck_assert_uint_eq(g->req.u.group.info.lag, 2);

    g = group_put("jobs", "late", true);
    assert_err(g->req.status, 0);
    ck_assert(g->req.u.group.created);
    ck_assert_uint_eq(g->req.u.group.info.lag, 0);

    g = group_put("jobs", "early", true); /* exists: its start is not changed */
    assert_err(g->req.status, 0);
    ck_assert(!g->req.u.group.created);
    ck_assert_uint_eq(g->req.u.group.info.lag, 2);

    assert_nothing_to_lease("jobs", "late");
    publish("jobs", "c");
    ck_assert_uint_eq(group_info("jobs", "early")->lag, 3);
    ck_assert_uint_eq(group_info("jobs", "late")->lag, 1);
    assert_body(lease_one("jobs", "late", -1)->msg, "c");
    call_t *l = lease("jobs", "early", 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 3);
    assert_body(leased(l, 0)->msg, "a");
    assert_body(leased(l, 2)->msg, "c");

    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->ngroups, 3);
    ck_assert_str_eq(qi->groups[0].name, "default");
    ck_assert_str_eq(qi->groups[1].name, "early");
    ck_assert_str_eq(qi->groups[2].name, "late");

    assert_err(group_put("nope", "g", false)->req.status, SL_ENOQUEUE);
    assert_err(group_put("jobs", "bad name", false)->req.status, SL_ENAME);
    assert_err(group_put("jobs", "", false)->req.status, SL_ENAME);
}
END_TEST

START_TEST(test_contract_group_settings_round_trip_and_change_by_mask)
{
    publish("jobs", "a");
    call_t *c = call_new(STORE_GROUP_PUT, "jobs", "hook");
    c->req.u.group.max_in_flight = 1;
    c->req.u.group.max_attempts = 3;
    c->req.u.group.meta = "{\"url\":\"http://x/\"}";
    exec(c);
    assert_err(c->req.status, 0);
    ck_assert(c->req.u.group.created);
    engine_group_info_t *g = group_info("jobs", "hook");
    ck_assert_uint_eq(g->max_in_flight, 1);
    ck_assert_uint_eq(g->max_attempts, 3);
    ck_assert_str_eq(g->meta, "{\"url\":\"http://x/\"}");
    ck_assert_ptr_null(group_info("jobs", "default")->meta);

    /* max_in_flight 1: a failed message waiting out its delay holds back the next one */
    publish("jobs", "b");
    engine_lease_t *l = lease_one("jobs", "hook", -1);
    assert_body(l->msg, "a");
    assert_err(release("jobs", l->receipt, 60000, "HTTP 500"), 0);
    assert_nothing_to_lease("jobs", "hook");
    ck_assert_uint_eq(group_info("jobs", "hook")->retrying, 1);

    /* a put on the existing group changes only what the mask names */
    c = call_new(STORE_GROUP_PUT, "jobs", "hook");
    c->req.u.group.max_in_flight = 0;
    c->req.u.group.max_attempts = 9;
    c->req.u.group.meta = "{\"other\":1}";
    c->req.u.group.mask = ENGINE_GSET_MAX_IN_FLIGHT;
    exec(c);
    assert_err(c->req.status, 0);
    ck_assert(!c->req.u.group.created);
    g = group_info("jobs", "hook");
    ck_assert_uint_eq(g->max_in_flight, 0);
    ck_assert_uint_eq(g->max_attempts, 3);
    ck_assert_str_eq(g->meta, "{\"url\":\"http://x/\"}");
    assert_body(lease_one("jobs", "hook", -1)->msg, "b"); /* no limit any more */
}
END_TEST

START_TEST(test_contract_group_info_counts_lag_and_in_flight)
{
    for (int i = 0; i < 3; i++)
        publish("jobs", "m");
    engine_group_info_t *gi = group_info("jobs", NULL);
    ck_assert_str_eq(gi->name, "default");
    ck_assert_uint_eq(gi->lag, 3);
    ck_assert_uint_eq(gi->in_flight, 0);
    ck_assert_uint_eq(gi->ready, 3);

    call_t *l = lease("jobs", NULL, 2, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 2);
    gi = group_info("jobs", "default");
    ck_assert_uint_eq(gi->lag, 3);
    ck_assert_uint_eq(gi->in_flight, 2);
    ck_assert_uint_eq(gi->ready, 1);
    ck_assert_uint_eq(gi->delivered, 2);
    ck_assert_uint_eq(gi->acked, 0);
    ck_assert_uint_eq(queue_info("jobs")->in_flight, 2);

    assert_err(ack("jobs", leased(l, 0)->receipt), 0);
    gi = group_info("jobs", NULL);
    ck_assert_uint_eq(gi->lag, 2);
    ck_assert_uint_eq(gi->in_flight, 1);
    ck_assert_uint_eq(gi->acked, 1);

    assert_err(group_info_call("jobs", "nope")->req.status, SL_ENOGROUP);
    assert_err(group_info_call("nope", NULL)->req.status, SL_ENOQUEUE);
}
END_TEST

START_TEST(test_contract_group_delete_removes_the_group_and_its_leases)
{
    assert_err(group_put("jobs-missing", "audit", false)->req.status, SL_ENOQUEUE);
    queue_create("jobs");
    assert_err(group_put("jobs", "audit", false)->req.status, 0);
    publish("jobs", "m");
    engine_lease_t *l = lease_one("jobs", "audit", -1);

    assert_err(group_delete("jobs", "audit"), 0);
    assert_err(group_info_call("jobs", "audit")->req.status, SL_ENOGROUP);
    assert_err(exec(lease_call("jobs", "audit", 1, -1, 0))->req.status, SL_ENOGROUP);
    assert_err(ack("jobs", l->receipt), SL_ENORECEIPT);
    assert_err(group_delete("jobs", "audit"), SL_ENOGROUP);
    assert_err(group_delete("nope", "audit"), SL_ENOQUEUE);
    ck_assert_uint_eq(queue_info("jobs")->ngroups, 1);

    /* its claim is gone: once default acks, the message leaves the queue */
    assert_err(ack("jobs", lease_one("jobs", NULL, -1)->receipt), 0);
    ck_assert_uint_eq(queue_info("jobs")->messages, 0);

    /* re-created, it is a new group */
    publish("jobs", "n");
    call_t *g = group_put("jobs", "audit", false);
    ck_assert(g->req.u.group.created);
    ck_assert_uint_eq(g->req.u.group.info.delivered, 0);
}
END_TEST

START_TEST(test_contract_default_group_cannot_be_deleted)
{
    publish("jobs", "m");
    assert_err(group_delete("jobs", "default"), SL_ECONFLICT);
    ck_assert_uint_eq(queue_info("jobs")->ngroups, 1);
    assert_body(lease_one("jobs", NULL, -1)->msg, "m");
}
END_TEST

START_TEST(test_contract_null_group_means_the_default_group)
{
    publish("jobs", "m");
    engine_group_info_t *gi = group_info("jobs", NULL);
    ck_assert_str_eq(gi->name, "default");
    ck_assert_uint_eq(gi->lag, 1);
    ck_assert_uint_eq(peek("jobs", NULL, 0, 10)->req.u.peek.n, 1);
    engine_lease_t *l = lease_one("jobs", NULL, -1);
    ck_assert_uint_eq(group_info("jobs", "default")->in_flight, 1);
    assert_err(ack("jobs", l->receipt), 0);
}
END_TEST

START_TEST(test_contract_group_put_with_a_null_group_finds_the_default_group)
{
    publish("jobs", "m");
    call_t *g = group_put("jobs", NULL, false);
    assert_err(g->req.status, 0);
    ck_assert(!g->req.u.group.created);
    ck_assert_str_eq(g->req.u.group.info.name, "default");
    ck_assert_uint_eq(queue_info("jobs")->ngroups, 1);
}
END_TEST

START_TEST(test_contract_group_delete_with_a_null_group_is_refused_as_the_default_group)
{
    publish("jobs", "m");
    assert_err(group_delete("jobs", NULL), SL_ECONFLICT);
    ck_assert_uint_eq(group_info("jobs", "default")->lag, 1);
}
END_TEST

START_TEST(test_contract_every_group_receives_every_message)
{
    queue_create("jobs");
    assert_err(group_put("jobs", "audit", false)->req.status, 0);
    uint64_t id = publish("jobs", "fan-out");
    engine_lease_t *d = lease_one("jobs", NULL, -1);
    engine_lease_t *a = lease_one("jobs", "audit", -1);
    ck_assert_uint_eq(d->msg->id, id);
    ck_assert_uint_eq(a->msg->id, id);
    ck_assert_uint_eq(d->attempts, 1);
    ck_assert_uint_eq(a->attempts, 1);
    ck_assert_str_ne(d->receipt, a->receipt);
    assert_nothing_to_lease("jobs", NULL);
    assert_nothing_to_lease("jobs", "audit");

    assert_err(ack("jobs", d->receipt), 0);
    ck_assert_uint_eq(group_info("jobs", NULL)->lag, 0);
    ck_assert_uint_eq(group_info("jobs", "audit")->lag, 1);
    ck_assert_uint_eq(group_info("jobs", "audit")->in_flight, 1);
    ck_assert_uint_eq(queue_info("jobs")->messages, 1); /* audit still needs it */
    assert_err(ack("jobs", a->receipt), 0);
    ck_assert_uint_eq(queue_info("jobs")->messages, 0);
}
END_TEST

/* ---------------------------------------------------------------- publish options */

START_TEST(test_contract_same_key_messages_are_delivered_one_at_a_time_in_order)
{
    uint64_t a1 = publish_keyed("orders", "a1", "customer-1");
    uint64_t a2 = publish_keyed("orders", "a2", "customer-1");
    uint64_t b1 = publish_keyed("orders", "b1", "customer-2");
    uint64_t a3 = publish_keyed("orders", "a3", "customer-1");
    uint64_t c1 = publish("orders", "c1");

    call_t *l = lease("orders", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 3);
    ck_assert_uint_eq(leased(l, 0)->msg->id, a1);
    ck_assert_uint_eq(leased(l, 1)->msg->id, b1);
    ck_assert_uint_eq(leased(l, 2)->msg->id, c1);
    assert_nothing_to_lease("orders", NULL);

    assert_err(ack("orders", leased(l, 0)->receipt), 0);
    engine_lease_t *n = lease_one("orders", NULL, -1);
    ck_assert_uint_eq(n->msg->id, a2);
    assert_nothing_to_lease("orders", NULL);

    assert_err(release("orders", n->receipt, 0, NULL), 0); /* a2 again before a3 */
    n = lease_one("orders", NULL, -1);
    ck_assert_uint_eq(n->msg->id, a2);
    ck_assert_uint_eq(n->attempts, 2);
    assert_nothing_to_lease("orders", NULL);

    assert_err(ack("orders", n->receipt), 0);
    n = lease_one("orders", NULL, -1);
    ck_assert_uint_eq(n->msg->id, a3);
}
END_TEST

START_TEST(test_contract_max_in_flight_per_key_lets_that_many_same_key_messages_out)
{
    engine_settings_t set = {.max_in_flight_per_key = 2};
    queue_create_with("orders", &set, ENGINE_SET_KEY_IN_FLIGHT);
    for (int i = 0; i < 4; i++)
        publish_keyed("orders", "m", "k");
    ck_assert_uint_eq(lease("orders", NULL, 10, -1)->req.u.lease.n, 2);
    assert_nothing_to_lease("orders", NULL);

    set.max_in_flight_per_key = 3; /* raising the limit lets one more out at once */
    assert_err(queue_put("orders", &set, ENGINE_SET_KEY_IN_FLIGHT, NULL), 0);
    ck_assert_uint_eq(lease("orders", NULL, 10, -1)->req.u.lease.n, 1);
    assert_nothing_to_lease("orders", NULL);
}
END_TEST

static call_t *publish_idem(const char *queue, const char *body, const char *key)
{
    call_t *c = publish_call(queue, 1);
    engine_pub_t *p = item(c, 0, body);
    p->idem_key = key;
    p->idem_len = strlen(key);
    publish_ok(c);
    return c;
}

START_TEST(test_contract_idempotent_publish_returns_the_original_id_as_duplicate)
{
    call_t *first = publish_idem("jobs", "original", "order-1");
    engine_pub_t *p = &first->req.u.publish.items[0];
    ck_assert(!p->duplicate);
    call_t *again = publish_idem("jobs", "retry", "order-1");
    ck_assert(again->req.u.publish.items[0].duplicate);
    ck_assert_uint_eq(again->req.u.publish.items[0].id, p->id);
    ck_assert_uint_eq(queue_info("jobs")->messages, 1);

    call_t *other = publish_idem("jobs", "another", "order-2");
    ck_assert(!other->req.u.publish.items[0].duplicate);
    ck_assert_uint_gt(other->req.u.publish.items[0].id, p->id);

    /* within one batch, the second use of a key is a duplicate of the first */
    call_t *b = publish_call("jobs", 2);
    item(b, 0, "batch one")->idem_key = "order-3";
    b->req.u.publish.items[0].idem_len = 7;
    item(b, 1, "batch two")->idem_key = "order-3";
    b->req.u.publish.items[1].idem_len = 7;
    publish_ok(b);
    ck_assert(!b->req.u.publish.items[0].duplicate);
    ck_assert(b->req.u.publish.items[1].duplicate);
    ck_assert_uint_eq(b->req.u.publish.items[1].id, b->req.u.publish.items[0].id);

    call_t *l = lease("jobs", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 3);
    assert_body(leased(l, 0)->msg, "original");
    assert_body(leased(l, 1)->msg, "another");
    assert_body(leased(l, 2)->msg, "batch one");
}
END_TEST

START_TEST(test_contract_idempotency_keys_are_ignored_without_a_dedup_window)
{
    engine_settings_t set = {.dedup_ms = 0};
    queue_create_with("jobs", &set, ENGINE_SET_DEDUP);
    call_t *a = publish_idem("jobs", "one", "k");
    call_t *b = publish_idem("jobs", "two", "k");
    ck_assert(!b->req.u.publish.items[0].duplicate);
    ck_assert_uint_ne(a->req.u.publish.items[0].id, b->req.u.publish.items[0].id);
    ck_assert_uint_eq(queue_info("jobs")->messages, 2);
}
END_TEST

START_TEST(test_contract_delayed_publish_is_visible_only_after_its_time)
{
    int64_t deliver_at = dur_now_ms() + 100;
    uint64_t id = publish_at("jobs", "later", deliver_at);
    uint64_t now_id = publish("jobs", "now");
    ck_assert_uint_gt(now_id, id);
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 2);
    ck_assert_uint_eq(qi->delayed, 1);
    call_t *p = peek("jobs", NULL, 0, 10);
    assert_state(p, 0, id, ENGINE_DELAYED);
    ck_assert_int_eq(peeked(p, 0)->until, deliver_at);

    engine_lease_t *first = lease_one("jobs", NULL, 30000);
    ck_assert_uint_eq(first->msg->id, now_id); /* the delayed one is not there yet */
    assert_nothing_to_lease("jobs", NULL);

    engine_lease_t *l = lease_eventually("jobs", NULL);
    ck_assert_int_ge(dur_now_ms(), deliver_at);
    ck_assert_uint_eq(l->msg->id, id);
    assert_body(l->msg, "later");
    ck_assert_uint_eq(l->attempts, 1);
    ck_assert_uint_eq(queue_info("jobs")->delayed, 0);

    /* a time in the past is now */
    uint64_t past = publish_at("jobs", "past", dur_now_ms() - 60000);
    ck_assert_uint_eq(lease_one("jobs", NULL, -1)->msg->id, past);
}
END_TEST

START_TEST(test_contract_expired_message_is_never_delivered)
{
    call_t *c = publish_call("jobs", 3);
    item(c, 0, "short-lived")->ttl_ms = 30;
    item(c, 1, "kept");
    engine_pub_t *p = item(c, 2, "expires while delayed");
    p->ttl_ms = 30;
    p->deliver_at = dur_now_ms() + 60;
    publish_ok(c);
    run_for(150);

    call_t *l = lease("jobs", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    assert_body(leased(l, 0)->msg, "kept");
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 1);
    ck_assert_uint_eq(qi->delayed, 0);
    ck_assert_uint_eq(qi->expired, 2);
}
END_TEST

START_TEST(test_contract_retention_drops_the_oldest_messages_past_max_messages)
{
    engine_settings_t set = {.max_messages = 2};
    queue_create_with("jobs", &set, ENGINE_SET_MAX_MESSAGES);
    publish("jobs", "a");
    engine_lease_t *held = lease_one("jobs", NULL, 30000);
    publish("jobs", "b");
    publish("jobs", "c");
    publish("jobs", "d");

    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 2);
    ck_assert_uint_eq(qi->dropped, 2);
    assert_err(ack("jobs", held->receipt), SL_ENORECEIPT); /* dropped although leased */
    call_t *l = lease("jobs", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 2);
    assert_body(leased(l, 0)->msg, "c");
    assert_body(leased(l, 1)->msg, "d");
}
END_TEST

START_TEST(test_contract_retention_drops_the_oldest_messages_past_max_bytes)
{
    engine_settings_t set = {.max_bytes = 10};
    queue_create_with("jobs", &set, ENGINE_SET_MAX_BYTES);
    publish("jobs", "aaaa");
    publish("jobs", "bbbb");
    publish("jobs", "cccc");
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 2);
    ck_assert_uint_eq(qi->bytes, 8);
    ck_assert_uint_eq(qi->dropped, 1);
    assert_body(lease_one("jobs", NULL, -1)->msg, "bbbb");
}
END_TEST

START_TEST(test_contract_retention_keeps_delayed_messages_and_drops_visible_ones_first)
{
    engine_settings_t set = {.max_messages = 2};
    queue_create_with("jobs", &set, ENGINE_SET_MAX_MESSAGES);
    publish_at("jobs", "delayed", dur_now_ms() + 3600000);
    publish("jobs", "v1");
    publish("jobs", "v2");
    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 2);
    ck_assert_uint_eq(qi->delayed, 1);
    ck_assert_uint_eq(qi->dropped, 1);
    call_t *l = lease("jobs", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    assert_body(leased(l, 0)->msg, "v2");
}
END_TEST

START_TEST(test_contract_retention_lets_delayed_messages_stand_above_the_limit_until_due)
{
    /* docs/api.md, Retention: delayed messages count toward max_messages but are only dropped
     * once visible; the oldest visible go first. */
    engine_settings_t set = {.max_messages = 2};
    queue_create_with("jobs", &set, ENGINE_SET_MAX_MESSAGES);
    int64_t soon = dur_now_ms() + 60;
    publish_at("jobs", "d1", soon);
    publish_at("jobs", "d2", soon);
    publish_at("jobs", "d3", soon);

    engine_queue_info_t *qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 3);
    ck_assert_uint_eq(qi->delayed, 3);
    ck_assert_uint_eq(qi->dropped, 0);

    run_for(150);
    qi = queue_info("jobs");
    ck_assert_uint_eq(qi->messages, 2);
    ck_assert_uint_eq(qi->delayed, 0);
    ck_assert_uint_eq(qi->dropped, 1);
    call_t *l = lease("jobs", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 2);
    assert_body(leased(l, 0)->msg, "d2");
    assert_body(leased(l, 1)->msg, "d3");
}
END_TEST

START_TEST(test_contract_retention_drops_messages_older_than_max_age)
{
    engine_settings_t set = {.max_age_ms = 50};
    queue_create_with("jobs", &set, ENGINE_SET_MAX_AGE);
    publish("jobs", "old");
    run_for(120);
    publish("jobs", "new");
    call_t *l = lease("jobs", NULL, 10, -1);
    ck_assert_uint_eq(l->req.u.lease.n, 1);
    assert_body(leased(l, 0)->msg, "new");
    ck_assert_uint_eq(queue_info("jobs")->dropped, 1);
}
END_TEST

START_TEST(test_contract_idempotency_key_is_forgotten_after_the_dedup_window)
{
    engine_settings_t set = {.dedup_ms = 50};
    queue_create_with("jobs", &set, ENGINE_SET_DEDUP);
    call_t *a = publish_idem("jobs", "one", "k");
    ck_assert(publish_idem("jobs", "one again", "k")->req.u.publish.items[0].duplicate);
    ck_assert(
        !publish_idem("other", "same key, other queue", "k")->req.u.publish.items[0].duplicate);
    run_for(120);
    call_t *b = publish_idem("jobs", "two", "k");
    ck_assert(!b->req.u.publish.items[0].duplicate);
    ck_assert_uint_gt(b->req.u.publish.items[0].id, a->req.u.publish.items[0].id);
    ck_assert_uint_eq(queue_info("jobs")->messages, 2);
}
END_TEST

START_TEST(test_contract_receipt_is_valid_only_on_its_own_queue)
{
    publish("a", "in a");
    publish("b", "in b");
    engine_lease_t *la = lease_one("a", NULL, -1);
    engine_lease_t *lb = lease_one("b", NULL, -1);
    assert_err(ack("b", la->receipt), SL_ENORECEIPT);
    assert_err(release("b", la->receipt, 0, NULL), SL_ENORECEIPT);
    assert_err(undo("a", lb->receipt), SL_ENORECEIPT);
    assert_err(ack("a", la->receipt), 0);
    assert_err(ack("b", lb->receipt), 0);
}
END_TEST

START_TEST(test_contract_redrive_to_a_deleted_origin_group_publishes_to_every_group)
{
    queue_with_one_attempt("jobs");
    assert_err(group_put("jobs", "audit", false)->req.status, 0);
    publish("jobs", "payload");
    assert_err(ack("jobs", lease_one("jobs", NULL, -1)->receipt), 0);
    lease_one("jobs", "audit", -1);
    await_dead_lettered("jobs", 1);
    ck_assert_uint_eq(queue_info("jobs")->messages, 0);
    assert_attr(peek("jobs.dlq", NULL, 0, 10)->req.u.peek.out[0].msg, "sluice-origin-group",
                "audit");

    assert_err(group_delete("jobs", "audit"), 0);
    call_t *r = redrive("jobs.dlq", NULL, 0);
    assert_err(r->req.status, 0);
    ck_assert_uint_eq(r->req.u.redrive.moved, 1);
    engine_lease_t *l = lease_one("jobs", NULL, -1);
    assert_body(l->msg, "payload");
    ck_assert_uint_eq(l->attempts, 1);
}
END_TEST

START_TEST(test_contract_redrive_re_creates_a_deleted_origin_queue)
{
    queue_with_one_attempt("jobs");
    publish("jobs", "payload");
    lease_one("jobs", NULL, -1);
    await_dead_lettered("jobs", 1);
    assert_err(queue_delete("jobs"), 0);

    call_t *r = redrive("jobs.dlq", NULL, 0);
    assert_err(r->req.status, 0);
    ck_assert_uint_eq(r->req.u.redrive.moved, 1);
    engine_lease_t *l = lease_one("jobs", NULL, -1);
    assert_body(l->msg, "payload");
    ck_assert_uint_eq(l->attempts, 1);
}
END_TEST

/* ---------------------------------------------------------------- runner */

static Suite *contract_suite(const char *backend)
{
    static char name[128];
    snprintf(name, sizeof name, "store contract (%s)", backend);
    Suite *s = suite_create(name);
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_contract_ready_reports_zero_when_the_backend_is_open);
    tcase_add_test(tc, test_contract_publish_returns_increasing_ids_and_a_known_durability);
    tcase_add_test(tc, test_contract_publish_to_an_invalid_name_is_refused_and_stores_nothing);
    tcase_add_test(tc, test_contract_batch_publish_stores_every_item_in_order);
    tcase_add_test(tc, test_contract_creating_a_queue_past_max_queues_is_refused);
    tcase_add_test(tc, test_contract_leased_message_is_gone_once_acked);
    tcase_add_test(tc, test_contract_ack_of_a_dead_receipt_reports_no_receipt);
    tcase_add_test(tc, test_contract_ack_on_an_unknown_queue_reports_no_queue);
    tcase_add_test(tc, test_contract_lease_on_an_unknown_queue_reports_no_queue);
    tcase_add_test(tc, test_contract_lease_on_an_unknown_group_reports_no_group);
    tcase_add_test(tc, test_contract_lease_returns_at_most_max_messages_in_publish_order);
    tcase_add_test(tc, test_contract_lease_stops_at_max_bytes_but_returns_at_least_one_message);
    tcase_add_test(tc, test_contract_expired_lease_is_redelivered_with_attempts_two);
    tcase_add_test(tc, test_contract_lease_without_visibility_uses_the_queue_visibility_timeout);
    tcase_add_test(
        tc, test_contract_lease_with_zero_visibility_makes_the_message_visible_again_at_once);
    tcase_add_test(tc, test_contract_released_message_is_available_again_at_once);
    tcase_add_test(tc, test_contract_released_message_with_a_delay_returns_only_after_the_delay);
    tcase_add_test(tc, test_contract_undone_lease_is_redelivered_first_without_counting_an_attempt);
    tcase_add_test(tc, test_contract_parked_lease_is_completed_by_a_later_publish);
    tcase_add_test(tc, test_contract_wake_only_lease_takes_what_is_there_then_wakes_empty);
    tcase_add_test(tc, test_contract_parked_lease_times_out_with_an_empty_result_after_wait);
    tcase_add_test(tc, test_contract_one_message_completes_only_one_of_two_parked_leases);
    tcase_add_test(tc,
                   test_contract_parked_lease_is_completed_when_a_delayed_message_becomes_visible);
    tcase_add_test(tc, test_contract_parked_lease_is_completed_by_an_expired_lease);
    tcase_add_test(tc, test_contract_parked_lease_waits_for_a_message_held_behind_its_ordering_key);
    tcase_add_test(tc, test_contract_cancelled_parked_lease_is_never_answered);
    tcase_add_test(tc, test_contract_cancel_of_a_finished_request_reports_not_pending);
    tcase_add_test(tc, test_contract_drain_answers_every_parked_lease_with_an_empty_result);
    tcase_add_test(tc, test_contract_parked_lease_on_a_deleted_queue_is_answered_with_no_queue);
    tcase_add_test(tc,
                   test_contract_parked_lease_on_a_deleted_group_is_answered_before_its_wait_ends);
    tcase_add_test(tc, test_contract_peek_shows_each_message_state_for_the_group);
    tcase_add_test(tc, test_contract_peek_pages_through_messages_in_id_order);
    tcase_add_test(tc, test_contract_peek_on_an_unknown_queue_or_group_is_refused);
    tcase_add_test(tc, test_contract_message_out_of_attempts_moves_to_the_dead_letter_queue);
    tcase_add_test(tc, test_contract_released_message_out_of_attempts_carries_its_last_error);
    tcase_add_test(tc, test_contract_queue_named_dlq_has_no_dead_letter_queue_of_its_own);
    tcase_add_test(
        tc, test_contract_redrive_from_the_dead_letter_queue_publishes_again_with_fresh_attempts);
    tcase_add_test(
        tc, test_contract_redrive_by_source_queue_and_ids_moves_those_for_the_origin_group_only);
    tcase_add_test(tc, test_contract_queue_put_creates_then_changes_a_queue);
    tcase_add_test(tc, test_contract_queue_settings_round_trip_through_queue_info);
    tcase_add_test(tc, test_contract_queue_put_changes_only_the_fields_in_the_mask);
    tcase_add_test(tc, test_contract_new_queue_gets_the_default_settings_and_dead_letter_queue);
    tcase_add_test(tc, test_contract_queue_put_refuses_invalid_names_and_settings);
    tcase_add_test(tc, test_contract_queue_list_is_sorted_by_name);
    tcase_add_test(tc, test_contract_purge_deletes_every_message_and_keeps_the_queue);
    tcase_add_test(tc, test_contract_deleted_queue_is_gone_with_its_messages);
    tcase_add_test(tc, test_contract_group_put_starts_from_the_earliest_or_the_latest_message);
    tcase_add_test(tc, test_contract_group_settings_round_trip_and_change_by_mask);
    tcase_add_test(tc, test_contract_group_info_counts_lag_and_in_flight);
    tcase_add_test(tc, test_contract_group_delete_removes_the_group_and_its_leases);
    tcase_add_test(tc, test_contract_default_group_cannot_be_deleted);
    tcase_add_test(tc, test_contract_null_group_means_the_default_group);
    tcase_add_test(tc, test_contract_group_put_with_a_null_group_finds_the_default_group);
    tcase_add_test(tc,
                   test_contract_group_delete_with_a_null_group_is_refused_as_the_default_group);
    tcase_add_test(tc, test_contract_every_group_receives_every_message);
    tcase_add_test(tc, test_contract_same_key_messages_are_delivered_one_at_a_time_in_order);
    tcase_add_test(tc, test_contract_max_in_flight_per_key_lets_that_many_same_key_messages_out);
    tcase_add_test(tc, test_contract_idempotent_publish_returns_the_original_id_as_duplicate);
    tcase_add_test(tc, test_contract_idempotency_keys_are_ignored_without_a_dedup_window);
    tcase_add_test(tc, test_contract_delayed_publish_is_visible_only_after_its_time);
    tcase_add_test(tc, test_contract_expired_message_is_never_delivered);
    tcase_add_test(tc, test_contract_retention_drops_the_oldest_messages_past_max_messages);
    tcase_add_test(tc, test_contract_retention_drops_the_oldest_messages_past_max_bytes);
    tcase_add_test(tc, test_contract_retention_keeps_delayed_messages_and_drops_visible_ones_first);
    tcase_add_test(tc,
                   test_contract_retention_lets_delayed_messages_stand_above_the_limit_until_due);
    tcase_add_test(tc, test_contract_retention_drops_messages_older_than_max_age);
    tcase_add_test(tc, test_contract_idempotency_key_is_forgotten_after_the_dedup_window);
    tcase_add_test(tc, test_contract_receipt_is_valid_only_on_its_own_queue);
    tcase_add_test(tc, test_contract_redrive_to_a_deleted_origin_group_publishes_to_every_group);
    tcase_add_test(tc, test_contract_redrive_re_creates_a_deleted_origin_queue);
    suite_add_tcase(s, tc);
    return s;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--backends") == 0) {
        for (const char *const *n = store_names(); *n; n++)
            printf("%s\n", *n);
        return EXIT_SUCCESS;
    }
    if (argc != 1) {
        fprintf(stderr,
                "usage: %s [--backends]\n"
                "Runs the storage contract suite against the backend named by "
                "SLUICE_STORE (default: the first of --backends).\n",
                argv[0]);
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(root_dir, sizeof root_dir, "%s/sluice-contract-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(root_dir) == NULL) {
        perror("store_contract: cannot create a temporary directory");
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(contract_suite(backend_name()));
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(root_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
