/*
 * http.h — the HTTP server: libmicrohttpd run from the libuv loop, one request object per
 * request, suspend/resume for answers that come later, and the limits that keep slow or
 * malicious clients from pinning the server.
 *
 * The application sees two callbacks: begin() once the headers are in (it routes, may answer at
 * once — an unknown path, a body that will be too large — and sets the body limit), and handle()
 * once the whole body is in. Either answers with http_respond(), or calls http_suspend() and
 * answers later with http_respond() + http_resume().
 */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "list.h"
#include "pool.h"

enum http_method {
    HTTP_OTHER = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
};

typedef struct http_server http_server_t;
typedef struct http_req http_req_t;

typedef struct http_config {
    const char *host; /* numeric address or name */
    int port;         /* 0 picks a free port */
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0 = no limit */
    size_t max_header_bytes;
    size_t max_request_bytes;
    unsigned idle_timeout_s;    /* 0 = none */
    int64_t request_timeout_ms; /* 0 = none */
} http_config_t;

typedef struct http_handlers {
    /* Headers are in: route, set r->body_limit, or answer at once. */
    void (*begin)(http_req_t *r, void *ctx);
    /* The body is in (r->body): answer or suspend. Not called when begin() answered. */
    void (*handle)(http_req_t *r, void *ctx);
    /* Answers a request the server refuses on its own: SL_EHEADERS (headers over
     * max_header_bytes), SL_ETOOBIG (body over the limit), SL_EINVAL (malformed; why says how,
     * else NULL). */
    void (*reject)(http_req_t *r, int err, const char *why, void *ctx);
    void *ctx;
} http_handlers_t;

struct http_req {
    pool_t pool; /* temporary data of this request, freed after the reply was sent */
    int method;
    const char *method_name;
    const char *path; /* decoded, without the query string */
    char *body;       /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
    size_t body_limit; /* set by begin(); default max_request_bytes */
    void *app;         /* the application's per-request state */
    /* Called when the request is over: delivered says whether the reply reached the kernel. */
    void (*on_done)(http_req_t *r, bool delivered);
    /* Called when a suspended request's client disconnected: the reply will not be sent. The
     * application withdraws what it was waiting for and then calls http_resume() (at once, or
     * when its pending work completes) so the connection can be closed. Without on_gone the
     * connection is resumed and closed at once. */
    void (*on_gone)(http_req_t *r);

    /* private to http.c */
    struct http_server *srv;
    struct http_conn *conn;
    struct MHD_Connection *mc;
    size_t body_cap;
    list_t susp_link; /* on the server's list while suspended */
    bool body_overflow, dispatched, suspended, gone, responded, queued;
    int status;
    const char *ctype;
    const void *resp;
    size_t resp_len;
    char *resp_owned;
    struct http_header *headers;
};

/* Starts listening. Returns 0 with *out set, or SL_EIO (address in use, bad address; logged). */
int http_open(const http_config_t *cfg, const http_handlers_t *h, uv_loop_t *loop,
              http_server_t **out);

/* Returns the port actually bound. */
int http_port(const http_server_t *s);

/* Stops accepting connections; replies from now on carry "Connection: close". */
void http_drain(http_server_t *s);

/* Returns the number of requests in progress (received in part or whole, not yet answered and
 * sent), parked ones included. */
size_t http_active(const http_server_t *s);

/* Closes every connection and frees the server. Suspended requests are resumed as gone first. */
void http_close(http_server_t *s);

/* Returns the value of query parameter name, or NULL. Borrowed, valid for the request. */
const char *http_query(http_req_t *r, const char *name);

/* Returns the value of request header name (case-insensitive), or NULL. */
const char *http_header(http_req_t *r, const char *name);

/* Calls fn for every request header; used for the Sluice-Attr-* headers. */
void http_each_header(http_req_t *r, void (*fn)(void *ctx, const char *k, const char *v),
                      void *ctx);

/* Adds a reply header; name and value are copied into the request pool. */
void http_add_header(http_req_t *r, const char *name, const char *value);

/* Sets the reply. body must stay valid until on_done (the request pool or static data); ctype
 * may be NULL for an empty body. On a suspended request, follow with http_resume(). */
void http_respond(http_req_t *r, int status, const char *ctype, const void *body, size_t len);

/* As http_respond, taking ownership of body (an sl_malloc'd buffer freed with the request). */
void http_respond_take(http_req_t *r, int status, const char *ctype, char *body, size_t len);

/* Keeps the request open after handle() returns; the reply comes later. */
void http_suspend(http_req_t *r);

/* Sends the reply set on a suspended request, or closes a gone one. */
void http_resume(http_req_t *r);

#endif
