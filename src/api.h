/*
 * api.h — the HTTP API v1 (docs/api.md): routes, parameter parsing, JSON replies, on top of the
 * storage interface.
 */
#ifndef SL_API_H
#define SL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "deliver.h"
#include "http.h"
#include "mqgo.h"
#include "store.h"

typedef struct api_config {
    size_t max_header_bytes;
    size_t max_message_bytes;
    size_t max_request_bytes;
    int64_t max_wait_ms;
    deliver_t *deliver;      /* push subscriptions (borrowed) */
    mqgo_t *mqgo;            /* MQ Go's connections (borrowed) */
    const char *mqgo_queue;  /* where MQ Go's senders publish */
    int64_t push_timeout_ms; /* a new subscription's default timeout */
    uint32_t max_attempts;   /* a new subscription's default max_attempts */
} api_config_t;

typedef struct api api_t;

/* Returns a new API over store (borrowed; must outlive it). Free with api_free(). */
api_t *api_new(store_t *store, const api_config_t *cfg);

void api_free(api_t *a);

/* Fills the callbacks that http_open() needs. */
void api_handlers(api_t *a, http_handlers_t *h);

/* From now on /readyz answers 503 shutting_down. */
void api_set_draining(api_t *a);

#endif
