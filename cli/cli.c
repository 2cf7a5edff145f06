/*
 * cli.c — helpers shared by the commands of the sluice CLI: option parsing around getopt_long,
 * diagnostics in one format, and turning results into exit statuses.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dur.h"

void cli_error(const char *fmt, ...)
{
    va_list ap;
    fputs("sluice: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage(const cli_cmd_t *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("sluice: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd != NULL)
        fprintf(stderr, "Usage: sluice %s%s%s\nTry 'sluice %s --help' for more.\n", cmd->name,
                *cmd->args ? " " : "", cmd->args, cmd->name);
    else
        fputs("Try 'sluice --help' for more.\n", stderr);
    return CLI_EXIT_USAGE;
}

int cli_help(const cli_cmd_t *cmd)
{
    printf("Usage: sluice [global options] %s%s%s\n\n%s", cmd->name, *cmd->args ? " " : "",
           cmd->args, cmd->help);
    printf("\nGlobal options and exit statuses: sluice --help\n");
    return CLI_EXIT_OK;
}

int cli_next_opt(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *longopts, int *status)
{
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, longopts, NULL);
        switch (c) {
        case CLI_OPT_JSON:
            cli->json = true;
            continue;
        case 'h':
            *status = cli_help(cmd);
            return CLI_OPT_STOP;
        case '?': {
            /* optopt is the unknown short option, or 0 for an unknown long one, which is then
             * the argument just consumed. */
            const char *arg = argv[optind - 1];
            if (optopt == 's' || strncmp(arg, "--server", 8) == 0)
                *status = cli_usage(cmd,
                                    "%s: -s/--server is a global option; put it before the "
                                    "command (sluice -s URL %s ...).",
                                    cmd->name, cmd->name);
            else if (optopt != 0)
                *status = cli_usage(cmd, "%s: unknown option '-%c'.", cmd->name, optopt);
            else
                *status = cli_usage(cmd, "%s: unknown option '%s'.", cmd->name, arg);
            return CLI_OPT_STOP;
        }
        case ':':
            *status = cli_usage(cmd, "%s: option '%s' needs a value.", cmd->name, argv[optind - 1]);
            return CLI_OPT_STOP;
        default:
            return c;
        }
    }
}

int cli_exit_status(const cli_t *cli, int err)
{
    if (err == 0)
        return CLI_EXIT_OK;
    return client_unreachable(cli->client) ? CLI_EXIT_UNREACHABLE : CLI_EXIT_SERVER;
}

int cli_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;

    if (*s < '0' || *s > '9') {
        if (*s != '-' || s[1] < '0' || s[1] > '9')
            return SL_EPARAM;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return SL_EPARAM;
    *out = v;
    return 0;
}

int cli_parse_dur(const char *s, int64_t *ms)
{
    return dur_parse(s, strlen(s), ms);
}

int cli_bad_reply(const cli_t *cli, const char *what)
{
    cli_error("the reply from %s has no %s; is it a Sluice server of this version?",
              client_server(cli->client), what);
    return CLI_EXIT_SERVER;
}

void cli_print_reply(const client_reply_t *rep)
{
    fwrite(buf_str(&rep->body), 1, rep->body.len, stdout);
    if (rep->body.len == 0 || rep->body.data[rep->body.len - 1] != '\n')
        fputc('\n', stdout);
}

const char *cli_json_text(const json_t *v, char *buf, size_t size)
{
    if (v == NULL)
        return NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL:
        snprintf(buf, size, "%g", json_real_value(v));
        return buf;
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return NULL;
    }
}
