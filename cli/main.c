/*
 * main.c — the sluice command-line client: global options, the command table, dispatch.
 *
 * `sluice [global options] COMMAND [arguments]`. The global options come before the command and
 * are parsed here with getopt_long in "+" mode, which stops at the first non-option (the
 * command); the command then parses its own arguments (cli_next_opt() in cli.h). Every command
 * is one row of main_commands: adding one (subscribe, listen, inspect...) is a row and a
 * function, and `sluice --help` lists it automatically.
 *
 * The GMQ client's flags (-s host:port -q queue -a P|S|L -m base64), for which SPEC §4 wants the
 * GMQ protocol spoken, are global options with no command: main_parse_globals() recognises them
 * (gmq_cli_wanted: -a, -q or another flag only GMQ has, before any command; -s alone stays our
 * --server) and hands the whole command line to cli/gmq.c before any command is looked up.
 *
 * Exit statuses are enum cli_exit (cli.h): 0 success, 1 nothing received (or damage found by
 * inspect), 2 usage, 3 server error, 4 server unreachable, 5 local I/O error (or listen's port). A
 * failed write to stdout (a full disk) is caught at the end, since stdio may hold the output until
 * then.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "cmd_inspect.h"
#include "cmd_msg.h"
#include "cmd_push.h"
#include "cmd_queue.h"
#include "gmq.h"

#define MAIN_DEFAULT_SERVER "http://127.0.0.1:8080"

static const cli_cmd_t main_commands[] = {
    {"publish", cmd_msg_publish, "QUEUE [MSG|-] [options]",
     "publish one message (MSG, or standard input)", cmd_msg_publish_help},
    {"consume", cmd_msg_consume, "QUEUE [options]", "lease messages and show them (--ack to ack)",
     cmd_msg_consume_help},
    {"pop", cmd_msg_pop, "QUEUE [options]", "receive and delete one message; body to stdout",
     cmd_msg_pop_help},
    {"ack", cmd_msg_ack, "QUEUE RECEIPT...", "acknowledge leased messages", cmd_msg_ack_help},
    {"release", cmd_msg_release, "QUEUE RECEIPT... [options]",
     "give leased messages back, optionally after a delay", cmd_msg_release_help},
    {"peek", cmd_msg_peek, "QUEUE [options]", "list messages without leasing them",
     cmd_msg_peek_help},
    {"queues", cmd_queue_list, "", "list queues with their counters", cmd_queue_list_help},
    {"stats", cmd_queue_stats, "[QUEUE]", "all queues with totals, or one in detail",
     cmd_queue_stats_help},
    {"subscribe", cmd_push_subscribe, "QUEUE URL [options]",
     "push QUEUE's messages to URL (webhook subscription)", cmd_push_subscribe_help},
    {"subscriptions", cmd_push_list, "[QUEUE]", "list push subscriptions with their counters",
     cmd_push_list_help},
    {"unsubscribe", cmd_push_unsubscribe, "ID...", "delete push subscriptions",
     cmd_push_unsubscribe_help},
    {"listen", cmd_push_listen, "QUEUE [options]",
     "receive QUEUE's messages by push and print them", cmd_push_listen_help},
    {"inspect", cmd_inspect, "DATA_DIR [options]", "check a file-storage data directory offline",
     cmd_inspect_help, .local = true},
};

enum { MAIN_OPT_VERSION = 300 };

static const struct option main_opts[] = {
    {"server", required_argument, NULL, 's'},
    {"json", no_argument, NULL, CLI_OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, MAIN_OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void main_usage(FILE *f)
{
    fputs("Usage: sluice [global options] COMMAND [arguments]\n"
          "\n"
          "The command-line client of the Sluice message-queue server (HTTP API v1).\n"
          "\n"
          "Global options (before the command):\n"
          "  -s, --server URL   the server: http://HOST:PORT, https://HOST:PORT or HOST:PORT\n"
          "                     (default: $SLUICE_SERVER, else " MAIN_DEFAULT_SERVER ")\n"
          "      --json         print JSON (the server's replies verbatim) instead of tables\n"
          "  -h, --help         show this help; 'sluice COMMAND --help' shows a command's\n"
          "      --version      show the version\n"
          "\n"
          "GMQ client mode (GMQ's TCP protocol; 'sluice -a P -h' for its flags):\n"
          "  sluice -a P|S|L -q QUEUE [-m BASE64] [-s HOST:PORT] [-user U -password P]\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < SL_ARRAY_LEN(main_commands); i++) {
        char synopsis[64];
        snprintf(synopsis, sizeof synopsis, "%s %s", main_commands[i].name, main_commands[i].args);
        fprintf(f, "  %-34s %s\n", synopsis, main_commands[i].summary);
    }
    fputs("\n"
          "Exit status:\n"
          "  0  success\n"
          "  1  nothing to receive: pop or consume found no message within the wait;\n"
          "     inspect found damage\n"
          "  2  usage error: unknown option, missing or malformed argument\n"
          "  3  the server answered with an error, shown as 'sluice: CODE: MESSAGE'\n"
          "  4  the server could not be reached: connection refused, DNS failure, timeout\n"
          "  5  standard input could not be read or standard output could not be written;\n"
          "     inspect could not read a file; listen could not bind its port\n",
          f);
}

static const cli_cmd_t *main_find(const char *name)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(main_commands); i++)
        if (strcmp(main_commands[i].name, name) == 0)
            return &main_commands[i];
    return NULL;
}

/* `sluice help [COMMAND]`. */
static int main_help(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stdout);
        return CLI_EXIT_OK;
    }
    const cli_cmd_t *cmd = main_find(argv[1]);
    if (cmd == NULL)
        return cli_usage(NULL, "help: unknown command '%s'.", argv[1]);
    return cli_help(cmd);
}

/* Parses the global options into cli and *server. Returns -1 to go on with the command at
 * argv[optind], or the exit status to end with now (help, version, usage error). */
static int main_parse_globals(int argc, char **argv, cli_t *cli, const char **server)
{
    int c;

    if (gmq_cli_wanted(argc, argv))
        return gmq_cli_run(argc, argv);
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:s:h", main_opts, NULL)) != -1) {
        switch (c) {
        case 's':
            *server = optarg;
            break;
        case CLI_OPT_JSON:
            cli->json = true;
            break;
        case 'h':
            main_usage(stdout);
            return CLI_EXIT_OK;
        case MAIN_OPT_VERSION:
            printf("sluice %s\n%s, jansson %s\n", CLI_VERSION, curl_version(), JANSSON_VERSION);
            return CLI_EXIT_OK;
        case ':':
            return cli_usage(NULL, "option '%s' needs a value.", argv[optind - 1]);
        default:
            if (optopt != 0)
                return cli_usage(NULL, "unknown option '-%c'.", optopt);
            return cli_usage(NULL, "unknown option '%s'.", argv[optind - 1]);
        }
    }
    return -1;
}

/* Flushes stdout and returns status, or CLI_EXIT_LOCAL when the output could not be written and
 * status did not already report a failure. */
static int main_flush(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write standard output: %s.", strerror(errno));
        if (status == CLI_EXIT_OK || status == CLI_EXIT_EMPTY)
            status = CLI_EXIT_LOCAL;
    }
    return status;
}

int main(int argc, char **argv)
{
    cli_t cli = {.client = NULL, .json = false};
    const char *server = NULL;
    const cli_cmd_t *cmd;
    int status;

    status = main_parse_globals(argc, argv, &cli, &server);
    if (status >= 0)
        return status;
    if (optind >= argc) {
        cli_error("no command given.");
        main_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    int first = optind;
    if (strcmp(argv[first], "help") == 0)
        return main_help(argc - first, argv + first);
    cmd = main_find(argv[first]);
    if (cmd == NULL)
        return cli_usage(NULL, "unknown command '%s'.", argv[first]);

    if (cmd->local) { /* inspect: no server, no libcurl */
        optind = 0;
        status = cmd->run(&cli, cmd, argc - first, argv + first);
        return main_flush(status);
    }

    bool from_env = false;
    if (server == NULL) {
        server = getenv("SLUICE_SERVER");
        from_env = server != NULL && *server != '\0';
        if (!from_env)
            server = MAIN_DEFAULT_SERVER;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cli_error("libcurl could not be initialised.");
        return CLI_EXIT_LOCAL;
    }
    char ua[64];
    snprintf(ua, sizeof ua, "sluice/%s", CLI_VERSION);
    if (client_open(&cli.client, server, ua) < 0) {
        status = cli_usage(NULL,
                           "%s'%s' is not a server address (expected http://HOST:PORT or "
                           "HOST:PORT).",
                           from_env ? "SLUICE_SERVER: " : "", server);
        curl_global_cleanup();
        return status;
    }

    /* optind = 0 makes GNU getopt start afresh on the command's own argument vector. */
    optind = 0;
    status = cmd->run(&cli, cmd, argc - first, argv + first);

    client_close(cli.client);
    curl_global_cleanup();
    return main_flush(status);
}
