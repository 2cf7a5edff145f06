/*
 * cmd_queue.c — the commands that show queues: queues (one row per queue) and stats (the same
 * with totals, or one queue's counters, settings and consumer groups).
 *
 * Tables show the counters people watch (depth, in flight, delayed, throughput); --json gives
 * every field. The detail view of one queue prints the reply's scalar fields and settings in the
 * order the server sent them rather than from a fixed list, so a counter added to the API shows
 * up here without a CLI change.
 */
#include "cmd_queue.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "mem.h"
#include "table.h"

/* The columns of the queue table: header and summary field. */
static const struct {
    const char *header;
    const char *field;
} cmd_queue_columns[] = {
    {"NAME", "name"},       {"MESSAGES", "messages"}, {"IN_FLIGHT", "in_flight"},
    {"DELAYED", "delayed"}, {"GROUPS", "groups"},     {"PUBLISHED", "published"},
    {"ACKED", "acked"},
};

/* The columns of the consumer-group table of one queue. */
static const struct {
    const char *header;
    const char *field;
} cmd_queue_group_columns[] = {
    {"GROUP", "name"},          {"LAG", "lag"},     {"IN_FLIGHT", "in_flight"}, {"READY", "ready"},
    {"DELIVERED", "delivered"}, {"ACKED", "acked"}, {"DEAD", "dead_lettered"},
};

/* Fetches GET /v1/queues into *rep (caller cleans it up) and prints it: verbatim with --json,
 * else as a table, followed by a "(total)" row when totals is true (a name no queue can have).
 * Returns the exit status. */
static int cmd_queue_print_all(cli_t *cli, bool totals, client_reply_t *rep)
{
    const size_t ncols = SL_ARRAY_LEN(cmd_queue_columns);
    long long sum[SL_ARRAY_LEN(cmd_queue_columns)] = {0};
    client_req_t req;
    int err;

    client_req_init(&req, cli->client, "GET", "v1", "queues", NULL);
    err = client_send(cli->client, &req, rep);
    client_req_cleanup(&req);
    if (err < 0)
        return cli_exit_status(cli, err);
    const json_t *queues = json_object_get(rep->json, "queues");
    if (!json_is_array(queues))
        return cli_bad_reply(cli, "\"queues\" array");
    if (cli->json) {
        cli_print_reply(rep);
        return CLI_EXIT_OK;
    }

    table_t *t = table_new(ncols, true);
    size_t i;
    json_t *q;
    char num[32];
    for (size_t c = 0; c < ncols; c++)
        table_add(t, cmd_queue_columns[c].header);
    json_array_foreach(queues, i, q)
    {
        for (size_t c = 0; c < ncols; c++) {
            const json_t *v = json_object_get(q, cmd_queue_columns[c].field);
            table_add(t, cli_json_text(v, num, sizeof num));
            if (json_is_integer(v))
                sum[c] += json_integer_value(v);
        }
    }
    if (totals) {
        table_add(t, "(total)");
        for (size_t c = 1; c < ncols; c++) {
            snprintf(num, sizeof num, "%lld", sum[c]);
            table_add(t, num);
        }
    }
    table_print(t, stdout);
    table_free(t);
    return CLI_EXIT_OK;
}

const char cmd_queue_list_help[] =
    "Lists the queues with their counters: retained messages, messages in flight (leased),\n"
    "delayed messages, consumer groups, and messages published and acknowledged since the queue\n"
    "was created.\n"
    "\n"
    "Options:\n"
    "  --json                 print the server's JSON reply\n";

static const struct option cmd_queue_list_opts[] = {
    CLI_LONG_COMMON,
    {NULL, 0, NULL, 0},
};

int cmd_queue_list(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    client_reply_t rep;
    int c, status = CLI_EXIT_OK;

    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON, cmd_queue_list_opts,
                             &status)) != -1)
        if (c == CLI_OPT_STOP)
            return status;
    if (argc - optind != 0)
        return cli_usage(cmd, "queues: unexpected argument '%s'.", argv[optind]);
    memset(&rep, 0, sizeof rep);
    status = cmd_queue_print_all(cli, false, &rep);
    client_reply_cleanup(&rep);
    return status;
}

/* Adds a "name  value" row for every scalar field of o, in the reply's order, with prefix
 * before the name. */
static void cmd_queue_add_scalars(table_t *t, const json_t *o, const char *prefix)
{
    const char *name;
    json_t *v;
    char num[32];
    buf_t label;

    buf_init(&label);
    json_object_foreach((json_t *)o, name, v)
    {
        if (json_is_object(v) || json_is_array(v))
            continue;
        buf_cleanup(&label);
        buf_adds(&label, prefix);
        buf_adds(&label, name);
        table_add(t, buf_str(&label));
        table_add(t, cli_json_text(v, num, sizeof num));
    }
    buf_cleanup(&label);
}

/* Prints GET /v1/queues/{queue}: its scalar fields, its settings and its groups. Returns the
 * exit status. */
static int cmd_queue_print_one(cli_t *cli, const char *queue, client_reply_t *rep)
{
    client_req_t req;
    int err;

    client_req_init(&req, cli->client, "GET", "v1", "queues", queue, NULL);
    err = client_send(cli->client, &req, rep);
    client_req_cleanup(&req);
    if (err < 0)
        return cli_exit_status(cli, err);
    if (!json_is_object(rep->json))
        return cli_bad_reply(cli, "queue object");
    if (cli->json) {
        cli_print_reply(rep);
        return CLI_EXIT_OK;
    }

    const json_t *settings = json_object_get(rep->json, "settings");
    const json_t *groups = json_object_get(rep->json, "groups");
    table_t *t = table_new(2, false);
    cmd_queue_add_scalars(t, rep->json, "");
    if (json_is_object(settings)) {
        table_add(t, "settings");
        table_add(t, "");
        cmd_queue_add_scalars(t, settings, "  ");
    }
    table_print(t, stdout);
    table_free(t);

    if (json_is_array(groups)) {
        const size_t ncols = SL_ARRAY_LEN(cmd_queue_group_columns);
        size_t i;
        json_t *g;
        char num[32];

        t = table_new(ncols, true);
        for (size_t c = 0; c < ncols; c++)
            table_add(t, cmd_queue_group_columns[c].header);
        json_array_foreach(groups, i, g)
        {
            for (size_t c = 0; c < ncols; c++)
                table_add(t, cli_json_text(json_object_get(g, cmd_queue_group_columns[c].field),
                                           num, sizeof num));
        }
        putchar('\n');
        table_print(t, stdout);
        table_free(t);
    }
    return CLI_EXIT_OK;
}

const char cmd_queue_stats_help[] =
    "Without QUEUE, the queue table of 'sluice queues' with a (total) row. With QUEUE, that\n"
    "queue's counters (messages, bytes, delayed, in flight, published, acked, expired,\n"
    "dropped, dead-lettered), its settings, and a table of its consumer groups (lag, in\n"
    "flight, ready, delivered, acked).\n"
    "\n"
    "Options:\n"
    "  --json                 print the server's JSON reply\n";

int cmd_queue_stats(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    client_reply_t rep;
    int c, status = CLI_EXIT_OK;

    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON, cmd_queue_list_opts,
                             &status)) != -1)
        if (c == CLI_OPT_STOP)
            return status;
    if (argc - optind > 1)
        return cli_usage(cmd, "stats: too many arguments.");
    memset(&rep, 0, sizeof rep);
    if (argc - optind == 1)
        status = cmd_queue_print_one(cli, argv[optind], &rep);
    else
        status = cmd_queue_print_all(cli, true, &rep);
    client_reply_cleanup(&rep);
    return status;
}
