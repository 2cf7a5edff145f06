/*
 * cmd_msg.h — the CLI commands that move messages: publish, consume, pop, ack, release, peek.
 *
 * Each function is a cli_run_fn (see cli.h) listed in main.c's command table, and each *_help
 * string is the body of that command's --help.
 */
#ifndef SL_CLI_CMD_MSG_H
#define SL_CLI_CMD_MSG_H

#include "cli.h"

/* sluice publish QUEUE [MSG|-] [options]: POST /v1/queues/{q}/messages. */
int cmd_msg_publish(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_msg_publish_help[];

/* sluice consume QUEUE [options]: GET /v1/queues/{q}/messages, then POST .../ack with --ack. */
int cmd_msg_consume(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_msg_consume_help[];

/* sluice pop QUEUE [options]: POST /v1/queues/{q}/pop, raw body to stdout unless --json. */
int cmd_msg_pop(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_msg_pop_help[];

/* sluice ack QUEUE RECEIPT...: POST /v1/queues/{q}/ack. */
int cmd_msg_ack(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_msg_ack_help[];

/* sluice release QUEUE RECEIPT... [options]: POST /v1/queues/{q}/release. */
int cmd_msg_release(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_msg_release_help[];

/* sluice peek QUEUE [options]: GET /v1/queues/{q}/peek. */
int cmd_msg_peek(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_msg_peek_help[];

#endif
