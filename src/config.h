/*
 * config.h — sluiced's options: one table gives each its section, type, default and help, and
 * that table drives the INI file, the SLUICE_* environment, the command-line flags and --help
 * alike (docs/config.md), so the four can never disagree.
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_HOST_MAX 256
#define CONFIG_PATH_MAX 1024

typedef struct config {
    /* [server] */
    char listen_host[CONFIG_HOST_MAX];
    int listen_port;
    int port; /* -1 = not set; else overrides listen_port */
    uint64_t max_connections;
    uint64_t max_connections_per_ip;
    uint64_t max_header_bytes;
    uint64_t max_request_bytes;
    int64_t idle_timeout_ms;
    int64_t request_timeout_ms;
    int64_t max_wait_ms;
    int64_t shutdown_timeout_ms;
    /* [storage] */
    char storage[32];
    char data_dir[CONFIG_PATH_MAX];
    char fsync[16];
    int64_t fsync_interval_ms;
    uint64_t segment_bytes;
    /* [queues] */
    uint64_t max_queues;
    uint64_t max_message_bytes;
    int64_t visibility_timeout_ms;
    uint64_t max_attempts;
    int64_t dedup_window_ms;
    uint64_t max_in_flight_per_key;
    uint64_t max_messages;
    uint64_t max_bytes;
    int64_t max_age_ms;
    /* [push] */
    uint64_t workers;
    uint64_t jobs;
    int64_t push_timeout_ms;
    int64_t push_retry_min_ms;
    int64_t push_retry_max_ms;
    uint64_t push_circuit_failures;
    int64_t push_circuit_pause_ms;
    char mqgo_queue[129]; /* a queue name */
    char mqgo_delivery[8];
    char push_library[CONFIG_PATH_MAX]; /* the libcurl to load (src/webhook.c) */
    /* [gmq] */
    char gmq_host[CONFIG_HOST_MAX]; /* of gmq_listen */
    int gmq_port;                   /* -1 = gmq_listen is empty: no GMQ listener */
    char gmq_protocol[8];
    uint64_t gmq_max_request; /* 0 = derived from max_message_bytes (config_gmq_max_request) */
    int64_t gmq_timeout_ms;
    uint64_t gmq_max_connections;
    char gmq_user[256];
    char gmq_password[256];
    /* [log] */
    int log_level;
    int log_format;
    char log_file[CONFIG_PATH_MAX]; /* "" = stderr */
} config_t;

enum config_action { CONFIG_RUN, CONFIG_HELP, CONFIG_VERSION };

/* Fills c with every default. */
void config_defaults(config_t *c);

/* Applies, in order, the file named by -f/--config, the SLUICE_* environment and the flags in
 * argv. Sets *action (RUN, or HELP/VERSION when asked). Returns 0, or SL_EPARAM with a message
 * in err ("sluice.conf:3: unknown option 'foo'", "--port: must be ..."), which the caller prints
 * before exiting with status 2. */
int config_load(config_t *c, int argc, char **argv, int *action, char *err, size_t errlen);

/* Prints the usage and every option with its default and meaning. */
void config_help(FILE *out, const char *prog);

/* The port to listen on: port when set, else the port of listen. */
int config_port(const config_t *c);

/* The largest GMQ request: gmq_max_request when set, else the base64 of a max_message_bytes
 * message plus CONFIG_GMQ_ENVELOPE bytes for the rest of the request. */
#define CONFIG_GMQ_ENVELOPE 65536
uint64_t config_gmq_max_request(const config_t *c);

#endif
