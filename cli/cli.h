/*
 * cli.h — what every command of the sluice CLI shares: the exit statuses, the command table
 * entry, and helpers for options, diagnostics and output.
 *
 * A command is one entry of the table in main.c: a name, a run function and its help. main.c
 * parses the global options, opens the HTTP session (unless the command is local) and calls run()
 * with the command's own arguments (argv[0] is the command name). Adding a command is one table row
 * and one function; nothing else changes.
 *
 * Output policy: data goes to stdout, everything else (errors, warnings, hints) to stderr with a
 * "sluice: " prefix. The CLI does not use the log module for this: its lines are for people at a
 * terminal, not timestamped server logs.
 */
#ifndef SL_CLI_CLI_H
#define SL_CLI_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "common.h"

#define CLI_VERSION "0.1.0"

/* The exit statuses of sluice; docs/cli.md and `sluice --help` list them. */
enum cli_exit {
    CLI_EXIT_OK = 0,          /* success */
    CLI_EXIT_EMPTY = 1,       /* pop or consume received nothing within the wait */
    CLI_EXIT_DAMAGE = 1,      /* inspect found damage in a data directory */
    CLI_EXIT_USAGE = 2,       /* bad options or arguments */
    CLI_EXIT_SERVER = 3,      /* the server answered with an error (or an unusable reply) */
    CLI_EXIT_UNREACHABLE = 4, /* no reply: connection refused, DNS failure, timeout */
    CLI_EXIT_LOCAL = 5,       /* standard input, or a file inspect reads, could not be read,
                                 standard output could not be written, or listen could not bind */
};

/* What a command runs with. */
typedef struct cli {
    client_t *client; /* the HTTP session; borrowed, main.c closes it; NULL for a local command */
    bool json;        /* --json: print JSON (the server's replies verbatim) instead of tables */
} cli_t;

typedef struct cli_cmd cli_cmd_t;

/* Runs one command. argv[0] is the command's name and argv[1..argc-1] its arguments; getopt's
 * state has been reset, so the command parses them with cli_next_opt(). Returns the process
 * exit status (enum cli_exit), having printed any error. */
typedef int (*cli_run_fn)(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv);

struct cli_cmd {
    const char *name;    /* "publish" */
    cli_run_fn run;      /* the command */
    const char *args;    /* synopsis after the name: "QUEUE [MSG|-] [options]" */
    const char *summary; /* one line for `sluice --help` */
    const char *help;    /* the body of `sluice NAME --help`: what it does, options, output */
    bool local;          /* talks to no server: main.c opens no HTTP session (client is NULL) */
};

/* Every command accepts --help (-h) and --json; its getopt strings start with these. The short
 * string begins with ':' so that getopt reports a missing value as ':' and prints nothing, which
 * lets cli_next_opt() print the CLI's own message. */
#define CLI_OPT_JSON 1000
#define CLI_SHORT_COMMON ":h"
#define CLI_LONG_COMMON                         \
    {"help", no_argument, NULL, 'h'},           \
    {                                           \
        "json", no_argument, NULL, CLI_OPT_JSON \
    }

/* Returned by cli_next_opt() when the command must stop and exit with *status. */
#define CLI_OPT_STOP (-2)

/* Returns the command's next option like getopt_long(), or -1 after the last one, or
 * CLI_OPT_STOP with *status set when the command must return *status now: after printing the
 * help for --help (0), or after an unknown option or a missing value (usage error, reported).
 * --json is handled here by setting cli->json. Options may follow positional arguments; "--"
 * ends them (so a message may start with '-'). */
int cli_next_opt(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *longopts, int *status);

/* Prints "sluice: " and the formatted message, with a newline, on stderr. */
void cli_error(const char *fmt, ...) SL_PRINTF(1, 2);

/* Prints a usage error for cmd (or for sluice itself when cmd is NULL): the message, the usage
 * line and where to find help. Returns CLI_EXIT_USAGE, so a command can `return cli_usage(...)`.
 */
int cli_usage(const cli_cmd_t *cmd, const char *fmt, ...) SL_PRINTF(2, 3);

/* Prints the full help of cmd on stdout. Returns CLI_EXIT_OK. */
int cli_help(const cli_cmd_t *cmd);

/* Returns the exit status for err, the result of the last client_send(): CLI_EXIT_OK for 0,
 * CLI_EXIT_UNREACHABLE when no reply arrived, CLI_EXIT_SERVER otherwise. */
int cli_exit_status(const cli_t *cli, int err);

/* Parses the decimal integer s into *out. Returns 0, or SL_EPARAM when s is not an integer from
 * lo to hi. */
int cli_parse_int(const char *s, long long lo, long long hi, long long *out);

/* Checks that s is a duration in the API's grammar ("500ms", "30s", "5", see src/dur.h) and
 * stores it in *ms. Returns 0 or SL_EPARAM. */
int cli_parse_dur(const char *s, int64_t *ms);

/* Reports a successful reply that lacks what the API promises (what: "\"messages\" array") and
 * returns CLI_EXIT_SERVER. */
int cli_bad_reply(const cli_t *cli, const char *what);

/* Writes the reply body to stdout verbatim (what --json prints), with a newline added when the
 * server did not end it with one. */
void cli_print_reply(const client_reply_t *rep);

/* Returns a JSON scalar as text for a table cell: a string's own value, or numbers, true and
 * false formatted into buf (size bytes); NULL for null, a missing value (v NULL), an object or an
 * array. The result is borrowed from v or buf. */
const char *cli_json_text(const json_t *v, char *buf, size_t size);

#endif
