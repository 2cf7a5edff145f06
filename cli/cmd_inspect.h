/*
 * cmd_inspect.h — the CLI command that checks a data directory offline: inspect.
 *
 * It is a cli_run_fn (see cli.h) listed in main.c's command table as a local command (no server,
 * no HTTP session), and cmd_inspect_help is the body of its --help.
 */
#ifndef SL_CLI_CMD_INSPECT_H
#define SL_CLI_CMD_INSPECT_H

#include "cli.h"

/* sluice inspect DATA_DIR [options]: reads the file storage's segment files directly. Exits 0
 * when clean, 1 when damage was found, 5 when a file could not be read. */
int cmd_inspect(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);
extern const char cmd_inspect_help[];

#endif
