/*
 * loadgen.c — the load generator for the workloads wrk cannot drive (bench/compare runs it).
 *
 * One libuv loop, one thread, N client connections. Each client runs a small state machine and
 * keeps exactly one request in flight, so a connection is a closed loop: the next step starts
 * when the previous reply arrived. Protocols:
 *
 *   sluice     HTTP/1.1 keep-alive. Replies are parsed with http-parser, lease replies with
 *              jansson. e2e: POST /v1/queues/Q/messages (raw body) -> GET ...?max=1&wait=1
 *              (lease) -> POST /v1/queues/Q/ack {"receipts":[R]}.
 *   beanstalk  beanstalkd's text protocol, spoken directly. e2e: put -> reserve-with-timeout
 *              -> delete.
 *   redis      RESP commands written by hand, replies parsed with hiredis's redisReader.
 *              e2e: LPUSH -> RPOP (Redis lists have no lease/ack: RPOP removes the message).
 *
 * Modes:
 *   e2e      every client loops publish -> consume -> ack on one shared queue. The first 16
 *            bytes of each body are the publish time (hex nanoseconds, CLOCK_MONOTONIC, this
 *            process), so whichever client consumes a message can record its publish -> ack
 *            latency. Throughput counts acked messages.
 *   publish  every client loops publish only (sluice); --count stops after that many
 *            publishes in total; --queues N spreads them round-robin over N queue names.
 *            Latency is per request.
 *   idle     open N connections, send each one GET /healthz, print "READY <n>" when all have
 *            answered, then hold them idle until SIGTERM/SIGINT or --duration; then check how
 *            many still answer a second GET /healthz.
 *
 * The result is one JSON object on stdout (throughput, p50/p99/max latency, error counts);
 * the first few unexpected replies are quoted on stderr. The generator only reports: it never
 * judges a number. A connection that fails or closes is counted and not reopened, so a crashed
 * server shows up as lost connections and a throughput that stops.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <http_parser.h>
#include <jansson.h>
#include <uv.h>

#define LG_MAX_BODY 4096
#define LG_TS_HEX 16 /* bytes of the body that carry the publish time */
#define LG_QUOTE_MAX 3

enum lg_proto { LG_SLUICE, LG_BEANSTALK, LG_REDIS };
enum lg_mode { LG_E2E, LG_PUBLISH, LG_IDLE };
/* A client's step; the reply to the request of that step is what it waits for. */
enum lg_step { LG_PUB, LG_CONSUME, LG_ACK, LG_HEALTH, LG_PARKED, LG_DONE };

/* ---- latency histogram: log-linear buckets, 64 per power of two (about 1.6% wide) ---- */

#define LG_HIST_SUB 64
#define LG_HIST_BUCKETS (LG_HIST_SUB * 60)

static uint64_t lg_hist[LG_HIST_BUCKETS];
static uint64_t lg_hist_n, lg_hist_max;

static unsigned lg_hist_index(uint64_t v)
{
    if (v < LG_HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    return LG_HIST_SUB * (msb - 5) + (unsigned)(v >> (msb - 6)) - LG_HIST_SUB;
}

/* The middle of bucket i, in the unit recorded (nanoseconds). */
static double lg_hist_value(unsigned i)
{
    if (i < LG_HIST_SUB)
        return i;
    unsigned msb = i / LG_HIST_SUB + 5, sub = i % LG_HIST_SUB + LG_HIST_SUB;
    double lo = (double)((uint64_t)sub << (msb - 6)), width = (double)(1ull << (msb - 6));
    return lo + width / 2;
}

static void lg_hist_add(uint64_t ns)
{
    unsigned i = lg_hist_index(ns);
    if (i >= LG_HIST_BUCKETS)
        i = LG_HIST_BUCKETS - 1;
    lg_hist[i]++;
    lg_hist_n++;
    if (ns > lg_hist_max)
        lg_hist_max = ns;
}

/* The q-quantile (0..1) in milliseconds, or -1 with no samples. */
static double lg_hist_quantile_ms(double q)
{
    if (lg_hist_n == 0)
        return -1;
    uint64_t rank = (uint64_t)(q * (double)lg_hist_n), seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += lg_hist[i];
        if (seen > rank)
            return lg_hist_value(i) / 1e6;
    }
    return (double)lg_hist_max / 1e6;
}

/* ---- options and global state ---- */

static struct {
    enum lg_proto proto;
    enum lg_mode mode;
    const char *host;
    int port;
    int clients;
    double duration;
    uint64_t count;
    int size;
    const char *queue;
    int queues;
    int connect_window;
} opt = {LG_SLUICE, LG_E2E, "127.0.0.1", 0, 64, 10, 0, 100, "bench", 1, 256};

static uv_loop_t *loop;
static uv_timer_t stop_timer;
static uv_signal_t sig_term, sig_int;
static uint64_t t_start, t_end;
static bool stopping;

static uint64_t n_done;         /* messages acked (e2e), publishes answered (publish) */
static uint64_t n_published;    /* publishes answered 2xx */
static uint64_t n_issued;       /* publishes sent, for --count */
static uint64_t n_pub_answered; /* publishes answered, whatever the status */
static uint64_t n_empty;        /* consume steps that found the queue empty */
static uint64_t n_non2xx;       /* replies with an unexpected status or text */
static uint64_t n_conn_errors;  /* connect failures, resets, EOFs, parse errors */
static uint64_t n_bad_body;     /* a consumed body without our timestamp */
static unsigned n_quoted;
static int n_connected, n_connecting, n_next_connect;
static int n_idle_ready, n_idle_alive, n_idle_pending;
static bool idle_checking;

typedef struct lg_client {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    int id;
    enum lg_step step;
    bool open;
    uint64_t sent_at;  /* when the current request was written */
    uint64_t msg_ts;   /* publish time of the message being acked */
    uint64_t qcounter; /* round-robin position over queue names */
    char wbuf[LG_MAX_BODY + 512];
    char rbuf[65536];
    /* Reply accumulation: HTTP bodies, beanstalk lines, redis via the reader. */
    char *in;
    size_t in_len, in_cap;
    http_parser hp;
    bool hp_done;
    redisReader *rr;
    char beans_id[32];
    char receipt[256];
} lg_client_t;

static lg_client_t *clients;
static char payload[LG_MAX_BODY];

static uint64_t lg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void lg_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void lg_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Quotes the first few unexpected replies on stderr, so a failing run explains itself. */
static void lg_quote(const lg_client_t *c, const char *what, const char *data, size_t len)
{
    if (n_quoted >= LG_QUOTE_MAX)
        return;
    n_quoted++;
    fprintf(stderr, "loadgen: client %d: %s: %.*s\n", c->id, what, (int)(len > 300 ? 300 : len),
            data ? data : "");
}

/* ---- writing requests ---- */

static void lg_client_close(lg_client_t *c, const char *why);
static void lg_client_next(lg_client_t *c);

static void lg_on_write(uv_write_t *req, int status)
{
    lg_client_t *c = req->data;
    if (status < 0)
        lg_client_close(c, uv_strerror(status));
}

/* Sends c->wbuf[0..len) and starts the request clock. */
static void lg_send(lg_client_t *c, size_t len)
{
    uv_buf_t b = uv_buf_init(c->wbuf, (unsigned)len);
    c->sent_at = lg_now();
    c->write_req.data = c;
    int rc = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &b, 1, lg_on_write);
    if (rc < 0)
        lg_client_close(c, uv_strerror(rc));
}

/* Fills the payload's timestamp field with now; the rest of the payload is fixed filler. */
static void lg_stamp(void)
{
    char hex[LG_TS_HEX + 1];
    snprintf(hex, sizeof hex, "%016" PRIx64, lg_now());
    memcpy(payload, hex, LG_TS_HEX);
}

/* Reads the publish time back from a consumed body; false if the body is not ours. */
static bool lg_unstamp(const char *body, size_t len, uint64_t *ts)
{
    if (len < LG_TS_HEX)
        return false;
    char hex[LG_TS_HEX + 1];
    memcpy(hex, body, LG_TS_HEX);
    hex[LG_TS_HEX] = 0;
    char *end;
    *ts = strtoull(hex, &end, 16);
    return *end == 0;
}

static const char *lg_queue_name(lg_client_t *c, char *buf, size_t cap)
{
    if (opt.queues <= 1)
        return opt.queue;
    /* Clients start at different offsets so every queue gets traffic from the first round. */
    uint64_t i = (c->qcounter++ * (uint64_t)opt.clients + (uint64_t)c->id) % (uint64_t)opt.queues;
    snprintf(buf, cap, "%s%" PRIu64, opt.queue, i);
    return buf;
}

static void lg_send_publish(lg_client_t *c)
{
    int n = 0, sz = opt.size;
    char qbuf[160];
    lg_stamp();
    switch (opt.proto) {
    case LG_SLUICE:
        n = snprintf(c->wbuf, sizeof c->wbuf,
                     "POST /v1/queues/%s/messages HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Content-Length: %d\r\n\r\n",
                     lg_queue_name(c, qbuf, sizeof qbuf), opt.host, opt.port, sz);
        break;
    case LG_BEANSTALK:
        n = snprintf(c->wbuf, sizeof c->wbuf, "put 0 0 60 %d\r\n", sz);
        break;
    case LG_REDIS:
        n = snprintf(c->wbuf, sizeof c->wbuf, "*3\r\n$5\r\nLPUSH\r\n$%zu\r\n%s\r\n$%d\r\n",
                     strlen(opt.queue), opt.queue, sz);
        break;
    }
    memcpy(c->wbuf + n, payload, (size_t)sz);
    n += sz;
    if (opt.proto != LG_SLUICE) {
        memcpy(c->wbuf + n, "\r\n", 2);
        n += 2;
    }
    n_issued++;
    c->step = LG_PUB;
    lg_send(c, (size_t)n);
}

static void lg_send_consume(lg_client_t *c)
{
    int n = 0;
    switch (opt.proto) {
    case LG_SLUICE:
        n = snprintf(c->wbuf, sizeof c->wbuf,
                     "GET /v1/queues/%s/messages?max=1&wait=1 HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                     opt.queue, opt.host, opt.port);
        break;
    case LG_BEANSTALK:
        n = snprintf(c->wbuf, sizeof c->wbuf, "reserve-with-timeout 1\r\n");
        break;
    case LG_REDIS:
        n = snprintf(c->wbuf, sizeof c->wbuf, "*2\r\n$4\r\nRPOP\r\n$%zu\r\n%s\r\n",
                     strlen(opt.queue), opt.queue);
        break;
    }
    c->step = LG_CONSUME;
    lg_send(c, (size_t)n);
}

static void lg_send_ack(lg_client_t *c)
{
    int n = 0;
    if (opt.proto == LG_SLUICE) {
        char body[300];
        int blen = snprintf(body, sizeof body, "{\"receipts\":[\"%s\"]}", c->receipt);
        n = snprintf(c->wbuf, sizeof c->wbuf,
                     "POST /v1/queues/%s/ack HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     opt.queue, opt.host, opt.port, blen, body);
    } else {
        n = snprintf(c->wbuf, sizeof c->wbuf, "delete %s\r\n", c->beans_id);
    }
    c->step = LG_ACK;
    lg_send(c, (size_t)n);
}

static void lg_send_health(lg_client_t *c)
{
    int n = snprintf(c->wbuf, sizeof c->wbuf, "GET /healthz HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                     opt.host, opt.port);
    c->step = LG_HEALTH;
    lg_send(c, (size_t)n);
}

/* Starts the client's next request, or parks it once the run is over. */
static void lg_client_next(lg_client_t *c)
{
    if (!c->open)
        return;
    if (stopping) {
        c->step = LG_DONE;
        return;
    }
    if (opt.mode == LG_PUBLISH && opt.count && n_issued >= opt.count) {
        c->step = LG_DONE;
        return;
    }
    lg_send_publish(c);
}

/* ---- handling replies ---- */

static void lg_finish(void);

/* Idle mode: prints READY once every connection has answered its first /healthz or failed. */
static void lg_idle_maybe_ready(void)
{
    static bool said;
    if (opt.mode != LG_IDLE || idle_checking || said)
        return;
    if (n_idle_ready + (int)n_conn_errors >= opt.clients) {
        said = true;
        printf("READY %d\n", n_idle_ready);
        fflush(stdout);
    }
}

/* Publish mode with --count: the run ends when every issued publish has been answered. */
static bool lg_count_reached(void)
{
    return opt.mode == LG_PUBLISH && opt.count && n_pub_answered >= opt.count;
}

/* A publish was answered (2xx / INSERTED / integer): e2e goes on to consume. */
static void lg_on_published(lg_client_t *c)
{
    n_published++;
    n_pub_answered++;
    if (opt.mode == LG_PUBLISH) {
        if (!stopping) {
            lg_hist_add(lg_now() - c->sent_at);
            n_done++;
        }
        if (lg_count_reached()) {
            lg_finish();
            return;
        }
        lg_client_next(c);
        return;
    }
    if (stopping) {
        c->step = LG_DONE;
        return;
    }
    lg_send_consume(c);
}

/* A message reached the end of its life (acked / deleted / popped) at time now. */
static void lg_on_acked(lg_client_t *c)
{
    if (!stopping) {
        lg_hist_add(lg_now() - c->msg_ts);
        n_done++;
    }
    lg_client_next(c);
}

/* A consume step found the queue empty: try again (never expected: see bench/README.md). */
static void lg_on_empty(lg_client_t *c)
{
    n_empty++;
    if (stopping) {
        c->step = LG_DONE;
        return;
    }
    lg_send_consume(c);
}

/* Extracts receipt and timestamp from a Sluice lease reply; false if it holds no message. */
static bool lg_parse_lease(lg_client_t *c, const char *data, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    json_t *msgs = root ? json_object_get(root, "messages") : NULL;
    json_t *m = json_is_array(msgs) ? json_array_get(msgs, 0) : NULL;
    bool ok = false;
    if (m) {
        const char *receipt = json_string_value(json_object_get(m, "receipt"));
        const char *b64 = json_string_value(json_object_get(m, "body"));
        if (receipt && strlen(receipt) < sizeof c->receipt && b64) {
            snprintf(c->receipt, sizeof c->receipt, "%s", receipt);
            /* 24 base64 characters decode to the 16 timestamp bytes and 2 more. */
            static const char alphabet[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            unsigned char raw[18];
            size_t nraw = 0;
            uint32_t acc = 0;
            int bits = 0;
            for (size_t i = 0; i < 24 && b64[i] && b64[i] != '='; i++) {
                const char *p = strchr(alphabet, b64[i]);
                if (!p)
                    break;
                acc = (acc << 6) | (uint32_t)(p - alphabet);
                bits += 6;
                if (bits >= 8) {
                    bits -= 8;
                    raw[nraw++] = (unsigned char)(acc >> bits);
                }
            }
            if (!lg_unstamp((const char *)raw, nraw, &c->msg_ts)) {
                n_bad_body++;
                c->msg_ts = c->sent_at;
            }
            ok = true;
        }
    }
    json_decref(root);
    return ok;
}

/* One complete HTTP reply (status, body in c->in) for the client's current step. */
static void lg_http_reply(lg_client_t *c, unsigned status)
{
    bool ok2xx = status >= 200 && status < 300;
    if (!ok2xx) {
        n_non2xx++;
        char what[64];
        snprintf(what, sizeof what, "HTTP %u in step %d", status, (int)c->step);
        lg_quote(c, what, c->in, c->in_len);
    }
    switch (c->step) {
    case LG_PUB:
        if (ok2xx) {
            lg_on_published(c);
        } else {
            n_pub_answered++;
            if (lg_count_reached())
                lg_finish();
            else
                lg_client_next(c);
        }
        break;
    case LG_CONSUME:
        if (ok2xx && lg_parse_lease(c, c->in, c->in_len))
            lg_send_ack(c);
        else if (ok2xx)
            lg_on_empty(c);
        else
            lg_client_next(c);
        break;
    case LG_ACK:
        /* {"acked":1,...}: anything else means the receipt was dead. */
        if (ok2xx && c->in_len && strstr(c->in, "\"acked\":1"))
            lg_on_acked(c);
        else {
            if (ok2xx) {
                n_non2xx++;
                lg_quote(c, "ack not applied", c->in, c->in_len);
            }
            lg_client_next(c);
        }
        break;
    case LG_HEALTH:
        c->step = LG_PARKED;
        if (!idle_checking) {
            n_idle_ready++;
            lg_idle_maybe_ready();
        } else {
            if (ok2xx)
                n_idle_alive++;
            if (--n_idle_pending == 0)
                lg_finish();
        }
        break;
    default:
        break;
    }
}

static int lg_hp_on_body(http_parser *p, const char *at, size_t len)
{
    lg_client_t *c = p->data;
    if (c->in_len + len + 1 > c->in_cap) {
        c->in_cap = (c->in_len + len + 1) * 2;
        c->in = realloc(c->in, c->in_cap);
        if (!c->in)
            lg_die("out of memory");
    }
    memcpy(c->in + c->in_len, at, len);
    c->in_len += len;
    c->in[c->in_len] = 0;
    return 0;
}

static int lg_hp_on_complete(http_parser *p)
{
    lg_client_t *c = p->data;
    c->hp_done = true;
    /* Stop here: the reply is handled after http_parser_execute() returns. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings lg_hp_settings = {
    .on_body = lg_hp_on_body,
    .on_message_complete = lg_hp_on_complete,
};

static void lg_http_read(lg_client_t *c, const char *data, size_t len)
{
    while (len > 0 && c->open) {
        size_t used = http_parser_execute(&c->hp, &lg_hp_settings, data, len);
        if (c->hp_done) {
            unsigned status = c->hp.status_code;
            c->hp_done = false;
            http_parser_pause(&c->hp, 0);
            lg_http_reply(c, status);
            c->in_len = 0;
            if (c->in)
                c->in[0] = 0;
        } else if (HTTP_PARSER_ERRNO(&c->hp) != HPE_OK) {
            lg_quote(c, "HTTP parse error", http_errno_name(HTTP_PARSER_ERRNO(&c->hp)), 20);
            lg_client_close(c, "parse error");
            return;
        }
        data += used;
        len -= used;
    }
}

/* Appends raw bytes to c->in (the beanstalk line buffer). */
static void lg_in_append(lg_client_t *c, const char *data, size_t len)
{
    lg_hp_on_body(&c->hp, data, len);
}

/* Consumes as many complete beanstalk replies as c->in holds. */
static void lg_beans_read(lg_client_t *c, const char *data, size_t len)
{
    lg_in_append(c, data, len);
    for (;;) {
        char *eol = memmem(c->in, c->in_len, "\r\n", 2);
        if (!eol)
            return;
        size_t line = (size_t)(eol - c->in), used = line + 2;
        unsigned long id = 0, bytes = 0;
        if (c->step == LG_PUB && sscanf(c->in, "INSERTED %lu", &id) == 1) {
            lg_on_published(c);
        } else if (c->step == LG_CONSUME && sscanf(c->in, "RESERVED %lu %lu", &id, &bytes) == 2) {
            if (c->in_len < used + bytes + 2)
                return; /* the job body has not fully arrived yet */
            snprintf(c->beans_id, sizeof c->beans_id, "%lu", id);
            if (!lg_unstamp(c->in + used, bytes, &c->msg_ts)) {
                n_bad_body++;
                c->msg_ts = c->sent_at;
            }
            used += bytes + 2;
            lg_send_ack(c);
        } else if (c->step == LG_CONSUME && strncmp(c->in, "TIMED_OUT", 9) == 0) {
            lg_on_empty(c);
        } else if (c->step == LG_ACK && strncmp(c->in, "DELETED", 7) == 0) {
            lg_on_acked(c);
        } else {
            n_non2xx++;
            lg_quote(c, "unexpected beanstalkd reply", c->in, line);
            lg_client_next(c);
        }
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        c->in[c->in_len] = 0;
    }
}

static void lg_redis_read(lg_client_t *c, const char *data, size_t len)
{
    if (redisReaderFeed(c->rr, data, len) != REDIS_OK) {
        lg_client_close(c, "redis reader error");
        return;
    }
    void *r = NULL;
    while (c->open && redisReaderGetReply(c->rr, &r) == REDIS_OK && r) {
        redisReply *reply = r;
        if (reply->type == REDIS_REPLY_ERROR) {
            n_non2xx++;
            lg_quote(c, "redis error", reply->str, reply->len);
            lg_client_next(c);
        } else if (c->step == LG_PUB) {
            lg_on_published(c);
        } else if (c->step == LG_CONSUME && reply->type == REDIS_REPLY_STRING) {
            if (!lg_unstamp(reply->str, reply->len, &c->msg_ts)) {
                n_bad_body++;
                c->msg_ts = c->sent_at;
            }
            lg_on_acked(c); /* RPOP removed it: that is the end of the message's life */
        } else if (c->step == LG_CONSUME) {
            lg_on_empty(c);
        }
        freeReplyObject(reply);
        r = NULL;
    }
}

/* ---- connections ---- */

static void lg_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    lg_client_t *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void lg_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lg_client_t *c = s->data;
    if (nread < 0) {
        lg_client_close(c, nread == UV_EOF ? "closed by server" : uv_strerror((int)nread));
        return;
    }
    switch (opt.proto) {
    case LG_SLUICE:
        lg_http_read(c, buf->base, (size_t)nread);
        break;
    case LG_BEANSTALK:
        lg_beans_read(c, buf->base, (size_t)nread);
        break;
    case LG_REDIS:
        lg_redis_read(c, buf->base, (size_t)nread);
        break;
    }
}

static void lg_connect_more(void);

static void lg_on_connect(uv_connect_t *req, int status)
{
    lg_client_t *c = req->data;
    n_connecting--;
    if (status < 0) {
        n_conn_errors++;
        lg_quote(c, "connect failed", uv_strerror(status), strlen(uv_strerror(status)));
        lg_connect_more();
        lg_idle_maybe_ready();
        return;
    }
    c->open = true;
    n_connected++;
    uv_read_start((uv_stream_t *)&c->tcp, lg_on_alloc, lg_on_read);
    if (opt.mode == LG_IDLE)
        lg_send_health(c);
    else
        lg_client_next(c);
    lg_connect_more();
}

/* Keeps at most connect_window connects in flight, so 10k clients do not overflow the
 * server's listen backlog (a dropped SYN costs a 1 s retransmit). */
static void lg_connect_more(void)
{
    struct sockaddr_in addr;
    uv_ip4_addr(opt.host, opt.port, &addr);
    while (n_next_connect < opt.clients && n_connecting < opt.connect_window && !stopping) {
        lg_client_t *c = &clients[n_next_connect];
        c->id = n_next_connect++;
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c;
        uv_tcp_nodelay(&c->tcp, 1);
        http_parser_init(&c->hp, HTTP_RESPONSE);
        c->hp.data = c;
        if (opt.proto == LG_REDIS && !(c->rr = redisReaderCreate()))
            lg_die("out of memory");
        c->connect_req.data = c;
        int rc =
            uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&addr, lg_on_connect);
        if (rc < 0) {
            n_conn_errors++;
            continue;
        }
        n_connecting++;
    }
}

static void lg_client_close(lg_client_t *c, const char *why)
{
    if (!c->open)
        return;
    c->open = false;
    /* Closing during the run is a lost connection; after it, it is only the teardown. */
    if (!stopping || idle_checking) {
        n_conn_errors++;
        lg_quote(c, "connection lost", why, strlen(why));
    }
    uv_close((uv_handle_t *)&c->tcp, NULL);
    lg_idle_maybe_ready();
    if (idle_checking && c->step == LG_HEALTH && --n_idle_pending == 0)
        lg_finish();
}

/* ---- run control ---- */

static void lg_print_result(void)
{
    double secs = (double)(t_end - t_start) / 1e9;
    const char *mode = opt.mode == LG_E2E ? "e2e" : opt.mode == LG_PUBLISH ? "publish" : "idle";
    printf("{\"mode\":\"%s\",\"clients\":%d,\"connected\":%d,\"seconds\":%.3f,"
           "\"done\":%" PRIu64 ",\"rate\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
           "\"published\":%" PRIu64 ",\"empty\":%" PRIu64 ",\"non2xx\":%" PRIu64
           ",\"conn_errors\":%" PRIu64 ",\"bad_body\":%" PRIu64,
           mode, opt.clients, n_connected, secs, n_done, secs > 0 ? (double)n_done / secs : 0,
           lg_hist_quantile_ms(0.50), lg_hist_quantile_ms(0.99), (double)lg_hist_max / 1e6,
           n_published, n_empty, n_non2xx, n_conn_errors, n_bad_body);
    if (opt.mode == LG_IDLE)
        printf(",\"idle_ready\":%d,\"idle_alive\":%d", n_idle_ready, n_idle_alive);
    printf("}\n");
    fflush(stdout);
}

/* Ends the run: prints the result and stops the loop (sockets close with the process). */
static void lg_finish(void)
{
    static bool finished;
    if (finished)
        return;
    finished = true;
    stopping = true;
    if (!t_end)
        t_end = lg_now();
    lg_print_result();
    uv_stop(loop);
}

static void lg_on_check_timeout(uv_timer_t *t)
{
    (void)t;
    lg_finish();
}

/* Idle mode: after the hold, ask every connection that is still open for /healthz again. */
static void lg_idle_check(void)
{
    idle_checking = true;
    t_end = lg_now();
    for (int i = 0; i < opt.clients; i++) {
        lg_client_t *c = &clients[i];
        if (c->open && c->step == LG_PARKED) {
            n_idle_pending++;
            lg_send_health(c);
        }
    }
    if (n_idle_pending == 0) {
        lg_finish();
        return;
    }
    uv_timer_start(&stop_timer, lg_on_check_timeout, 5000, 0);
}

static void lg_on_stop(uv_timer_t *t)
{
    (void)t;
    stopping = true;
    if (opt.mode == LG_IDLE) {
        lg_idle_check();
        return;
    }
    t_end = lg_now();
    lg_finish();
}

static void lg_on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_signal_stop(&sig_term);
    uv_signal_stop(&sig_int);
    uv_timer_stop(&stop_timer);
    lg_on_stop(&stop_timer);
    (void)s;
}

static void lg_usage(void)
{
    fputs("usage: loadgen --proto sluice|beanstalk|redis --mode e2e|publish|idle --port P\n"
          "               [--host 127.0.0.1] [--clients 64] [--duration 10] [--count N]\n"
          "               [--size 100] [--queue bench] [--queues 1] [--connect-window 256]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"proto", required_argument, 0, 'P'},          {"mode", required_argument, 0, 'm'},
        {"host", required_argument, 0, 'H'},           {"port", required_argument, 0, 'p'},
        {"clients", required_argument, 0, 'c'},        {"duration", required_argument, 0, 'd'},
        {"count", required_argument, 0, 'n'},          {"size", required_argument, 0, 's'},
        {"queue", required_argument, 0, 'q'},          {"queues", required_argument, 0, 'Q'},
        {"connect-window", required_argument, 0, 'w'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'P':
            if (!strcmp(optarg, "sluice"))
                opt.proto = LG_SLUICE;
            else if (!strcmp(optarg, "beanstalk"))
                opt.proto = LG_BEANSTALK;
            else if (!strcmp(optarg, "redis"))
                opt.proto = LG_REDIS;
            else
                lg_usage();
            break;
        case 'm':
            if (!strcmp(optarg, "e2e"))
                opt.mode = LG_E2E;
            else if (!strcmp(optarg, "publish"))
                opt.mode = LG_PUBLISH;
            else if (!strcmp(optarg, "idle"))
                opt.mode = LG_IDLE;
            else
                lg_usage();
            break;
        case 'H':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 'c':
            opt.clients = atoi(optarg);
            break;
        case 'd':
            opt.duration = atof(optarg);
            break;
        case 'n':
            opt.count = strtoull(optarg, NULL, 10);
            break;
        case 's':
            opt.size = atoi(optarg);
            break;
        case 'q':
            opt.queue = optarg;
            break;
        case 'Q':
            opt.queues = atoi(optarg);
            break;
        case 'w':
            opt.connect_window = atoi(optarg);
            break;
        default:
            lg_usage();
        }
    }
    if (opt.port <= 0 || opt.clients <= 0 || opt.duration <= 0 || opt.queues <= 0 ||
        opt.size < LG_TS_HEX || opt.size > LG_MAX_BODY || opt.connect_window <= 0)
        lg_usage();
    if (opt.mode != LG_E2E && opt.proto != LG_SLUICE)
        lg_die("--mode publish and idle speak only to sluice");

    signal(SIGPIPE, SIG_IGN);
    memset(payload, 'x', sizeof payload);
    clients = calloc((size_t)opt.clients, sizeof *clients);
    if (!clients)
        lg_die("out of memory");

    loop = uv_default_loop();
    uv_timer_init(loop, &stop_timer);
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_term, lg_on_signal, SIGTERM);
    uv_signal_start(&sig_int, lg_on_signal, SIGINT);
    t_start = lg_now();
    /* Idle mode holds until a signal (bench/compare sends one) or the duration. */
    uv_timer_start(&stop_timer, lg_on_stop, (uint64_t)(opt.duration * 1000), 0);
    lg_connect_more();
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
