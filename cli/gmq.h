/*
 * gmq.h — the CLI's GMQ client mode: `sluice -s HOST:PORT -q QUEUE -a P|S|L [-m BASE64] [-o FILE]
 * [-p tcp|tcp4|tcp6] [-user U -password P] [-l FILE]` speaks GMQ's TCP protocol, as GMQ's own
 * client did (docs/cli.md, "GMQ client mode").
 */
#ifndef SL_CLI_GMQ_H
#define SL_CLI_GMQ_H

#include <stdbool.h>

/* Returns whether argv (argv[0] the program) is a GMQ client command line: one of GMQ's own
 * flags (-a, -q, -m, -o, -p, -l, -user, -password, with one or two dashes, "-a=P" too) among the
 * global options, before any command. -s alone is sluice's --server and does not count. */
bool gmq_cli_wanted(int argc, char **argv);

/* Runs the GMQ client on argv: sends one request, writes the server's reply verbatim to stdout
 * (or -o FILE) and returns the exit status (enum cli_exit): 0 when the reply confirms ("Y"), 3
 * when it does not ("N", or no GMQ reply), 4 when the server cannot be reached, 2 for a usage
 * error, 5 when the output cannot be written. */
int gmq_cli_run(int argc, char **argv);

#endif
