/*
 * gmq.h — the GMQ listener: GMQ's raw-TCP protocol (one JSON request per connection) served on
 * the libuv loop beside the HTTP API, over the same storage (docs/gmq.md).
 */
#ifndef SL_GMQ_H
#define SL_GMQ_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store.h"

typedef struct gmq gmq_t;

typedef struct gmq_config {
    const char *host;     /* numeric address or name to bind */
    int port;             /* 0 picks a free port */
    const char *protocol; /* "tcp" (the address's family), "tcp4" or "tcp6" */
    size_t max_request;   /* largest request in bytes */
    size_t max_message_bytes;
    int64_t timeout_ms;       /* a request must arrive whole within this; 0 = no limit */
    unsigned max_connections; /* beyond this, new connections wait in the listen backlog */
    const char *user;         /* with password: requests must carry GMQ's auth tokens; "" = off */
    const char *password;
} gmq_config_t;

/* Starts listening on cfg's address, serving requests from store (borrowed: it must outlive the
 * listener). Strings in cfg are copied. Returns 0 with *out set, or SL_EIO (address in use, bad
 * address; logged). Logs "GMQ listening on HOST:PORT (PROTOCOL)." on success. */
int gmq_open(const gmq_config_t *cfg, store_t *store, uv_loop_t *loop, gmq_t **out);

/* Returns the port actually bound. */
int gmq_port(const gmq_t *g);

/* Stops accepting connections (graceful shutdown). Connections that have sent nothing yet are
 * answered "shutting_down"; requests in progress go on. g may be NULL. */
void gmq_drain(gmq_t *g);

/* Returns the number of requests in progress: received in part or whole and not yet answered
 * (the reply not yet in the kernel). 0 for NULL. */
size_t gmq_active(const gmq_t *g);

/* Closes every connection and the listener; g is freed once the loop has closed their handles.
 * A pop whose reply was not yet wholly written is given back to the queue; requests waiting on
 * the store are withdrawn. Must be called before the store is closed. g may be NULL. */
void gmq_close(gmq_t *g);

#endif
