/*
 * webhook.h — outgoing HTTP POSTs for push delivery, and the Standard Webhooks signature.
 *
 * The client is libcurl's multi interface driven by the libuv loop: no thread, no blocking
 * call, every request bounded by its timeout, and connections to a receiver kept alive and
 * reused between requests. It knows nothing of queues: deliver.c decides what to send, where
 * and when, and what an answer means.
 */
#ifndef SL_WEBHOOK_H
#define SL_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "list.h"

#define WEBHOOK_ERROR_MAX 256
#define WEBHOOK_SIG_MAX 128 /* "v1," + base64 of 32 bytes, NUL included, with room */

typedef struct webhook_client webhook_client_t;
typedef struct webhook_req webhook_req_t;

/* One POST. The caller owns the struct and everything it points to until cb has run. */
struct webhook_req {
    /* in */
    const char *url;
    const void *body;
    size_t body_len;
    int64_t timeout_ms; /* the whole exchange, connecting included */
    void (*cb)(webhook_req_t *r);
    void *data; /* the caller's */
    /* out, when cb runs */
    long status;                       /* the HTTP status, 0 when no answer came */
    char error[WEBHOOK_ERROR_MAX + 1]; /* "" after a 2xx; else what went wrong, for people */
    /* private */
    void *easy;
    void *headers;
    size_t resp_len; /* bytes of the answer's body kept for the error text */
    char resp[96];
    list_t link;
};

/* Returns a client on loop. Free with webhook_client_free(). */
webhook_client_t *webhook_client_new(uv_loop_t *loop, const char *user_agent);

/* Aborts the requests in progress (their cb is not called) and frees c; NULL is accepted. The
 * loop must run once more afterwards to close the client's handles. */
void webhook_client_free(webhook_client_t *c);

/* Prepares r, fresh or cleaned up, for a new request: no headers, no results. */
void webhook_req_init(webhook_req_t *r);

/* Adds the header "name: value" to r. Returns 0 or SL_EINTERNAL. */
int webhook_req_header(webhook_req_t *r, const char *name, const char *value);

/* Starts r. Returns 0 (cb will run, later, exactly once unless the client is freed first) or
 * SL_EPARAM when libcurl refuses the request (r->error says why; cb will not run). */
int webhook_post(webhook_client_t *c, webhook_req_t *r);

/* Releases what r holds (its headers); after cb, or after a failed webhook_post(). */
void webhook_req_cleanup(webhook_req_t *r);

/* Requests in progress. */
size_t webhook_active(const webhook_client_t *c);

/* Debian's GnuTLS flavour of libcurl: one crypto stack with libmicrohttpd's TLS. */
#define WEBHOOK_LIBCURL "libcurl-gnutls.so.4"

/* Names the libcurl to load (a file name dlopen searches for, or a path; the default is
 * WEBHOOK_LIBCURL). Only before the first webhook_load(); name is borrowed for good. */
void webhook_library(const char *name);

/* Loads libcurl the first time (see webhook.c): 0, or SL_EUNAVAILABLE when it cannot be loaded
 * (logged once). Every function below that needs libcurl calls it. */
int webhook_load(void);

/* Checks that url is an absolute http or https URL, adding "http://" when it has no scheme.
 * Writes the URL to use into out (room for cap). Returns 0, or SL_EPARAM with a reason in why
 * (room for WEBHOOK_ERROR_MAX + 1), or SL_EUNAVAILABLE. */
int webhook_url_check(const char *url, char *out, size_t cap, char *why);

/* The length of a signing key, in bytes: the Standard Webhooks convention asks for 24 to 64;
 * we accept from 16 (128 bits) so that a plain passphrase of 16 characters is enough. */
#define WEBHOOK_KEY_MIN 16
#define WEBHOOK_KEY_MAX 64

/* Writes the Standard Webhooks signature "v1,<base64 of HMAC-SHA256(key, id.timestamp.body)>"
 * into sig (room for WEBHOOK_SIG_MAX). The key is the base64 after "whsec_" when secret has that
 * prefix (the convention's form), else the secret's bytes. Returns 0, or SL_EPARAM when a
 * "whsec_" secret is not valid base64 or its key is not WEBHOOK_KEY_MIN..WEBHOOK_KEY_MAX bytes
 * (a plain secret's length is the caller's to check). */
int webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const void *body,
                 size_t len, char *sig);

#endif
