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
    uint64_t workers;
    uint64_t jobs;
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
    /* [log] */
    int log_level;
    int log_format;
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

#endif
