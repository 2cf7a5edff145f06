/*
 * test_gmq.c — the GMQ listener on a real libuv loop over the memory storage, with real sockets:
 * a client thread does blocking socket I/O while the test's thread runs the loop, and the
 * assertions run on the test's thread once the client is done. Covers the request/reply cycle,
 * requests that arrive in pieces or too large or too slowly, the pop that is given back when its
 * reply cannot be written, the connection limit, credentials and graceful draining.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "common.h"
#include "gmq.h"
#include "gmqwire.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "store.h"

#define REQ(op, q, payload)                                                                       \
    "{\"operation\":\"" op "\",\"queue\":\"" q "\",\"payload\":\"" payload "\",\"confirmation\":" \
    "\"\",\"error\":null}"
#define REPLY(op, q, payload)                                                                     \
    "{\"operation\":\"" op "\",\"queue\":\"" q "\",\"payload\":\"" payload "\",\"confirmation\":" \
    "\"Y\",\"error\":null}"

static struct {
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t timer;
    store_t *store;
    gmq_t *gmq;
    int port;
    atomic_int client_done;
} fx;

static gmq_config_t config(void)
{
    return (gmq_config_t){.host = "127.0.0.1",
                          .port = 0,
                          .protocol = "tcp",
                          .max_request = 1 << 20,
                          .max_message_bytes = 16 << 20,
                          .timeout_ms = 5000,
                          .max_connections = 64,
                          .user = "",
                          .password = ""};
}

static void on_wake(uv_async_t *a)
{
    (void)a;
}

static void start(const gmq_config_t *gc)
{
    memset(&fx, 0, sizeof fx);
    log_setup(LOG_ERROR, LOG_TEXT); /* the connection-limit warning is expected */
    ck_assert_int_eq(uv_loop_init(&fx.loop), 0);
    uv_async_init(&fx.loop, &fx.wake, on_wake);
    uv_timer_init(&fx.loop, &fx.timer);
    store_config_t sc = {.name = "memory",
                         .engine = {.defaults = {.visibility_ms = 30000,
                                                 .max_attempts = 10,
                                                 .max_in_flight_per_key = 1,
                                                 .dedup_ms = 60000},
                                    .max_queues = 100}};
    ck_assert_int_eq(store_open(&sc, &fx.loop, &fx.store), 0);
    ck_assert_int_eq(gmq_open(gc, fx.store, &fx.loop, &fx.gmq), 0);
    fx.port = gmq_port(fx.gmq);
    ck_assert_int_gt(fx.port, 0);
}

static void teardown(void)
{
    gmq_close(fx.gmq);
    store_close(fx.store);
    uv_close((uv_handle_t *)&fx.wake, NULL);
    uv_close((uv_handle_t *)&fx.timer, NULL);
    while (uv_run(&fx.loop, UV_RUN_NOWAIT) != 0)
        usleep(1000);
    ck_assert_int_eq(uv_loop_close(&fx.loop), 0);
}

/* ---------------------------------------------------------------- the client side */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int client_connect(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Sends len bytes in pieces of chunk bytes (0: at once) with pause_ms between them. */
static void client_send(int fd, const char *data, size_t len, size_t chunk, int pause_ms)
{
    size_t off = 0;
    while (off < len) {
        size_t n = chunk && chunk < len - off ? chunk : len - off;
        ssize_t w = send(fd, data + off, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server closed: what it said is still to be read */
        off += (size_t)w;
        if (pause_ms)
            usleep((useconds_t)pause_ms * 1000);
    }
}

/* Reads until EOF or timeout_ms; returns a malloc'd string (what arrived). */
static char *client_read_all(int fd, int timeout_ms)
{
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        if (n + 1 >= cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return buf;
}

/* One request on one connection, as the GMQ client does it; returns the reply (free it). */
static char *client_exchange(const char *req, size_t chunk, int pause_ms)
{
    int fd = client_connect(0);
    if (fd < 0)
        return strdup("(connect failed)");
    client_send(fd, req, strlen(req), chunk, pause_ms);
    char *r = client_read_all(fd, 5000);
    close(fd);
    return r;
}

static void *client_main(void *arg)
{
    void (*fn)(void) = (void (*)(void))arg;
    fn();
    atomic_store(&fx.client_done, 1);
    uv_async_send(&fx.wake);
    return NULL;
}

/* Runs fn on a client thread while this thread runs the loop, until fn returns. */
static void run_client(void (*fn)(void))
{
    pthread_t t;
    atomic_store(&fx.client_done, 0);
    ck_assert_int_eq(pthread_create(&t, NULL, client_main, (void *)fn), 0);
    while (!atomic_load(&fx.client_done))
        uv_run(&fx.loop, UV_RUN_ONCE);
    pthread_join(t, NULL);
    /* let the server finish what the client's last moves started (closes, follow-ups) */
    for (int i = 0; i < 20; i++)
        uv_run(&fx.loop, UV_RUN_NOWAIT), usleep(1000);
}

/* ---------------------------------------------------------------- storage probes */

static int probe_done;

static void on_probe(store_req_t *r)
{
    (void)r;
    probe_done = 1;
}

/* The default group's lag and in-flight count on queue (-1, -1 when the queue does not exist). */
static void group_counts(const char *queue, long long *lag, long long *in_flight)
{
    pool_t pool;
    store_req_t r;
    pool_init(&pool);
    store_req_init(&r, STORE_GROUP_INFO, on_probe, NULL, &pool);
    r.queue = queue;
    r.group = "default";
    probe_done = 0;
    store_submit(fx.store, &r);
    ck_assert(probe_done); /* the memory storage answers inline */
    *lag = r.status ? -1 : (long long)r.u.group.info.lag;
    *in_flight = r.status ? -1 : (long long)r.u.group.info.in_flight;
    pool_cleanup(&pool);
}

static void publish_direct(const char *queue, size_t len)
{
    pool_t pool;
    store_req_t r;
    engine_pub_t p = {.msg = msg_new(NULL, len, NULL, 0, NULL, 0)};
    memset(msg_body(p.msg), 'x', len);
    pool_init(&pool);
    store_req_init(&r, STORE_PUBLISH, on_probe, NULL, &pool);
    r.queue = queue;
    r.u.publish.items = &p;
    r.u.publish.n = 1;
    store_submit(fx.store, &r);
    ck_assert_int_eq(r.status, 0);
    pool_cleanup(&pool);
}

/* ---------------------------------------------------------------- tests */

static char *replies[8];

static void free_replies(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(replies); i++) {
        free(replies[i]);
        replies[i] = NULL;
    }
}

static void round_trip_client(void)
{
    replies[0] = client_exchange(REQ("P", "q1", "Zmlyc3Q="), 0, 0);
    replies[1] = client_exchange(REQ("P", "q1", "c2Vjb25k"), 0, 0);
    replies[2] = client_exchange(REQ("L", "q1", ""), 0, 0);
    replies[3] = client_exchange(REQ("S", "q1", ""), 0, 0);
    replies[4] = client_exchange(REQ("S", "q1", ""), 0, 0);
    replies[5] = client_exchange(REQ("S", "q1", ""), 0, 0);
    replies[6] = client_exchange(REQ("L", "q1", ""), 0, 0);
}

START_TEST(test_gmq_publish_length_and_pop_round_trip_in_fifo_order)
{
    gmq_config_t gc = config();
    start(&gc);
    run_client(round_trip_client);
    ck_assert_str_eq(replies[0], REPLY("P", "q1", "Zmlyc3Q="));
    ck_assert_str_eq(replies[1], REPLY("P", "q1", "c2Vjb25k"));
    ck_assert_str_eq(replies[2], REPLY("L", "q1", "2"));
    ck_assert_str_eq(replies[3], REPLY("S", "q1", "Zmlyc3Q="));
    ck_assert_str_eq(replies[4], REPLY("S", "q1", "c2Vjb25k"));
    ck_assert_str_eq(replies[5], REPLY("S", "q1", ""));
    ck_assert_str_eq(replies[6], REPLY("L", "q1", "0"));
    long long lag, in_flight;
    group_counts("q1", &lag, &in_flight);
    ck_assert_int_eq(lag, 0); /* the pops were acked once their replies were written */
    ck_assert_int_eq(in_flight, 0);
    ck_assert_uint_eq(gmq_active(fx.gmq), 0);
    free_replies();
}
END_TEST

static void one_byte_client(void)
{
    replies[0] = client_exchange(REQ("P", "seg", "c2VnbWVudGVk"), 1, 1);
}

START_TEST(test_gmq_request_sent_one_byte_at_a_time_is_answered_once_complete)
{
    gmq_config_t gc = config();
    start(&gc);
    run_client(one_byte_client);
    ck_assert_str_eq(replies[0], REPLY("P", "seg", "c2VnbWVudGVk"));
    free_replies();
}
END_TEST

static void oversized_client(void)
{
    size_t n = 200000;
    char *req = malloc(n + 100);
    int k = snprintf(req, n + 100, "{\"operation\":\"P\",\"queue\":\"big\",\"payload\":\"");
    memset(req + k, 'A', n);
    strcpy(req + k + n, "\"}");
    replies[0] = client_exchange(req, 0, 0);
    free(req);
}

START_TEST(test_gmq_oversized_request_is_refused_and_the_client_still_reads_why)
{
    gmq_config_t gc = config();
    gc.max_request = 4096;
    start(&gc);
    run_client(oversized_client);
    ck_assert_msg(strstr(replies[0], "\"confirmation\":\"N\"") &&
                      strstr(replies[0], "\"code\":\"payload_too_large\"") &&
                      strstr(replies[0], "larger than 4096 bytes"),
                  "reply: %s", replies[0]);
    free_replies();
}
END_TEST

static void slow_client(void)
{
    int fd = client_connect(0);
    client_send(fd, "{\"operation\":", 13, 0, 0);
    replies[0] = client_read_all(fd, 3000);
    close(fd);
}

START_TEST(test_gmq_request_not_complete_in_time_is_answered_request_timeout)
{
    gmq_config_t gc = config();
    gc.timeout_ms = 200;
    start(&gc);
    run_client(slow_client);
    ck_assert_msg(strstr(replies[0], "\"code\":\"request_timeout\"") &&
                      strstr(replies[0], "13 bytes arrived"),
                  "reply: %s", replies[0]);
    free_replies();
}
END_TEST

static void unread_pop_client(void)
{
    int fd = client_connect(4096);
    const char *req = REQ("S", "huge", "");
    client_send(fd, req, strlen(req), 0, 0);
    usleep(800 * 1000); /* never reads: the reply cannot be wholly written */
    close(fd);
}

START_TEST(test_gmq_pop_whose_reply_cannot_be_written_gives_the_message_back)
{
    gmq_config_t gc = config();
    gc.timeout_ms = 300;
    start(&gc);
    publish_direct("huge", 8 << 20); /* its base64 reply is far larger than the socket buffers */
    run_client(unread_pop_client);
    long long lag, in_flight;
    group_counts("huge", &lag, &in_flight);
    ck_assert_int_eq(lag, 1);       /* not lost */
    ck_assert_int_eq(in_flight, 0); /* and visible again at once */
}
END_TEST

static void limit_client(void)
{
    int a = client_connect(0);
    int b = client_connect(0);
    const char *req = REQ("L", "q", "");
    client_send(b, req, strlen(req), 0, 0);
    replies[0] = client_read_all(b, 400); /* a holds the only slot: nothing yet */
    close(a);
    replies[1] = client_read_all(b, 3000);
    close(b);
}

START_TEST(test_gmq_connection_limit_makes_new_clients_wait_for_a_free_slot)
{
    gmq_config_t gc = config();
    gc.max_connections = 1;
    start(&gc);
    run_client(limit_client);
    ck_assert_str_eq(replies[0], "");
    ck_assert_str_eq(replies[1], REPLY("L", "q", "0"));
    free_replies();
}
END_TEST

static void auth_client(void)
{
    size_t len;
    char *good = gmqwire_request("L", "q", "", "gmqserver", "secret", &len);
    char *bad = gmqwire_request("L", "q", "", "gmqserver", "Secret", &len);
    replies[0] = client_exchange(REQ("L", "q", ""), 0, 0);
    replies[1] = client_exchange(bad, 0, 0);
    replies[2] = client_exchange(good, 0, 0);
    sl_free(good);
    sl_free(bad);
}

START_TEST(test_gmq_credentials_are_checked_with_the_head_clients_tokens)
{
    gmq_config_t gc = config();
    gc.user = "gmqserver";
    gc.password = "secret";
    start(&gc);
    run_client(auth_client);
    ck_assert_msg(strstr(replies[0], "\"code\":\"unauthorized\"") &&
                      strstr(replies[0], "requires GMQ credentials"),
                  "reply: %s", replies[0]);
    ck_assert_msg(strstr(replies[1], "\"code\":\"unauthorized\"") &&
                      strstr(replies[1], "do not match"),
                  "reply: %s", replies[1]);
    ck_assert_msg(strstr(replies[2], "\"payload\":\"0\",\"confirmation\":\"Y\"") &&
                      strstr(replies[2], "\"auth\":{\"user\":\"676d71736572766572"),
                  "reply: %s", replies[2]);
    free_replies();
}
END_TEST

static void on_drain_timer(uv_timer_t *t)
{
    (void)t;
    gmq_drain(fx.gmq);
}

static void drain_client(void)
{
    int idle = client_connect(0);
    int busy = client_connect(0);
    client_send(busy, "{\"operation\":\"L\",", 17, 0, 0); /* a request in progress */
    replies[0] = client_read_all(idle, 3000);             /* drained at 100 ms */
    const char *rest = "\"queue\":\"q\"}";
    client_send(busy, rest, strlen(rest), 0, 0);
    replies[1] = client_read_all(busy, 3000);
    int late = client_connect(0);
    replies[2] = strdup(late < 0 ? "refused" : "accepted");
    if (late >= 0)
        close(late);
    close(idle);
    close(busy);
}

START_TEST(test_gmq_drain_stops_accepting_and_lets_requests_in_progress_finish)
{
    gmq_config_t gc = config();
    start(&gc);
    uv_timer_start(&fx.timer, on_drain_timer, 100, 0);
    run_client(drain_client);
    ck_assert_msg(strstr(replies[0], "\"code\":\"shutting_down\""), "reply: %s", replies[0]);
    ck_assert_str_eq(replies[1], "{\"operation\":\"L\",\"queue\":\"q\",\"payload\":\"0\","
                                 "\"confirmation\":\"Y\",\"error\":null}");
    ck_assert_str_eq(replies[2], "refused");
    ck_assert_uint_eq(gmq_active(fx.gmq), 0);
    free_replies();
}
END_TEST

static Suite *gmq_suite(void)
{
    Suite *s = suite_create("gmq");
    TCase *tc = tcase_create("listener");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_gmq_publish_length_and_pop_round_trip_in_fifo_order);
    tcase_add_test(tc, test_gmq_request_sent_one_byte_at_a_time_is_answered_once_complete);
    tcase_add_test(tc, test_gmq_oversized_request_is_refused_and_the_client_still_reads_why);
    tcase_add_test(tc, test_gmq_request_not_complete_in_time_is_answered_request_timeout);
    tcase_add_test(tc, test_gmq_pop_whose_reply_cannot_be_written_gives_the_message_back);
    tcase_add_test(tc, test_gmq_connection_limit_makes_new_clients_wait_for_a_free_slot);
    tcase_add_test(tc, test_gmq_credentials_are_checked_with_the_head_clients_tokens);
    tcase_add_test(tc, test_gmq_drain_stops_accepting_and_lets_requests_in_progress_finish);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gmq_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
