/*
 * gmq.c — the GMQ listener: GMQ's raw-TCP protocol on the libuv loop, over the same storage
 * requests as the HTTP API (docs/gmq.md is the contract, SEEDS-PROTOCOL.md §2 the evidence).
 *
 * A connection carries one request and gets one reply. Its life:
 *
 *   READ ──object complete──> WORK ──store answered──> WRITE ──written──> LINGER ──EOF──> closed
 *     │  (gmqframe finds the end; jansson parses it once)     (then FIN)     (drain the peer)
 *     └── too large, not an object, timeout, EOF: an "N" reply at once ──> WRITE
 *
 * GMQ's client writes its object and waits for the reply without closing its side, so the reply
 * goes out as soon as the object is complete, never at EOF. After the reply we send FIN and keep
 * reading (and discarding) until the peer closes or a short linger ends: closing with unread
 * bytes would make the kernel send RST, and a client still sending an oversized request would
 * then lose the reply that explains why.
 *
 * Pop (S) is at most once and never lost, exactly as the HTTP pop (api.c): lease one message of
 * the `default` group, make its ack durable (STORE_ACK_PREPARE), write the reply, and once the
 * write has completed STORE_ACK it — or STORE_UNDO it when the write failed, the peer reset the
 * connection first, or the server closed the connection before the reply was wholly in the
 * kernel. A pop never waits: GMQ's S on an empty queue answers "" at once.
 *
 * Limits: the request size (max_request; the buffer never grows past it), the time for a request
 * to arrive whole from the moment the connection was accepted (a trickling client cannot hold a
 * slot), the time for the reply to be taken by the client, and the number of connections. At
 * that number we stop accepting: new clients wait in the kernel's listen backlog, as HTTP's do.
 *
 * Memory: one gmq_conn_t per connection with its request buffer and a pool for the store's
 * results; freed when both its handles are closed and no store request is pending.
 */
#include "gmq.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "b64.h"
#include "common.h"
#include "dur.h"
#include "err.h"
#include "gmqframe.h"
#include "gmqwire.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "msg.h"
#include "pool.h"

#define GMQ_BACKLOG 1024
#define GMQ_READ_CHUNK 65536
#define GMQ_LINGER_MS 2000 /* after the reply, how long we wait for the peer's FIN */

enum conn_state { C_READ, C_WORK, C_WRITE, C_LINGER, C_CLOSED };

typedef struct gmq_conn gmq_conn_t;

struct gmq {
    uv_loop_t *loop;
    store_t *store;
    gmq_config_t cfg; /* strings point to the copies below */
    char *host, *protocol, *user, *password;
    uv_tcp_t listener;
    list_t conns;
    size_t nconns;
    int port;
    bool listening;      /* the listener handle is open */
    bool accept_waiting; /* a connection waits in libuv for uv_accept (we were full) */
    bool draining, closed;
    char discard[GMQ_READ_CHUNK]; /* what arrives after the request is read into this */
};

struct gmq_conn {
    list_t link;
    gmq_t *g;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    uv_shutdown_t sh;
    int state;
    int handles;        /* open handles (tcp, timer); freed at 0 with no store request */
    bool store_pending; /* sreq is in the store's hands */
    bool peer_eof;      /* the peer sent FIN (it may still read: GMQ clients never do this, nc -N
                           does) */
    bool gone;          /* the peer reset the connection: no reply can reach it */
    char *buf;          /* the request's bytes */
    size_t len, cap;
    gmqframe_t frame;
    pool_t pool; /* the store's results, decoded payloads */
    gmqwire_req_t req;
    char queue[ENGINE_NAME_MAX + 1];
    store_req_t sreq;
    void (*done)(gmq_conn_t *c); /* what to do when sreq completes */
    engine_pub_t pub;            /* P: the message (ours until the store takes it) */
    engine_lease_t pop;          /* S: the message taken and its lease, held until written */
    const char *receipt;         /* S: pop.receipt, for the ack requests */
    char *reply;                 /* sl_malloc'd */
    size_t reply_len;
};

static void conn_close(gmq_conn_t *c);
static void conn_accept(gmq_t *g);

/* Frees g once it is closed and nothing refers to it: its listener and every connection have
 * been closed by the loop. */
static void gmq_maybe_free(gmq_t *g)
{
    if (!g->closed || g->listening || g->nconns > 0)
        return;
    sl_free(g->host);
    sl_free(g->protocol);
    sl_free(g->user);
    sl_free(g->password);
    sl_free(g);
}

/* ---------------------------------------------------------------- follow-ups */

/* An ack or undo of a popped message sent after its connection is over: it owns its memory, since
 * an asynchronous store may answer after the connection is freed. */
typedef struct gmq_followup {
    pool_t pool;
    store_req_t sreq;
    char queue[ENGINE_NAME_MAX + 1];
    char receipt[ENGINE_RECEIPT_LEN];
    const char *receipts[1];
} gmq_followup_t;

static void followup_done(store_req_t *sr)
{
    gmq_followup_t *f = sr->data;
    if (sr->status)
        log_msg(LOG_WARN, "GMQ: %s of a popped message of queue '%s' failed: %s.",
                sr->op == STORE_ACK ? "the ack" : "giving back", f->queue, err_text(sr->status));
    pool_cleanup(&f->pool);
    sl_free(f);
}

static void followup(gmq_t *g, int op, const char *queue, const char *receipt)
{
    gmq_followup_t *f = sl_calloc(1, sizeof *f);
    pool_init(&f->pool);
    snprintf(f->queue, sizeof f->queue, "%s", queue);
    snprintf(f->receipt, sizeof f->receipt, "%s", receipt);
    store_req_init(&f->sreq, op, followup_done, f, &f->pool);
    f->sreq.queue = f->queue;
    f->receipts[0] = f->receipt;
    f->sreq.u.ack.receipts = f->receipts;
    f->sreq.u.ack.n = 1;
    store_submit(g->store, &f->sreq);
}

/* Settles a pop whose reply is over: acked when it reached the kernel, else given back. */
static void pop_settle(gmq_conn_t *c, bool delivered)
{
    if (c->pop.msg == NULL)
        return;
    followup(c->g, delivered ? STORE_ACK : STORE_UNDO, c->queue, c->pop.receipt);
    msg_unref(c->pop.msg);
    c->pop.msg = NULL;
}

/* ---------------------------------------------------------------- connection lifetime */

static void conn_free(gmq_conn_t *c)
{
    gmq_t *g = c->g;
    list_remove(&c->link);
    g->nconns--;
    gmqwire_req_cleanup(&c->req);
    pool_cleanup(&c->pool);
    sl_free(c->buf);
    sl_free(c->reply);
    sl_free(c);
    if (g->closed) {
        gmq_maybe_free(g);
        return;
    }
    if (g->accept_waiting && !g->draining) {
        g->accept_waiting = false;
        conn_accept(g);
    }
}

static void maybe_free(gmq_conn_t *c)
{
    if (c->handles == 0 && !c->store_pending)
        conn_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    gmq_conn_t *c = h->data;
    c->handles--;
    maybe_free(c);
}

/* What a store request that completed (or was withdrawn) after its connection closed leaves
 * behind: a pop is given back, a message the store did not take is released. */
static void work_abandoned(gmq_conn_t *c, bool completed)
{
    store_req_t *sr = &c->sreq;
    switch (sr->op) {
    case STORE_LEASE:
        if (completed && sr->status == 0) {
            for (size_t i = 0; i < sr->u.lease.n; i++)
                followup(c->g, STORE_UNDO, c->queue, sr->u.lease.out[i].receipt);
            store_req_cleanup(sr);
        }
        break;
    case STORE_ACK_PREPARE:
        pop_settle(c, false);
        break;
    case STORE_PUBLISH:
        if (c->pub.msg) /* still ours: the store did not take it */
            msg_unref(c->pub.msg);
        c->pub.msg = NULL;
        break;
    default:
        break;
    }
}

/* Closes the connection, settling whatever it was doing (see gmq_close()). Idempotent. */
static void conn_close(gmq_conn_t *c)
{
    if (c->state == C_CLOSED)
        return;
    int was = c->state;
    c->state = C_CLOSED;
    /* A pop is settled now: in WRITE the write callback will only come with UV_ECANCELED,
     * perhaps after the store has closed, so what counts is whether every byte of the reply got
     * to the kernel; before WRITE the reply never left. */
    pop_settle(c, was == C_WRITE && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0);
    if (was == C_WORK && c->store_pending && store_cancel(c->g->store, &c->sreq) == 0) {
        c->store_pending = false;
        work_abandoned(c, false);
    } /* else the store still works on it: on_store() cleans up when it answers */
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* ---------------------------------------------------------------- replies */

static void on_timer(uv_timer_t *t);

static void on_shutdown(uv_shutdown_t *sh, int status)
{
    gmq_conn_t *c = sh->data;
    if (status < 0)
        conn_close(c);
}

static void on_written(uv_write_t *wr, int status)
{
    gmq_conn_t *c = wr->data;
    if (c->state == C_CLOSED)
        return; /* conn_close() settled it */
    pop_settle(c, status == 0);
    if (status < 0 || c->peer_eof || c->gone) {
        conn_close(c);
        return;
    }
    c->state = C_LINGER;
    uv_timer_start(&c->timer, on_timer, GMQ_LINGER_MS, 0);
    if (uv_shutdown(&c->sh, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
        conn_close(c);
}

/* Sends the reply to the request (payload replaces the request's when not NULL; err 0 for "Y",
 * else "N" with msg) and moves to WRITE. A connection whose peer reset it is closed instead. */
static void conn_reply(gmq_conn_t *c, const char *payload, int err, const char *msg)
{
    if (c->gone) {
        conn_close(c); /* settles a pop as not delivered */
        return;
    }
    c->reply = gmqwire_reply(&c->req, payload, err, msg, &c->reply_len);
    c->state = C_WRITE;
    /* a client that does not read its reply must not hold the connection either */
    if (c->g->cfg.timeout_ms > 0)
        uv_timer_start(&c->timer, on_timer, (uint64_t)c->g->cfg.timeout_ms, 0);
    uv_buf_t b = uv_buf_init(c->reply, (unsigned)c->reply_len);
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0)
        conn_close(c);
}

static void conn_replyf(gmq_conn_t *c, int err, const char *fmt, ...) SL_PRINTF(3, 4);

static void conn_replyf(gmq_conn_t *c, int err, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    conn_reply(c, NULL, err, msg);
}

/* An error of the store, as a sentence naming the queue. */
static void reply_store_error(gmq_conn_t *c, int err)
{
    if (err == SL_ETOOMANY)
        conn_replyf(c, err,
                    "Cannot create queue '%s': the server holds its maximum number of "
                    "queues.",
                    c->queue);
    else
        conn_replyf(c, err, "Queue '%s': %s.", c->queue, err_text(err));
}

/* ---------------------------------------------------------------- operations */

static void on_store(store_req_t *sr)
{
    gmq_conn_t *c = sr->data;
    c->store_pending = false;
    if (c->state == C_CLOSED) {
        work_abandoned(c, true);
        maybe_free(c);
        return;
    }
    c->done(c);
}

/* Submits c->sreq (its inputs already set) as op; done() runs when the store answers. */
static void conn_submit(gmq_conn_t *c, int op, void (*done)(gmq_conn_t *c))
{
    c->sreq.op = op;
    c->sreq.cb = on_store;
    c->sreq.data = c;
    c->sreq.pool = &c->pool;
    c->sreq.queue = c->queue;
    c->done = done;
    c->store_pending = true;
    store_submit(c->g->store, &c->sreq);
}

static void publish_done(gmq_conn_t *c)
{
    if (c->sreq.status) {
        msg_unref(c->pub.msg); /* on an error the store leaves the reference with us */
        c->pub.msg = NULL;
        reply_store_error(c, c->sreq.status);
        return;
    }
    conn_reply(c, NULL, 0, NULL); /* P echoes the request's payload */
}

static void op_publish(gmq_conn_t *c)
{
    gmqwire_req_t *r = &c->req;
    unsigned char *data = pool_alloc(&c->pool, B64_DECODED_MAX(r->payload_len) + 1);
    size_t n;
    if (gmqwire_b64_decode(r->payload, r->payload_len, data, &n)) {
        conn_replyf(c, SL_EBASE64,
                    "Field 'payload' is not valid base64: GMQ payloads are standard base64 "
                    "with padding (line breaks are ignored).");
        return;
    }
    if (n == 0) {
        conn_replyf(c, SL_EPARAM,
                    "Field 'payload' is empty: S could not tell an empty message from an empty "
                    "queue, so P needs at least one byte.");
        return;
    }
    if (n > c->g->cfg.max_message_bytes) {
        conn_replyf(c, SL_ETOOBIG,
                    "The message is %zu bytes; messages are limited to %zu "
                    "(max_message_bytes).",
                    n, c->g->cfg.max_message_bytes);
        return;
    }
    c->pub = (engine_pub_t){.msg = msg_new(data, n, NULL, 0, NULL, 0)};
    c->sreq.u.publish.items = &c->pub;
    c->sreq.u.publish.n = 1;
    conn_submit(c, STORE_PUBLISH, publish_done);
}

/* The pop's ack is durable: send the message. */
static void pop_prepared(gmq_conn_t *c)
{
    if (c->sreq.status) {
        int err = c->sreq.status;
        pop_settle(c, false);
        reply_store_error(c, err);
        return;
    }
    msg_t *m = c->pop.msg;
    char *b = pool_alloc(&c->pool, B64_ENCODED_LEN(m->len) + 1);
    b64_encode(msg_body(m), m->len, b);
    conn_reply(c, b, 0, NULL); /* the message stays in c->pop until the write completes */
}

static void pop_leased(gmq_conn_t *c)
{
    store_req_t *sr = &c->sreq;
    if (sr->status == SL_ENOQUEUE || (sr->status == 0 && sr->u.lease.n == 0)) {
        conn_reply(c, "", 0, NULL); /* GMQ: an unknown or empty queue gives "" */
        return;
    }
    if (sr->status) {
        reply_store_error(c, sr->status);
        return;
    }
    c->pop = sr->u.lease.out[0]; /* the reference moves to c->pop */
    memset(&sr->u, 0, sizeof sr->u);
    c->receipt = c->pop.receipt;
    sr->u.ack.receipts = &c->receipt;
    sr->u.ack.n = 1;
    conn_submit(c, STORE_ACK_PREPARE, pop_prepared);
}

static void op_pop(gmq_conn_t *c)
{
    c->sreq.u.lease.max = 1;
    c->sreq.u.lease.visibility_ms = -1;
    c->sreq.u.lease.wait_ms = 0;
    conn_submit(c, STORE_LEASE, pop_leased);
}

static void length_done(gmq_conn_t *c)
{
    if (c->sreq.status == SL_ENOQUEUE) {
        conn_reply(c, "0", 0, NULL);
        return;
    }
    if (c->sreq.status) {
        reply_store_error(c, c->sreq.status);
        return;
    }
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)c->sreq.u.group.info.lag);
    conn_reply(c, n, 0, NULL);
}

static void op_length(gmq_conn_t *c)
{
    c->sreq.group = ENGINE_DEFAULT_GROUP;
    conn_submit(c, STORE_GROUP_INFO, length_done);
}

/* The request is complete (or all that will come of it is here): answer it. */
static void conn_request(gmq_conn_t *c)
{
    gmq_t *g = c->g;
    gmqwire_req_t *r = &c->req;
    char why[400];

    c->state = C_WORK;
    uv_timer_stop(&c->timer);
    int err = gmqwire_parse(c->buf, c->len, r, why, sizeof why);
    if (err) {
        conn_reply(c, NULL, err, why);
        return;
    }
    if (g->user[0] || g->password[0]) {
        if (!r->has_auth) {
            conn_replyf(c, SL_EAUTH,
                        "This server requires GMQ credentials: send 'auth' with the tokens of "
                        "the user and the password (the GMQ client's -user and -password).");
            return;
        }
        bool user_ok = gmqwire_token_matches(r->user, strlen(r->user), g->user);
        bool pass_ok = gmqwire_token_matches(r->password, strlen(r->password), g->password);
        if (!user_ok || !pass_ok) {
            conn_replyf(c, SL_EAUTH, "The GMQ credentials in 'auth' do not match.");
            return;
        }
    }
    const char *op = r->operation;
    if (strcmp(op, "SYNC") == 0) {
        conn_reply(c, NULL, 0, NULL);
        return;
    }
    if (strcmp(op, "P") && strcmp(op, "S") && strcmp(op, "L")) {
        bool lower =
            !strcmp(op, "p") || !strcmp(op, "s") || !strcmp(op, "l") || !strcmp(op, "sync");
        conn_replyf(c, SL_EPARAM,
                    "Unknown operation '%.40s': GMQ operations are P (publish), S (subscribe), "
                    "L (length) and SYNC%s.",
                    op, lower ? ", in upper case" : "");
        return;
    }
    if (!engine_name_valid(r->queue, strlen(r->queue))) {
        conn_replyf(c, SL_ENAME,
                    "Queue name '%.128s' is invalid: use 1 to 128 characters of A-Z a-z 0-9 . _ - "
                    "starting with a letter or digit.",
                    r->queue);
        return;
    }
    snprintf(c->queue, sizeof c->queue, "%s", r->queue);
    if (op[0] == 'P')
        op_publish(c);
    else if (op[0] == 'S')
        op_pop(c);
    else
        op_length(c);
}

/* ---------------------------------------------------------------- reading */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    gmq_conn_t *c = h->data;
    gmq_t *g = c->g;
    if (c->state != C_READ) {
        *buf = uv_buf_init(g->discard, sizeof g->discard);
        return;
    }
    /* One byte past the limit is enough to know the request is too large. */
    size_t room = g->cfg.max_request + 1 - c->len;
    size_t want = room < GMQ_READ_CHUNK ? room : GMQ_READ_CHUNK;
    if (c->len + want > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + want)
            cap *= 2;
        if (cap > g->cfg.max_request + 1)
            cap = g->cfg.max_request + 1;
        c->buf = sl_realloc(c->buf, cap);
        c->cap = cap;
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)want);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    gmq_conn_t *c = s->data;
    gmq_t *g = c->g;
    if (nread == 0)
        return; /* EAGAIN */
    if (c->state == C_LINGER) {
        if (nread < 0)
            conn_close(c);
        return; /* bytes after the request: discarded */
    }
    if (c->state != C_READ) { /* WORK or WRITE */
        if (nread == UV_EOF) {
            c->peer_eof = true;
        } else if (nread < 0) {
            c->gone = true;
            uv_read_stop(s);
        }
        return;
    }
    if (nread < 0 && nread != UV_EOF) {
        conn_close(c); /* reset before a whole request: nothing to answer, nothing done */
        return;
    }
    if (nread == UV_EOF) {
        c->peer_eof = true;
        if (c->len == 0) {
            c->state = C_WORK;
            conn_replyf(c, SL_EINVAL, "The connection was closed before a request was sent.");
        } else {
            conn_request(c); /* the parser names what is missing */
        }
        return;
    }
    c->len += (size_t)nread;
    int framed = gmqframe_scan(&c->frame, c->buf, c->len);
    if (framed == GMQFRAME_END && c->frame.pos <= g->cfg.max_request) {
        conn_request(c);
        return;
    }
    switch (framed) {
    case GMQFRAME_NOT_OBJECT: {
        unsigned char b = (unsigned char)c->buf[c->frame.pos - 1];
        c->state = C_WORK;
        if (b >= 0x20 && b < 0x7f)
            conn_replyf(c, SL_EJSON,
                        "The request is not a JSON object: it starts with '%c'. GMQ takes one "
                        "JSON object per connection.",
                        b);
        else
            conn_replyf(c, SL_EJSON,
                        "The request is not a JSON object: it starts with byte 0x%02x. GMQ takes "
                        "one JSON object per connection.",
                        b);
        break;
    }
    default: /* an object that is, or will be, over the limit (the buffer holds one byte more) */
        if (c->len > g->cfg.max_request) {
            c->state = C_WORK;
            conn_replyf(c, SL_ETOOBIG,
                        "The request is larger than %zu bytes (gmq_max_request, GMQ's "
                        "max_message_length).",
                        g->cfg.max_request);
        }
        break;
    }
}

static void on_timer(uv_timer_t *t)
{
    gmq_conn_t *c = t->data;
    char limit[DUR_LEN];
    dur_format(c->g->cfg.timeout_ms, limit);
    switch (c->state) {
    case C_READ:
        c->state = C_WORK;
        if (c->len == 0)
            conn_replyf(c, SL_ETIMEDOUT, "No request arrived within %s (gmq_timeout).", limit);
        else
            conn_replyf(c, SL_ETIMEDOUT,
                        "The request was not complete within %s (gmq_timeout); %zu bytes "
                        "arrived.",
                        limit, c->len);
        break;
    case C_WRITE: /* the client does not take its reply */
        log_msg(LOG_DEBUG, "GMQ: closing a connection whose reply was not read within %s.", limit);
        conn_close(c);
        break;
    case C_LINGER: /* the peer did not close after its reply */
        conn_close(c);
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- accepting */

static void conn_accept(gmq_t *g)
{
    gmq_conn_t *c = sl_calloc(1, sizeof *c);
    c->g = g;
    c->state = C_READ;
    pool_init(&c->pool);
    gmqwire_req_cleanup(&c->req); /* an empty request: what an early reply echoes */
    gmqframe_init(&c->frame);
    list_push(&g->conns, &c->link);
    g->nconns++;
    uv_tcp_init(g->loop, &c->tcp);
    uv_timer_init(g->loop, &c->timer);
    c->tcp.data = c->timer.data = c->wr.data = c->sh.data = c;
    c->handles = 2;
    if (uv_accept((uv_stream_t *)&g->listener, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c); /* nothing was waiting after all */
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (g->cfg.timeout_ms > 0)
        uv_timer_start(&c->timer, on_timer, (uint64_t)g->cfg.timeout_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
        conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    gmq_t *g = server->data;
    if (status < 0) {
        log_msg(LOG_WARN, "GMQ: accepting a connection failed: %s.", uv_strerror(status));
        return;
    }
    if (g->nconns >= g->cfg.max_connections) {
        /* Not accepting makes libuv stop polling the listen socket until uv_accept(): the next
         * client waits in the backlog until a connection closes (conn_free). */
        if (!g->accept_waiting)
            log_msg(LOG_WARN, "GMQ: %u connections open (gmq_max_connections): new ones wait.",
                    g->cfg.max_connections);
        g->accept_waiting = true;
        return;
    }
    conn_accept(g);
}

/* ---------------------------------------------------------------- the listener */

static void on_listener_closed(uv_handle_t *h)
{
    gmq_t *g = h->data;
    g->listening = false;
    gmq_maybe_free(g);
}

int gmq_open(const gmq_config_t *cfg, store_t *store, uv_loop_t *loop, gmq_t **out)
{
    struct addrinfo hints, *ai = NULL;
    char port[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = !strcmp(cfg->protocol, "tcp4")   ? AF_INET
                      : !strcmp(cfg->protocol, "tcp6") ? AF_INET6
                                                       : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        log_msg(LOG_ERROR, "Cannot resolve the GMQ listen address '%s' (%s): %s.", cfg->host,
                cfg->protocol, gai_strerror(gai));
        return SL_EIO;
    }

    gmq_t *g = sl_calloc(1, sizeof *g);
    g->loop = loop;
    g->store = store;
    g->cfg = *cfg;
    g->host = sl_strdup(cfg->host);
    g->protocol = sl_strdup(cfg->protocol);
    g->user = sl_strdup(cfg->user ? cfg->user : "");
    g->password = sl_strdup(cfg->password ? cfg->password : "");
    g->cfg.host = g->host;
    g->cfg.protocol = g->protocol;
    g->cfg.user = g->user;
    g->cfg.password = g->password;
    list_init(&g->conns);
    uv_tcp_init_ex(loop, &g->listener, (unsigned)ai->ai_family);
    g->listener.data = g;
    g->listening = true;
    unsigned flags = ai->ai_family == AF_INET6 && hints.ai_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    int r = uv_tcp_bind(&g->listener, ai->ai_addr, flags);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&g->listener, GMQ_BACKLOG, on_connection);
    freeaddrinfo(ai);
    if (r < 0) {
        log_msg(LOG_ERROR, "Cannot listen for GMQ on %s:%d (%s): %s.", cfg->host, cfg->port,
                cfg->protocol, uv_strerror(r));
        g->closed = true; /* freed in on_listener_closed */
        uv_close((uv_handle_t *)&g->listener, on_listener_closed);
        return SL_EIO;
    }
    struct sockaddr_storage ss;
    int sslen = sizeof ss;
    g->port = cfg->port;
    if (uv_tcp_getsockname(&g->listener, (struct sockaddr *)&ss, &sslen) == 0)
        g->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    bool v6 = strchr(cfg->host, ':') != NULL;
    log_msg(LOG_INFO, "GMQ listening on %s%s%s:%d (%s%s).", v6 ? "[" : "", cfg->host, v6 ? "]" : "",
            g->port, cfg->protocol, g->user[0] || g->password[0] ? ", credentials required" : "");
    *out = g;
    return 0;
}

int gmq_port(const gmq_t *g)
{
    return g->port;
}

void gmq_drain(gmq_t *g)
{
    if (g == NULL || g->draining)
        return;
    g->draining = true;
    g->accept_waiting = false; /* libuv closes a connection it held for us with the listener */
    uv_close((uv_handle_t *)&g->listener, on_listener_closed);
    for (list_t *n = g->conns.next, *next; n != &g->conns; n = next) {
        next = n->next; /* conn_replyf may close (and later free) this one */
        gmq_conn_t *c = list_entry(n, gmq_conn_t, link);
        if (c->state == C_READ && c->len == 0) {
            c->state = C_WORK;
            conn_replyf(c, SL_ESHUTDOWN, "The server is shutting down.");
        }
    }
}

size_t gmq_active(const gmq_t *g)
{
    size_t n = 0;
    if (g == NULL)
        return 0;
    for (const list_t *l = g->conns.next; l != &g->conns; l = l->next) {
        const gmq_conn_t *c = list_entry(l, gmq_conn_t, link);
        n += (c->state == C_READ && c->len > 0) || c->state == C_WORK || c->state == C_WRITE;
    }
    return n;
}

void gmq_close(gmq_t *g)
{
    if (g == NULL)
        return;
    if (!g->draining) {
        g->draining = true;
        uv_close((uv_handle_t *)&g->listener, on_listener_closed);
    }
    g->closed = true;
    for (list_t *n = g->conns.next; n != &g->conns; n = n->next)
        conn_close(list_entry(n, gmq_conn_t, link));
}
