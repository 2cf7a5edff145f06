/*
 * cmd_queue.h — the CLI commands that show queues: queues and stats.
 *
 * Each function is a cli_run_fn (see cli.h) listed in main.c's command table, and each *_help
 * string is the body of that command's --help.
 */
#ifndef SL_CLI_CMD_QUEUE_H
#define SL_CLI_CMD_QUEUE_H

#include "cli.h"

/* sluice queues: GET /v1/queues as a table. */
int cmd_queue_list(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_queue_list_help[];

/* sluice stats [QUEUE]: GET /v1/queues with totals, or GET /v1/queues/{q} in detail. */
int cmd_queue_stats(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_queue_stats_help[];

#endif
