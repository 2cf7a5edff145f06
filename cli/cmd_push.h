/*
 * cmd_push.h — the CLI commands of push delivery: subscribe, subscriptions, unsubscribe and
 * listen.
 *
 * Each function is a cli_run_fn (see cli.h) listed in main.c's command table, and each *_help
 * string is the body of that command's --help.
 */
#ifndef SL_CLI_CMD_PUSH_H
#define SL_CLI_CMD_PUSH_H

#include "cli.h"

/* sluice subscribe QUEUE URL [options]: POST /v1/queues/{q}/subscriptions. */
int cmd_push_subscribe(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_push_subscribe_help[];

/* sluice subscriptions [QUEUE]: GET /v1/subscriptions (or /v1/queues/{q}/subscriptions) as a
 * table. */
int cmd_push_list(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_push_list_help[];

/* sluice unsubscribe ID...: DELETE /v1/subscriptions/{id} for each. */
int cmd_push_unsubscribe(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_push_unsubscribe_help[];

/* sluice listen QUEUE [options]: an HTTP receiver (cli/listen.c) subscribed to QUEUE while it
 * runs, printing what it is pushed. */
int cmd_push_listen(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_push_listen_help[];

#endif
