/*
 * http.c — libmicrohttpd in external-epoll mode, driven by the libuv loop.
 *
 * The arrangement (verified in shared/anchors/mhd-libuv.md): MHD's epoll fd is watched by a
 * uv_poll_t and MHD's own timeout by a uv_timer_t; both run pump(), which calls MHD_run() and
 * re-arms the timer from MHD_get_timeout(). Everything happens on the loop thread, so the
 * application needs no locks.
 *
 * The one trap: in external mode MHD has no wake-up channel, so MHD_resume_connection() only
 * sets a flag that MHD_run() looks at when it starts. pump() therefore runs MHD_run() again while
 * a resume is pending, and a resume made outside pump() (from a storage or timer callback)
 * schedules a pump through a uv_idle_t. Calling MHD_run() directly from such a callback would
 * re-enter the application in the middle of whatever called back, so it never does.
 *
 * The same holds after a connection closes: at max_connections MHD stops polling its listen socket
 * and starts again only in a later MHD_run(), so pump() also reruns after a close.
 *
 * A suspended connection is not watched by MHD, so a client that hangs up while its long-poll is
 * parked would only be noticed after the resume — and its reply, with leased messages in it,
 * would then be lost. A uv_poll_t with UV_DISCONNECT watches every connection; on hang-up the
 * application's on_gone() withdraws a parked request before anything is leased to it. The same
 * watch catches a peer that closed in the middle of sending a request, whose FIN MHD can miss
 * (see reap()), so such connections do not hold a slot until the idle timeout. If the client
 * goes away after the reply was built, on_done(delivered = false) lets the application undo.
 *
 * Limits: MHD enforces the connection count, per-address count, header memory and idle timeout.
 * The time to receive a whole request is ours: the URI-log callback marks the start of a
 * request, the last handler call its end, and a sweep timer shuts down the socket of any
 * connection that is still receiving after request_timeout (MHD then closes it), so a client
 * that trickles bytes cannot hold a connection slot forever.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "dur.h"
#include "list.h"
#include "log.h"
#include "mem.h"

struct http_header {
    struct http_header *next;
    const char *name, *value;
};

/* One TCP connection. Freed in the close callback of its poll handle. */
struct http_conn {
    list_t link;
    http_server_t *srv;
    int fd;
    uv_poll_t hup;       /* the peer's hang-up (UV_DISCONNECT), one-shot */
    http_req_t *req;     /* the request in progress, NULL between requests */
    int64_t phase_start; /* when the request now being received began */
    bool watching;       /* hup is initialised */
    bool receiving;      /* a request is arriving and is not complete */
    bool parked;
    bool peer_closed; /* the peer sent FIN */
    bool shut;        /* we shut the socket down; MHD will close it */
};

struct http_server {
    struct MHD_Daemon *d;
    uv_loop_t *loop;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_timer_t sweep;
    uv_idle_t idle;
    http_handlers_t h;
    http_config_t cfg;
    list_t conns;
    list_t suspended; /* http_req_t.susp_link */
    size_t nconns, active;
    int port;
    int closing_handles;
    bool in_pump, resume_pending, draining, closed;
    bool conn_closed;   /* a connection closed during this MHD_run() */
    size_t half_closed; /* connections with peer_closed and not shut */
};

static void pump(http_server_t *s);
static void reap_all(http_server_t *s);
static void resume_conn(http_req_t *r);

/* ---------------------------------------------------------------- loop glue */

static void on_poll(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    pump(p->data);
}

static void on_timer(uv_timer_t *t)
{
    pump(t->data);
}

static void on_idle(uv_idle_t *i)
{
    uv_idle_stop(i);
    pump(i->data);
}

static void pump(http_server_t *s)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (s->closed)
        return;
    s->in_pump = true;
    do {
        s->resume_pending = s->conn_closed = false;
        MHD_run(s->d);
    } while (s->resume_pending || s->conn_closed);
    s->in_pump = false;
    if (s->half_closed)
        reap_all(s);
    if (MHD_get_timeout(s->d, &ms) == MHD_YES)
        uv_timer_start(&s->timer, on_timer, (uint64_t)ms, 0);
    else
        uv_timer_stop(&s->timer);
}

/* ---------------------------------------------------------------- request timeouts */

static void on_sweep(uv_timer_t *t)
{
    http_server_t *s = t->data;
    int64_t now = dur_now_ms();
    for (list_t *n = s->conns.next; n != &s->conns; n = n->next) {
        struct http_conn *c = list_entry(n, struct http_conn, link);
        if (c->receiving && !c->parked && now - c->phase_start > s->cfg.request_timeout_ms) {
            log_msg(LOG_DEBUG, "Closing connection fd %d: request not complete after %lld ms.",
                    c->fd, (long long)(now - c->phase_start));
            /* MHD sees EOF on its next read and closes the connection itself. */
            shutdown(c->fd, SHUT_RDWR);
            c->receiving = false;
            c->shut = true;
        }
    }
}

/* Shuts down the socket of a peer that hung up, unless a request is still being answered or
 * bytes it sent are still unread (MHD will read them; the check runs again after each pump). */
static void reap(struct http_conn *c)
{
    char byte;
    if (c->shut || (c->req && (c->req->dispatched || c->req->suspended)))
        return;
    if (recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 0)
        return; /* unread data, or nothing to tell yet */
    /* The request can never complete. MHD missed the FIN (it arrived in the same
     * edge-triggered event as data it consumed), so it would keep the connection until the idle
     * timeout: shutting the socket down gives it an event it cannot miss. */
    shutdown(c->fd, SHUT_RDWR);
    c->shut = true;
    c->srv->half_closed--;
}

static void reap_all(http_server_t *s)
{
    for (list_t *n = s->conns.next; n != &s->conns && s->half_closed; n = n->next) {
        struct http_conn *c = list_entry(n, struct http_conn, link);
        if (c->peer_closed)
            reap(c);
    }
}

static void on_hup(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    struct http_conn *c = p->data;
    http_req_t *r = c->req;
    uv_poll_stop(p); /* level-triggered: once is enough */
    c->peer_closed = true;
    c->srv->half_closed++;
    if (r && r->suspended) {
        /* A parked request: MHD does not watch suspended connections, so without this the
         * hang-up would only be seen after the resume, with the reply already built. */
        r->gone = true;
        if (r->on_gone)
            r->on_gone(r);
        else
            resume_conn(r);
        return;
    }
    reap(c);
}

static void on_conn_freed(uv_handle_t *h)
{
    sl_free(h->data);
}

static void notify_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    http_server_t *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct http_conn *c = sl_calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->srv = s;
        c->fd = ci ? ci->connect_fd : -1;
        c->phase_start = dur_now_ms();
        c->receiving = true; /* a new connection must send its first request in time too */
        if (c->fd >= 0 && uv_poll_init(s->loop, &c->hup, c->fd) == 0) {
            c->watching = true;
            c->hup.data = c;
            uv_poll_start(&c->hup, UV_DISCONNECT, on_hup);
        }
        list_push(&s->conns, &c->link);
        if (s->nconns++ == 0 && s->cfg.request_timeout_ms > 0) {
            uint64_t every = (uint64_t)s->cfg.request_timeout_ms / 4;
            uv_timer_start(&s->sweep, on_sweep, every ? every : 1, every ? every : 1);
        }
        *socket_context = c;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct http_conn *c = *socket_context;
        if (c == NULL)
            return;
        list_remove(&c->link);
        if (c->peer_closed && !c->shut)
            s->half_closed--;
        *socket_context = NULL;
        /* At max_connections MHD takes its listen socket out of its epoll set and puts it back
         * only at the start of a later MHD_run(): run once more, or a server that was full stays
         * deaf until some other event. */
        s->conn_closed = true;
        if (--s->nconns == 0)
            uv_timer_stop(&s->sweep);
        /* MHD closes the fd after this returns: stop watching it first (uv_poll_stop removes it
         * from libuv's epoll at once). */
        if (c->watching) {
            uv_poll_stop(&c->hup);
            uv_close((uv_handle_t *)&c->hup, on_conn_freed);
        } else {
            sl_free(c);
        }
    }
}

static struct http_conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
    (void)cls;
    (void)uri;
    struct http_conn *c = conn_of(mc);
    if (c) {
        c->receiving = true;
        c->phase_start = dur_now_ms();
    }
    return NULL;
}

/* ---------------------------------------------------------------- requests */

static int method_of(const char *m)
{
    static const struct {
        const char *name;
        int method;
    } methods[] = {{"GET", HTTP_GET},
                   {"HEAD", HTTP_HEAD},
                   {"POST", HTTP_POST},
                   {"PUT", HTTP_PUT},
                   {"DELETE", HTTP_DELETE}};
    for (size_t i = 0; i < SL_ARRAY_LEN(methods); i++)
        if (strcmp(m, methods[i].name) == 0)
            return methods[i].method;
    return HTTP_OTHER;
}

static void req_free(http_req_t *r)
{
    sl_free(r->resp_owned);
    sl_free(r->body);
    pool_cleanup(&r->pool);
    sl_free(r);
}

static void resume_conn(http_req_t *r)
{
    http_server_t *s = r->srv;
    list_remove(&r->susp_link);
    r->suspended = false;
    if (r->conn)
        r->conn->parked = false;
    MHD_resume_connection(r->mc);
    s->resume_pending = true;
    if (!s->in_pump)
        uv_idle_start(&s->idle, on_idle);
}

static void suspend_conn(http_req_t *r)
{
    MHD_suspend_connection(r->mc);
    list_push(&r->srv->suspended, &r->susp_link);
    if (r->conn)
        r->conn->parked = true;
}

static enum MHD_Result queue_reply(http_req_t *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->resp_len, (void *)r->resp, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    if (r->ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype);
    for (struct http_header *h = r->headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    if (r->srv->draining)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(r->mc, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    r->queued = ret == MHD_YES;
    return ret;
}

static void body_append(http_req_t *r, const char *data, size_t size)
{
    if (r->body_overflow || r->body_len + size > r->body_limit) {
        r->body_overflow = true; /* keep reading, keep nothing: answered 413 at the end */
        return;
    }
    if (r->body_len + size + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
        while (cap < r->body_len + size + 1)
            cap *= 2;
        if (cap > r->body_limit + 1)
            cap = r->body_limit + 1;
        r->body = sl_realloc(r->body, cap);
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, size);
    r->body_len += size;
    r->body[r->body_len] = '\0';
}

struct header_count {
    size_t bytes;
    unsigned content_lengths;
};

static enum MHD_Result header_count_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                       size_t key_size, const char *value, size_t value_size)
{
    struct header_count *hc = cls;
    (void)value;
    hc->bytes += key_size + value_size + (kind == MHD_HEADER_KIND ? 4 : 2); /* ": " CRLF, "=&" */
    if (kind == MHD_HEADER_KIND && strcasecmp(key, "Content-Length") == 0)
        hc->content_lengths++;
    return MHD_YES;
}

/* Checks what MHD does not: the exact size of the request line and headers (MHD's own limit is
 * its whole per-connection pool, with an HTML reply), conflicting Content-Length headers (which a
 * proxy in front could read differently: request smuggling). Returns 0, or the error with *why
 * set to a static reason. */
static int check_head(http_req_t *r, const char *method, const char *url, const char **why)
{
    struct header_count hc = {strlen(method) + strlen(url) + 12, 0};
    MHD_get_connection_values_n(r->mc, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, header_count_cb,
                                &hc);
    *why = NULL;
    if (hc.bytes > r->srv->cfg.max_header_bytes)
        return SL_EHEADERS;
    if (hc.content_lengths > 1) {
        *why = "Conflicting Content-Length headers.";
        return SL_EINVAL;
    }
    const char *cl = MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == 0 && *end == '\0' && n > r->body_limit)
            return SL_ETOOBIG;
    }
    return 0;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *mc, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    http_server_t *s = cls;
    http_req_t *r = *con_cls;
    (void)version;

    if (r == NULL) { /* headers are in */
        r = sl_calloc(1, sizeof *r);
        pool_init(&r->pool);
        r->srv = s;
        r->mc = mc;
        r->conn = conn_of(mc);
        if (r->conn)
            r->conn->req = r;
        list_init(&r->susp_link);
        r->method = method_of(method);
        r->method_name = pool_strndup(&r->pool, method, strlen(method));
        r->path = pool_strndup(&r->pool, url, strlen(url));
        r->body_limit = s->cfg.max_request_bytes;
        *con_cls = r;
        s->active++;
        s->h.begin(r, s->h.ctx); /* routes and sets the body limit that check_head() uses */
        const char *why = NULL;
        int err = r->responded ? 0 : check_head(r, method, url, &why);
        if (err)
            s->h.reject(r, err, why, s->h.ctx);
        if (r->responded)
            return queue_reply(r);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        body_append(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->gone)
        return MHD_NO;
    if (r->queued) /* answered when the headers came in (begin() or a too-large body) */
        return MHD_YES;
    if (!r->dispatched) {
        r->dispatched = true;
        if (r->conn)
            r->conn->receiving = false;
        if (r->body_overflow)
            s->h.reject(r, SL_ETOOBIG, NULL, s->h.ctx);
        else
            s->h.handle(r, s->h.ctx);
        if (!r->responded) {
            sl_assert(r->suspended);
            suspend_conn(r);
            return MHD_YES;
        }
    }
    if (!r->responded) /* resumed without an answer: cannot happen */
        return MHD_NO;
    return queue_reply(r);
}

static void request_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    http_server_t *s = cls;
    http_req_t *r = *con_cls;
    struct http_conn *c = conn_of(mc);
    if (c) {
        c->receiving = false;
        c->phase_start = dur_now_ms();
    }
    if (r == NULL)
        return;
    *con_cls = NULL;
    if (c) {
        c->req = NULL;
        if (c->peer_closed)
            reap(c);
    }
    if (r->on_done)
        r->on_done(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && r->responded && !r->gone);
    s->active--;
    req_free(r);
}

/* Decodes %XX escapes of the path and query as MHD does, except %00: a NUL would silently cut the
 * string (names and values are C strings from here on), so it stays as the three characters
 * "%00", which no name, duration or time grammar accepts. The decoding itself is MHD's. */
static size_t unescape(void *cls, struct MHD_Connection *mc, char *s)
{
    (void)cls;
    (void)mc;
    char *out = s, *p = s;
    for (;;) {
        char *z = strstr(p, "%00");
        size_t n = z ? (size_t)(z - p) : strlen(p);
        char saved = p[n];
        p[n] = '\0';
        size_t m = MHD_http_unescape(p); /* in place; never longer */
        memmove(out, p, m);
        out += m;
        p[n] = saved;
        if (z == NULL)
            break;
        memcpy(out, "%00", 3);
        out += 3;
        p = z + 3;
    }
    *out = '\0';
    return (size_t)(out - s);
}

/* ---------------------------------------------------------------- API for the application */

const char *http_query(http_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->mc, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(http_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->mc, MHD_HEADER_KIND, name);
}

struct header_iter {
    void (*fn)(void *ctx, const char *k, const char *v);
    void *ctx;
};

static enum MHD_Result header_iter_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct header_iter *it = cls;
    (void)kind;
    it->fn(it->ctx, key, value ? value : "");
    return MHD_YES;
}

void http_each_header(http_req_t *r, void (*fn)(void *ctx, const char *k, const char *v), void *ctx)
{
    struct header_iter it = {fn, ctx};
    MHD_get_connection_values(r->mc, MHD_HEADER_KIND, header_iter_cb, &it);
}

void http_add_header(http_req_t *r, const char *name, const char *value)
{
    struct http_header *h = pool_alloc(&r->pool, sizeof *h);
    h->name = pool_strndup(&r->pool, name, strlen(name));
    h->value = pool_strndup(&r->pool, value, strlen(value));
    h->next = r->headers;
    r->headers = h;
}

void http_respond(http_req_t *r, int status, const char *ctype, const void *body, size_t len)
{
    sl_assert(!r->responded);
    r->responded = true;
    r->status = status;
    r->ctype = ctype;
    r->resp = body ? body : "";
    r->resp_len = len;
}

void http_respond_take(http_req_t *r, int status, const char *ctype, char *body, size_t len)
{
    http_respond(r, status, ctype, body, len);
    r->resp_owned = body;
}

void http_suspend(http_req_t *r)
{
    r->suspended = true;
}

void http_resume(http_req_t *r)
{
    sl_assert(r->suspended && (r->responded || r->gone));
    resume_conn(r);
}

/* ---------------------------------------------------------------- server */

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    log_msg(LOG_DEBUG, "libmicrohttpd: %s", buf);
}

int http_open(const http_config_t *cfg, const http_handlers_t *h, uv_loop_t *loop,
              http_server_t **out)
{
    struct addrinfo hints, *ai = NULL;
    char port[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host && *cfg->host ? cfg->host : NULL, port, &hints, &ai);
    if (gai != 0) {
        log_msg(LOG_ERROR, "Cannot resolve listen address '%s': %s.", cfg->host, gai_strerror(gai));
        return SL_EIO;
    }

    http_server_t *s = sl_calloc(1, sizeof *s);
    s->loop = loop;
    s->h = *h;
    s->cfg = *cfg;
    list_init(&s->conns);
    list_init(&s->suspended);
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* MHD's pool holds the request line, headers, the read buffer and the reply headers; sized
     * so that headers within max_header_bytes fit and check_head() is what refuses larger ones
     * (with a JSON reply; MHD's own HTML 431 only answers headers far beyond the limit). Not
     * larger: MHD clears the whole pool after every request, so its size is paid per request. */
    size_t mem = cfg->max_header_bytes + 8192;
    s->d = MHD_start_daemon(
        flags, 0, NULL, NULL, access_handler, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
        MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s, MHD_OPTION_URI_LOG_CALLBACK, uri_log, s,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        cfg->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (s->d == NULL) {
        log_errno(LOG_ERROR, "Cannot listen on %s:%d", cfg->host, cfg->port);
        sl_free(s);
        return SL_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD);
    sl_assert(di != NULL);
    uv_poll_init(loop, &s->poll, di->epoll_fd);
    uv_timer_init(loop, &s->timer);
    uv_timer_init(loop, &s->sweep);
    uv_idle_init(loop, &s->idle);
    s->poll.data = s->timer.data = s->sweep.data = s->idle.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    *out = s;
    return 0;
}

int http_port(const http_server_t *s)
{
    return s->port;
}

void http_drain(http_server_t *s)
{
    if (s->draining)
        return;
    s->draining = true;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

size_t http_active(const http_server_t *s)
{
    return s->active;
}

static void on_handle_closed(uv_handle_t *h)
{
    http_server_t *s = h->data;
    if (--s->closing_handles == 0)
        sl_free(s);
}

void http_close(http_server_t *s)
{
    if (s == NULL)
        return;
    /* MHD must not be stopped with suspended connections: resume them as gone. */
    list_t *n;
    while ((n = s->suspended.next) != &s->suspended) {
        http_req_t *r = list_entry(n, http_req_t, susp_link);
        r->gone = true;
        if (r->on_gone)
            r->on_gone(r);
        if (r->suspended)
            resume_conn(r);
    }
    pump(s);
    s->closed = true;
    MHD_stop_daemon(s->d);
    s->closing_handles = 4;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->sweep, on_handle_closed);
    uv_close((uv_handle_t *)&s->idle, on_handle_closed);
}
