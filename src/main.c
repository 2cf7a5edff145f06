/*
 * main.c — sluiced: reads the configuration, opens the storage, serves the HTTP API (and GMQ's
 * TCP protocol when gmq_listen is set) and runs push delivery on the libuv loop, and shuts down
 * gracefully on SIGTERM or SIGINT.
 *
 * Shutdown, in order: /readyz turns 503 and new connections are refused (HTTP and GMQ); parked
 * long-polls are answered (empty) and push delivery starts nothing new; requests and deliveries
 * in progress get up to shutdown_timeout to finish;
 * then the HTTP server, the GMQ listener and the storage close and the process exits 0. A second
 * signal skips the wait.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api.h"
#include "config.h"
#include "deliver.h"
#include "dur.h"
#include "err.h"
#include "gmq.h"
#include "http.h"
#include "log.h"
#include "mqgo.h"
#include "store.h"
#include "webhook.h"

#define SLUICE_VERSION "0.1.0"

typedef struct server {
    config_t cfg;
    uv_loop_t *loop;
    store_t *store;
    api_t *api;
    http_server_t *http;
    gmq_t *gmq; /* NULL when gmq_listen is empty */
    deliver_t *deliver;
    mqgo_t *mqgo;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    int64_t drain_deadline;
    bool draining, closed;
} server_t;

static void server_close(server_t *s)
{
    if (s->closed)
        return;
    s->closed = true;
    uv_timer_stop(&s->drain_timer);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    /* Closing the last watcher gives the signal back its default action, which kills: one more
     * signal now would kill the process in the middle of closing the storage. There is nothing
     * left for it to skip, so it is ignored. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    http_close(s->http);
    deliver_free(s->deliver); /* aborts deliveries still in progress: they are redelivered */
    s->deliver = NULL;
    gmq_close(s->gmq); /* before the store: it gives back pops whose reply did not get out */
    store_close(s->store);
    log_msg(LOG_INFO, "Stopped.");
}

static void on_drain_tick(uv_timer_t *t)
{
    server_t *s = t->data;
    size_t active = http_active(s->http) + gmq_active(s->gmq) + deliver_active(s->deliver);
    if (active == 0)
        server_close(s);
    else if (dur_now_ms() >= s->drain_deadline) {
        log_msg(LOG_WARN, "Shutdown timeout: closing %zu request(s) still in progress.", active);
        server_close(s);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    server_t *s = h->data;
    if (s->draining) {
        log_msg(LOG_WARN, "Second signal: stopping now.");
        server_close(s);
        return;
    }
    s->draining = true;
    log_msg(LOG_INFO, "Received %s: shutting down (up to %lld ms for requests in progress).",
            signum == SIGTERM ? "SIGTERM" : "SIGINT", (long long)s->cfg.shutdown_timeout_ms);
    api_set_draining(s->api);
    deliver_drain(s->deliver); /* before the store answers its parked leases */
    http_drain(s->http);
    gmq_drain(s->gmq);
    store_drain(s->store);
    s->drain_deadline = dur_now_ms() + s->cfg.shutdown_timeout_ms;
    uv_timer_start(&s->drain_timer, on_drain_tick, 0, 20);
}

/* Undoes a start that failed after the storage opened; returns the exit status. */
static int server_fail(server_t *s)
{
    http_close(s->http);
    deliver_free(s->deliver);
    store_close(s->store);
    uv_run(s->loop, UV_RUN_DEFAULT);
    api_free(s->api);
    mqgo_free(s->mqgo);
    return 1;
}

/* Subscriptions are loaded: MQ Go's ids must go on after those of its receivers. */
static void note_mqgo_id(void *ctx, const deliver_info_t *i)
{
    uint64_t id;
    if (mqgo_receiver_id(i->id, &id))
        mqgo_note_id(ctx, id);
}

static void on_subs_loaded(void *ctx, int err)
{
    server_t *s = ctx;
    if (err == 0)
        deliver_each(s->deliver, note_mqgo_id, s->mqgo);
}

static int server_run(server_t *s)
{
    config_t *c = &s->cfg;
    store_config_t sc = {
        .name = c->storage,
        .data_dir = c->data_dir,
        .fsync = c->fsync,
        .fsync_interval_ms = c->fsync_interval_ms,
        .segment_bytes = c->segment_bytes,
        .engine = {.defaults = {.visibility_ms = c->visibility_timeout_ms,
                                .max_attempts = (uint32_t)c->max_attempts,
                                .max_in_flight_per_key = (uint32_t)c->max_in_flight_per_key,
                                .max_messages = c->max_messages,
                                .max_bytes = c->max_bytes,
                                .max_age_ms = c->max_age_ms,
                                .dedup_ms = c->dedup_window_ms},
                   .max_queues = (uint32_t)c->max_queues,
                   .fanout_queue = c->mqgo_queue},
    };
    if (!engine_name_valid(c->mqgo_queue, strlen(c->mqgo_queue))) {
        log_msg(LOG_ERROR, "mqgo_queue: '%s' is not a valid queue name.", c->mqgo_queue);
        return 2;
    }
    int err = store_open(&sc, s->loop, &s->store);
    if (err)
        return err == SL_EPARAM || err == SL_ENOTYET ? 2 : 1;
    deliver_config_t dc = {.workers = (uint32_t)c->workers,
                           .jobs = (uint32_t)c->jobs,
                           .timeout_ms = c->push_timeout_ms,
                           .retry_min_ms = c->push_retry_min_ms,
                           .retry_max_ms = c->push_retry_max_ms,
                           .circuit_failures = (uint32_t)c->push_circuit_failures,
                           .circuit_pause_ms = c->push_circuit_pause_ms,
                           .mqgo_raw = !strcmp(c->mqgo_delivery, "raw"),
                           .mqgo_queue = c->mqgo_queue,
                           .user_agent = "Sluice/" SLUICE_VERSION};
    webhook_library(c->push_library);
    s->deliver = deliver_new(s->loop, s->store, &dc);
    s->mqgo = mqgo_new();
    deliver_start(s->deliver, on_subs_loaded, s);

    api_config_t ac = {.max_header_bytes = c->max_header_bytes,
                       .max_message_bytes = c->max_message_bytes,
                       .max_request_bytes = c->max_request_bytes,
                       .max_wait_ms = c->max_wait_ms,
                       .deliver = s->deliver,
                       .mqgo = s->mqgo,
                       .mqgo_queue = c->mqgo_queue,
                       .push_timeout_ms = c->push_timeout_ms,
                       .max_attempts = (uint32_t)c->max_attempts};
    s->api = api_new(s->store, &ac);
    http_handlers_t h;
    api_handlers(s->api, &h);
    http_config_t hc = {.host = c->listen_host,
                        .port = config_port(c),
                        .max_connections = (unsigned)c->max_connections,
                        .max_connections_per_ip = (unsigned)c->max_connections_per_ip,
                        .max_header_bytes = c->max_header_bytes,
                        .max_request_bytes = c->max_request_bytes,
                        .idle_timeout_s = (unsigned)((c->idle_timeout_ms + 999) / 1000),
                        .request_timeout_ms = c->request_timeout_ms};
    if (http_open(&hc, &h, s->loop, &s->http))
        return server_fail(s);
    if (c->gmq_port >= 0) {
        gmq_config_t gc = {.host = c->gmq_host,
                           .port = c->gmq_port,
                           .protocol = c->gmq_protocol,
                           .max_request = config_gmq_max_request(c),
                           .max_message_bytes = c->max_message_bytes,
                           .timeout_ms = c->gmq_timeout_ms,
                           .max_connections = (unsigned)c->gmq_max_connections,
                           .user = c->gmq_user,
                           .password = c->gmq_password};
        if (gmq_open(&gc, s->store, s->loop, &s->gmq))
            return server_fail(s);
    }
    /* Signals are handled before the line that tells a supervisor (or a test) we are up. */
    uv_signal_init(s->loop, &s->sigterm);
    uv_signal_init(s->loop, &s->sigint);
    uv_timer_init(s->loop, &s->drain_timer);
    s->sigterm.data = s->sigint.data = s->drain_timer.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    bool v6 = strchr(c->listen_host, ':') != NULL;
    log_msg(LOG_INFO, "Listening on http://%s%s%s:%d (storage: %s).", v6 ? "[" : "", c->listen_host,
            v6 ? "]" : "", http_port(s->http), c->storage);

    uv_run(s->loop, UV_RUN_DEFAULT);
    api_free(s->api);
    mqgo_free(s->mqgo);
    return 0;
}

int main(int argc, char **argv)
{
    static server_t s;
    char err[1200];
    int action;

    config_defaults(&s.cfg);
    if (config_load(&s.cfg, argc, argv, &action, err, sizeof err)) {
        fprintf(stderr, "sluiced: %s\n", err);
        return 2;
    }
    if (action == CONFIG_HELP) {
        config_help(stdout, "sluiced");
        return 0;
    }
    if (action == CONFIG_VERSION) {
        printf("sluiced %s\n", SLUICE_VERSION);
        return 0;
    }
    log_setup(s.cfg.log_level, s.cfg.log_format);
    /* Like GMQ, a log file that cannot be opened leaves logging on the terminal, with a warning:
     * GMQ's own example configuration names a relative path that rarely exists. */
    if (s.cfg.log_file[0] && log_open_file(s.cfg.log_file))
        log_errno(LOG_WARN, "Cannot open the log file '%s'; logging to stderr instead",
                  s.cfg.log_file);
    signal(SIGPIPE, SIG_IGN);
    s.loop = uv_default_loop();
    int rc = server_run(&s);
    uv_loop_close(s.loop);
    return rc;
}
