/*
 * deliver.h — push delivery: the server as the consumer of subscription groups, POSTing each
 * message to the subscription's URL.
 *
 * A subscription is a consumer group whose settings (URL, secret, timeout) ride in the group's
 * meta string, so it is created, made durable, restored and deleted with its group, and it
 * inherits leases, attempts, dead-lettering and ordering from the engine. This module finds
 * those groups, leases their messages through the storage interface like any consumer, sends
 * them with webhook.c, and acks or releases (with backoff) by the answer. It never blocks:
 * everything runs as callbacks on the loop, and publishing never waits for it.
 */
#ifndef SL_DELIVER_H
#define SL_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "engine.h"
#include "store.h"
#include "webhook.h"

#define DELIVER_SECRET_MAX 256

typedef struct deliver deliver_t;

typedef struct deliver_config {
    uint32_t workers;          /* requests in progress at once, over every subscription */
    uint32_t jobs;             /* deliveries leased ahead of the workers */
    int64_t timeout_ms;        /* a subscription's default request timeout */
    int64_t retry_min_ms;      /* backoff after the first failure; doubles per attempt */
    int64_t retry_max_ms;      /* and is capped here */
    uint32_t circuit_failures; /* failures in a row that open the circuit */
    int64_t circuit_pause_ms;  /* its first pause */
    bool mqgo_raw;             /* MQ Go receivers get the raw text instead of {"body": ...} */
    const char *mqgo_queue;    /* its queue, which has no `default` group */
    const char *user_agent;
} deliver_config_t;

/* A subscription's settings, as kept in its group's meta. */
typedef struct deliver_settings {
    char url[2100];
    char secret[DELIVER_SECRET_MAX + 1];
    int64_t timeout_ms;
    bool mqgo; /* an MQ Go receiver: its delivery form follows mqgo_delivery */
} deliver_settings_t;

/* What a subscription looks like from outside (deliver_info, deliver_each). */
typedef struct deliver_info {
    const char *id; /* the group's name */
    const char *queue;
    const deliver_settings_t *settings;
    uint32_t max_in_flight, max_attempts;
    int64_t created_at;
    const char *circuit;    /* "closed", "open" or "half_open" */
    int64_t circuit_until;  /* open: when the next probe may go; else 0 */
    uint64_t in_flight;     /* leased now: waiting, being sent, or its ack/release being stored */
    uint64_t delivered;     /* answered 2xx */
    uint64_t failed;        /* attempts that failed */
    long last_status;       /* 0 when none */
    const char *last_error; /* "" when none */
    int64_t last_attempt_at, last_success_at; /* 0 when none */
} deliver_info_t;

/* Returns a delivery engine on loop over store (borrowed, must outlive it); its HTTP client
 * (and libcurl) start with the first subscription. Free with deliver_free(). */
deliver_t *deliver_new(uv_loop_t *loop, store_t *store, const deliver_config_t *cfg);

/* Finds every subscription in the store and starts delivering; done(ctx, err) runs when they
 * are all loaded (err 0, or the store's error). */
void deliver_start(deliver_t *d, void (*done)(void *ctx, int err), void *ctx);

/* Writes the meta string of a subscription with settings s into out (room for
 * ENGINE_META_MAX + 1). */
void deliver_meta_format(const deliver_settings_t *s, char *out);

/* Reads a meta string. Returns 0, or SL_EPARAM when it is not a subscription's. */
int deliver_meta_parse(const char *meta, deliver_settings_t *s);

/* Starts delivering for group g of queue, just created with a subscription's meta. Returns 0 or
 * SL_EPARAM when its meta is not a subscription's (nothing started). */
int deliver_add(deliver_t *d, const char *queue, const engine_group_info_t *g);

/* Stops delivering for subscription id (its group is being deleted). Returns 0 or SL_ENOSUB. */
int deliver_remove(deliver_t *d, const char *id);

/* Stops delivering for every subscription of queue (it is being deleted). */
void deliver_remove_queue(deliver_t *d, const char *queue);

/* Fills *out for subscription id (strings valid until the next change to d). Returns 0 or
 * SL_ENOSUB. */
int deliver_info(deliver_t *d, const char *id, deliver_info_t *out);

/* Calls fn for every subscription, oldest first. */
void deliver_each(deliver_t *d, void (*fn)(void *ctx, const deliver_info_t *i), void *ctx);

/* Shutdown: no new delivery starts; parked leases are withdrawn. Those in progress finish. */
void deliver_drain(deliver_t *d);

/* Deliveries in progress, and acks or releases on their way to the store. */
size_t deliver_active(const deliver_t *d);

/* Frees d; NULL is accepted. Nothing may be active (see deliver_drain) unless the store is
 * freed right after without running the loop. */
void deliver_free(deliver_t *d);

#endif
