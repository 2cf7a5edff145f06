/*
 * test_webhook.c — the outgoing HTTP client and the Standard Webhooks signature.
 *
 * Signatures are checked against the convention's published example (secret
 * whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw) and against an HMAC computed independently with
 * Python's hmac module for a plain secret. The client is run on a real libuv loop against a real
 * receiver: libmicrohttpd in its own thread on loopback, which counts the connections it
 * accepts, so keep-alive reuse is observed, not assumed.
 */
#include <check.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "common.h"
#include "webhook.h"

/* ---------------------------------------------------------------- signatures */

START_TEST(test_webhook_sign_matches_the_standard_webhooks_example)
{
    char sig[WEBHOOK_SIG_MAX];
    const char body[] = "{\"test\": 2432232314}";
    ck_assert_int_eq(webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                  "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                                  sig),
                     0);
    ck_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
END_TEST

START_TEST(test_webhook_sign_uses_a_plain_secret_as_its_bytes)
{
    char sig[WEBHOOK_SIG_MAX];
    ck_assert_int_eq(webhook_sign("s3cret", "orders:7", 1700000000, "hello", 5, sig), 0);
    ck_assert_str_eq(sig, "v1,0FBORhEf+Kb24563puDZcyv3dZjqx9Gm4rc55XiQ5sw=");
    /* a different body, id or time gives a different signature */
    char other[WEBHOOK_SIG_MAX];
    webhook_sign("s3cret", "orders:7", 1700000000, "hellO", 5, other);
    ck_assert_str_ne(sig, other);
    webhook_sign("s3cret", "orders:8", 1700000000, "hello", 5, other);
    ck_assert_str_ne(sig, other);
    webhook_sign("s3cret", "orders:7", 1700000001, "hello", 5, other);
    ck_assert_str_ne(sig, other);
}
END_TEST

START_TEST(test_webhook_sign_refuses_a_whsec_secret_that_is_not_base64_of_a_16_to_64_byte_key)
{
    char sig[WEBHOOK_SIG_MAX];
    ck_assert_int_eq(webhook_sign("whsec_not base64!", "id", 1, "", 0, sig), SL_EPARAM);
    ck_assert_int_eq(webhook_sign("whsec_abc", "id", 1, "", 0, sig), SL_EPARAM);
    ck_assert_int_eq(webhook_sign("whsec_", "id", 1, "", 0, sig), SL_EPARAM);
    ck_assert_int_eq(webhook_sign("whsec_YWFhYWFhYWFhYWFhYWFh", "id", 1, "", 0, sig),
                     SL_EPARAM); /* 15 */
    ck_assert_int_eq(webhook_sign("whsec_YWFhYWFhYWFhYWFhYWFhYQ==", "id", 1, "", 0, sig),
                     0); /* 16 */
    ck_assert_int_eq(webhook_sign("whsec_"
                                  "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh"
                                  "YWFhYWFhYWFhYWFhYWFhYWE=",
                                  "id", 1, "", 0, sig),
                     SL_EPARAM);
}
END_TEST

/* ---------------------------------------------------------------- URLs */

static void url_ok(const char *in, const char *want)
{
    char out[256], why[WEBHOOK_ERROR_MAX + 1];
    ck_assert_msg(webhook_url_check(in, out, sizeof out, why) == 0, "'%s' refused: %s", in, why);
    ck_assert_str_eq(out, want);
}

static void url_bad(const char *in, const char *reason_part)
{
    char out[256], why[WEBHOOK_ERROR_MAX + 1];
    ck_assert_msg(webhook_url_check(in, out, sizeof out, why) == SL_EPARAM, "'%s' accepted", in);
    ck_assert_msg(strstr(why, reason_part) != NULL, "'%s': reason '%s' lacks '%s'", in, why,
                  reason_part);
}

START_TEST(test_webhook_url_check_accepts_http_and_https_and_adds_http_to_a_bare_host)
{
    url_ok("http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook");
    url_ok("https://example.com/a?b=c", "https://example.com/a?b=c");
    url_ok("svc.domain.tld/mqg", "http://svc.domain.tld/mqg"); /* MQ Go's README example */
    url_ok("localhost:8081", "http://localhost:8081/");
}
END_TEST

START_TEST(test_webhook_url_check_refuses_what_cannot_be_delivered_to)
{
    url_bad("", "1 to");
    url_bad("ftp://example.com/x", "http or https");
    url_bad("file:///etc/passwd", "http or https");
    url_bad("http://exa mple.com/", "visible ASCII");
    url_bad("http://example.com/\n", "visible ASCII");
    url_bad("http://:80/", "not a valid URL");
    url_bad("http://", "not a valid URL");
    char long_url[3000];
    memset(long_url, 'a', sizeof long_url - 1);
    long_url[sizeof long_url - 1] = '\0';
    url_bad(long_url, "1 to");
}
END_TEST

/* ---------------------------------------------------------------- the client */

static atomic_int connections; /* accepted by the receiver */
static atomic_int requests;

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls, (void)c, (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&connections, 1);
}

/* Answers /ok with 204, /fail with 500 and a body; checks the body and a header on /ok. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **state)
{
    (void)cls, (void)method, (void)version, (void)data;
    if (*state == NULL) {
        *state = c;
        return MHD_YES;
    }
    if (*size) {
        *size = 0; /* the body is read and dropped */
        return MHD_YES;
    }
    atomic_fetch_add(&requests, 1);
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Test");
    bool fail = strcmp(url, "/fail") == 0 || h == NULL || strcmp(h, "yes") != 0;
    const char *text = fail ? "it broke\nbadly" : "";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, fail ? 500 : 204, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *receiver(int *port)
{
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(d);
    *port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return d;
}

typedef struct post {
    webhook_req_t r;
    char url[128];
    int done;
} post_t;

static void on_done(webhook_req_t *r)
{
    ((post_t *)r->data)->done++;
}

/* POSTs body to url on c and runs loop until the answer came. */
static void post(uv_loop_t *loop, webhook_client_t *c, post_t *p, const char *url, bool header)
{
    webhook_req_init(&p->r);
    snprintf(p->url, sizeof p->url, "%s", url);
    p->r.url = p->url;
    p->r.body = "payload";
    p->r.body_len = 7;
    p->r.timeout_ms = 5000;
    p->r.cb = on_done;
    p->r.data = p;
    p->done = 0;
    if (header)
        ck_assert_int_eq(webhook_req_header(&p->r, "X-Test", "yes"), 0);
    ck_assert_int_eq(webhook_post(c, &p->r), 0);
    ck_assert_uint_eq(webhook_active(c), 1);
    while (p->done == 0)
        uv_run(loop, UV_RUN_ONCE);
    ck_assert_int_eq(p->done, 1);
    ck_assert_uint_eq(webhook_active(c), 0);
    webhook_req_cleanup(&p->r);
}

static void client_free(uv_loop_t *loop, webhook_client_t *c)
{
    webhook_client_free(c);
    uv_run(loop, UV_RUN_DEFAULT); /* closes its handles */
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

START_TEST(test_webhook_post_reports_a_2xx_and_reuses_the_connection)
{
    int port;
    struct MHD_Daemon *d = receiver(&port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    webhook_client_t *c = webhook_client_new(&loop, "test/1");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", port);
    post_t p;
    for (int i = 0; i < 3; i++) {
        post(&loop, c, &p, url, true);
        ck_assert_int_eq(p.r.status, 204);
        ck_assert_str_eq(p.r.error, "");
    }
    ck_assert_int_eq(atomic_load(&requests), 3);
    ck_assert_int_eq(atomic_load(&connections), 1); /* kept alive between deliveries */
    client_free(&loop, c);
    MHD_stop_daemon(d);
}
END_TEST

START_TEST(test_webhook_post_reports_another_status_with_the_start_of_the_answer)
{
    int port;
    struct MHD_Daemon *d = receiver(&port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    webhook_client_t *c = webhook_client_new(&loop, "test/1");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/fail", port);
    post_t p;
    post(&loop, c, &p, url, true);
    ck_assert_int_eq(p.r.status, 500);
    ck_assert_str_eq(p.r.error, "HTTP 500: it broke badly"); /* one line of text */
    client_free(&loop, c);
    MHD_stop_daemon(d);
}
END_TEST

START_TEST(test_webhook_post_to_a_closed_port_fails_with_no_status_and_a_reason)
{
    /* a port that was free a moment ago: bind, read the number, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    uv_loop_t loop;
    uv_loop_init(&loop);
    webhook_client_t *c = webhook_client_new(&loop, "test/1");
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    post_t p;
    post(&loop, c, &p, url, false);
    ck_assert_int_eq(p.r.status, 0);
    ck_assert_msg(strstr(p.r.error, "onnect") != NULL, "error: %s", p.r.error);
    client_free(&loop, c);
}
END_TEST

START_TEST(test_webhook_client_free_aborts_requests_in_progress_without_callbacks)
{
    int port;
    struct MHD_Daemon *d = receiver(&port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    webhook_client_t *c = webhook_client_new(&loop, "test/1");
    post_t p;
    webhook_req_init(&p.r);
    snprintf(p.url, sizeof p.url, "http://127.0.0.1:%d/ok", port);
    p.r.url = p.url;
    p.r.body = "";
    p.r.body_len = 0;
    p.r.timeout_ms = 5000;
    p.r.cb = on_done;
    p.r.data = &p;
    p.done = 0;
    ck_assert_int_eq(webhook_post(c, &p.r), 0);
    client_free(&loop, c);
    ck_assert_int_eq(p.done, 0);
    webhook_req_cleanup(&p.r);
    MHD_stop_daemon(d);
}
END_TEST

static Suite *webhook_suite(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("signature");
    tcase_add_test(tc, test_webhook_sign_matches_the_standard_webhooks_example);
    tcase_add_test(tc, test_webhook_sign_uses_a_plain_secret_as_its_bytes);
    tcase_add_test(
        tc, test_webhook_sign_refuses_a_whsec_secret_that_is_not_base64_of_a_16_to_64_byte_key);
    suite_add_tcase(s, tc);

    tc = tcase_create("url");
    tcase_add_test(tc, test_webhook_url_check_accepts_http_and_https_and_adds_http_to_a_bare_host);
    tcase_add_test(tc, test_webhook_url_check_refuses_what_cannot_be_delivered_to);
    suite_add_tcase(s, tc);

    tc = tcase_create("client");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_webhook_post_reports_a_2xx_and_reuses_the_connection);
    tcase_add_test(tc, test_webhook_post_reports_another_status_with_the_start_of_the_answer);
    tcase_add_test(tc, test_webhook_post_to_a_closed_port_fails_with_no_status_and_a_reason);
    tcase_add_test(tc, test_webhook_client_free_aborts_requests_in_progress_without_callbacks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(webhook_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
