/*
 * cmd_push.c — the commands of push delivery: subscribe, subscriptions, unsubscribe (one API
 * request each) and listen (a receiver subscribed to a queue for as long as it runs).
 *
 * As in cmd_msg.c, the client checks only the shape of its command line (numbers, durations,
 * the --from keyword); the URL, the secret and the limits are the server's to judge, and its
 * error is shown as sent (exit 3).
 *
 * listen, step by step: block SIGINT, SIGTERM and SIGHUP and take them through a signalfd (so
 * the receiver's poll loop notices one at once, and no signal can cut a request to the server
 * short); bind the port (before subscribing, so the first delivery finds it); subscribe, which
 * returns the secret the receiver checks signatures with; serve until --count deliveries are
 * answered or a signal arrives; stop the receiver; unblock the signals (a second Ctrl-C now
 * ends the process at once) and delete the subscription. The receiver accepts nothing before
 * it runs, so no delivery can be checked before the secret is known: the connection waits in
 * the socket's backlog meanwhile.
 */
#include "cmd_push.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "buf.h"
#include "listen.h"
#include "mem.h"
#include "table.h"

/* Characters of a subscription's last error shown in the table. */
#define CMD_PUSH_ERROR_PREVIEW 60

/* Values of the long options that have no short form. */
enum {
    OPT_SECRET = 256,
    OPT_MAX_IN_FLIGHT,
    OPT_MAX_ATTEMPTS,
    OPT_TIMEOUT,
    OPT_FROM,
    OPT_HOST,
    OPT_STATUS,
    OPT_NO_SUBSCRIBE,
};

/* The columns of the subscription table: header and field. */
static const struct {
    const char *header;
    const char *field;
} cmd_push_columns[] = {
    {"ID", "id"},
    {"QUEUE", "queue"},
    {"URL", "url"},
    {"CIRCUIT", "circuit"},
    {"IN_FLIGHT", "in_flight"},
    {"DELIVERED", "delivered"},
    {"FAILED", "failed"},
    {"LAST_STATUS", "last_status"},
    {"LAST_ERROR", "last_error"},
};

/* ---- helpers ---- */

/* Checks --from's value; returns 0 or a reported usage error. */
static int cmd_push_check_from(const cli_cmd_t *cmd, const char *value)
{
    if (strcmp(value, "earliest") != 0 && strcmp(value, "latest") != 0)
        return cli_usage(cmd, "--from: '%s' is neither 'earliest' nor 'latest'.", value);
    return 0;
}

/* Parses a positive integer option value up to hi into *out; returns 0 or a reported usage
 * error. */
static int cmd_push_check_count(const cli_cmd_t *cmd, const char *opt, const char *value,
                                long long hi, long long *out)
{
    if (cli_parse_int(value, 1, hi, out) < 0)
        return cli_usage(cmd, "%s: '%s' is not a whole number from 1 to %lld.", opt, value, hi);
    return 0;
}

/* Sets body[field] to the string value. Returns 0, or a reported usage error (naming what)
 * when value is not UTF-8, which JSON cannot carry: dropping it silently would send a request
 * without it. */
static int cmd_push_set_text(const cli_cmd_t *cmd, json_t *body, const char *field,
                             const char *what, const char *value)
{
    json_t *v = json_string(value);
    if (v == NULL)
        return cli_usage(cmd, "%s: '%s' is not valid UTF-8.", what, value);
    json_object_set_new(body, field, v);
    return 0;
}

/* Sends POST /v1/queues/{queue}/subscriptions with body (borrowed) and fills *rep. Returns the
 * exit status; on success rep->json is an object with a string "id" and "secret". */
static int cmd_push_create(cli_t *cli, const char *queue, const json_t *body, client_reply_t *rep)
{
    client_req_t req;
    int err;

    client_req_init(&req, cli->client, "POST", "v1", "queues", queue, "subscriptions", NULL);
    client_req_json(&req, body);
    err = client_send(cli->client, &req, rep);
    client_req_cleanup(&req);
    if (err < 0)
        return cli_exit_status(cli, err);
    if (!json_is_string(json_object_get(rep->json, "id")) ||
        !json_is_string(json_object_get(rep->json, "secret")))
        return cli_bad_reply(cli, "subscription \"id\" and \"secret\"");
    return CLI_EXIT_OK;
}

/* Sends DELETE /v1/subscriptions/{id} and fills *rep. Returns the exit status. */
static int cmd_push_delete(cli_t *cli, const char *id, client_reply_t *rep)
{
    client_req_t req;
    int err;

    client_req_init(&req, cli->client, "DELETE", "v1", "subscriptions", id, NULL);
    err = client_send(cli->client, &req, rep);
    client_req_cleanup(&req);
    return cli_exit_status(cli, err);
}

/* Returns s with control characters replaced by spaces and cut to max characters (with "..."),
 * in b, for a table cell: a server-side error text may hold anything. NULL stays NULL. */
static const char *cmd_push_cell(buf_t *b, const char *s, size_t max)
{
    if (s == NULL)
        return NULL;
    buf_cleanup(b);
    size_t n = strlen(s), chars = 0, i = 0;
    for (; i < n && chars < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf_add(b, (ch < 0x20 || ch == 0x7f) ? " " : &s[i], 1);
        if ((ch & 0xc0) != 0x80)
            chars++;
    }
    while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80) /* finish a cut UTF-8 character */
        buf_add(b, &s[i++], 1);
    if (i < n)
        buf_adds(b, "...");
    return buf_str(b);
}

/* ---- subscribe ---- */

const char cmd_push_subscribe_help[] =
    "Makes a push subscription: from now on the server POSTs each message of QUEUE to URL (http\n"
    "or https; without a scheme, http:// is assumed), signed with the subscription's secret by\n"
    "the Standard Webhooks convention (headers webhook-id, webhook-timestamp, webhook-signature).\n"
    "A 2xx answer acknowledges the message; anything else, or no answer within the timeout, is\n"
    "retried with backoff and dead-lettered after max_attempts. The queue is created if it does\n"
    "not exist. Prints the new subscription: its id (for 'sluice unsubscribe') and its secret,\n"
    "which no other command shows again.\n"
    "\n"
    "Options:\n"
    "  --secret S             sign with S: \"whsec_\" and base64 (the convention's form), or any\n"
    "                         visible ASCII (default: a new random whsec_ secret)\n"
    "  --max-in-flight N      deliveries in progress at once (default 1, which keeps order)\n"
    "  --max-attempts N       attempts before a message is dead-lettered (default: the server's\n"
    "                         max_attempts)\n"
    "  --timeout D            each delivery must be answered within D (default: the server's\n"
    "                         push_timeout)\n"
    "  --from earliest|latest begin with the oldest retained message, or with the next one\n"
    "                         published (default latest)\n"
    "  --json                 print the server's JSON reply\n";

static const struct option cmd_push_subscribe_opts[] = {
    CLI_LONG_COMMON,
    {"secret", required_argument, NULL, OPT_SECRET},
    {"max-in-flight", required_argument, NULL, OPT_MAX_IN_FLIGHT},
    {"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"from", required_argument, NULL, OPT_FROM},
    {NULL, 0, NULL, 0},
};

int cmd_push_subscribe(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    json_t *body = json_object();
    client_reply_t rep;
    long long n;
    int64_t ms;
    int c, status = CLI_EXIT_OK;

    sl_assert(body != NULL);
    memset(&rep, 0, sizeof rep);
    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON, cmd_push_subscribe_opts,
                             &status)) != -1) {
        switch (c) {
        case CLI_OPT_STOP:
            goto out;
        case OPT_SECRET:
            if ((status = cmd_push_set_text(cmd, body, "secret", "--secret", optarg)) != 0)
                goto out;
            break;
        case OPT_MAX_IN_FLIGHT:
            if ((status = cmd_push_check_count(cmd, "--max-in-flight", optarg, UINT32_MAX, &n)) !=
                0)
                goto out;
            json_object_set_new(body, "max_in_flight", json_integer(n));
            break;
        case OPT_MAX_ATTEMPTS:
            if ((status = cmd_push_check_count(cmd, "--max-attempts", optarg, UINT32_MAX, &n)) != 0)
                goto out;
            json_object_set_new(body, "max_attempts", json_integer(n));
            break;
        case OPT_TIMEOUT:
            if (cli_parse_dur(optarg, &ms) < 0) {
                status = cli_usage(cmd,
                                   "--timeout: '%s' is not a duration (like 500ms, 30s, 5m, or a "
                                   "number of seconds).",
                                   optarg);
                goto out;
            }
            json_object_set_new(body, "timeout", json_string(optarg));
            break;
        case OPT_FROM:
            if ((status = cmd_push_check_from(cmd, optarg)) != 0)
                goto out;
            json_object_set_new(body, "from", json_string(optarg));
            break;
        }
    }
    if (argc - optind != 2) {
        status = cli_usage(cmd, argc - optind < 1   ? "subscribe: missing QUEUE and URL."
                                : argc - optind < 2 ? "subscribe: missing URL."
                                                    : "subscribe: too many arguments.");
        goto out;
    }
    if ((status = cmd_push_set_text(cmd, body, "url", "URL", argv[optind + 1])) != 0)
        goto out;

    status = cmd_push_create(cli, argv[optind], body, &rep);
    if (status != CLI_EXIT_OK)
        goto out;
    if (cli->json) {
        cli_print_reply(&rep);
    } else {
        table_t *t = table_new(2, false);
        const char *name;
        json_t *v;
        char num[32];
        json_object_foreach(rep.json, name, v)
        {
            if (json_is_object(v) || json_is_array(v))
                continue;
            table_add(t, name);
            table_add(t, cli_json_text(v, num, sizeof num));
        }
        table_print(t, stdout);
        table_free(t);
    }

out:
    client_reply_cleanup(&rep);
    json_decref(body);
    return status;
}

/* ---- subscriptions ---- */

const char cmd_push_list_help[] =
    "Lists the push subscriptions, of every queue or of QUEUE only, with their delivery\n"
    "counters: messages being delivered (IN_FLIGHT), delivered (answered 2xx), failed attempts,\n"
    "messages dead-lettered, the HTTP status of the last attempt and the error of the last\n"
    "failed one. CIRCUIT is closed while the endpoint answers, open while it is paused after\n"
    "failing repeatedly, and half_open while one probe is out. Secrets are never shown.\n"
    "\n"
    "Options:\n"
    "  --json                 print the server's JSON reply\n";

static const struct option cmd_push_list_opts[] = {
    CLI_LONG_COMMON,
    {NULL, 0, NULL, 0},
};

int cmd_push_list(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    client_req_t req;
    client_reply_t rep;
    int c, err, status = CLI_EXIT_OK;

    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON, cmd_push_list_opts,
                             &status)) != -1)
        if (c == CLI_OPT_STOP)
            return status;
    if (argc - optind > 1)
        return cli_usage(cmd, "subscriptions: too many arguments.");
    if (argc - optind == 1)
        client_req_init(&req, cli->client, "GET", "v1", "queues", argv[optind], "subscriptions",
                        NULL);
    else
        client_req_init(&req, cli->client, "GET", "v1", "subscriptions", NULL);
    err = client_send(cli->client, &req, &rep);
    client_req_cleanup(&req);
    status = cli_exit_status(cli, err);
    if (err < 0)
        goto out;
    const json_t *subs = json_object_get(rep.json, "subscriptions");
    if (!json_is_array(subs)) {
        status = cli_bad_reply(cli, "\"subscriptions\" array");
        goto out;
    }
    if (cli->json) {
        cli_print_reply(&rep);
        goto out;
    }

    const size_t ncols = SL_ARRAY_LEN(cmd_push_columns);
    table_t *t = table_new(ncols, true);
    size_t i;
    json_t *s;
    char num[32];
    buf_t cell;
    buf_init(&cell);
    for (size_t col = 0; col < ncols; col++)
        table_add(t, cmd_push_columns[col].header);
    json_array_foreach(subs, i, s)
    {
        for (size_t col = 0; col < ncols; col++) {
            const char *text =
                cli_json_text(json_object_get(s, cmd_push_columns[col].field), num, sizeof num);
            bool error = strcmp(cmd_push_columns[col].field, "last_error") == 0;
            table_add(t, cmd_push_cell(&cell, text, error ? CMD_PUSH_ERROR_PREVIEW : SIZE_MAX));
        }
    }
    table_print(t, stdout);
    table_free(t);
    buf_cleanup(&cell);

out:
    client_reply_cleanup(&rep);
    return status;
}

/* ---- unsubscribe ---- */

const char cmd_push_unsubscribe_help[] =
    "Deletes push subscriptions by id (as 'sluice subscribe' and 'sluice subscriptions' show\n"
    "them). Delivery stops, and the subscription's consumer group goes with it: messages it had\n"
    "not delivered stay in the queue for the other groups. Prints \"deleted ID\" for each. An\n"
    "unknown id is reported and the others are still deleted (exit status 3).\n"
    "\n"
    "Options:\n"
    "  --json                 print the server's JSON reply for each id\n";

int cmd_push_unsubscribe(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    int c, status = CLI_EXIT_OK;

    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON, cmd_push_list_opts,
                             &status)) != -1)
        if (c == CLI_OPT_STOP)
            return status;
    if (argc - optind < 1)
        return cli_usage(cmd, "unsubscribe: missing ID.");
    for (int i = optind; i < argc; i++) {
        client_reply_t rep;
        int st = cmd_push_delete(cli, argv[i], &rep);
        if (st == CLI_EXIT_OK) {
            if (cli->json)
                cli_print_reply(&rep);
            else
                printf("deleted %s\n", argv[i]);
        } else {
            status = st;
        }
        client_reply_cleanup(&rep);
        if (st == CLI_EXIT_UNREACHABLE)
            break;
    }
    return status;
}

/* ---- listen ---- */

const char cmd_push_listen_help[] =
    "A tiny webhook receiver, for trying push subscriptions (and MQ Go's flow) by hand. It\n"
    "listens on HOST:PORT, subscribes QUEUE to http://HOST:PORT/, prints the body of each\n"
    "message it is pushed, one per line (a binary body as its size and first bytes in hex),\n"
    "and answers 204. Each delivery's Standard Webhooks signature is checked with the\n"
    "subscription's secret; one that does not match (or is more than 5 minutes old) is\n"
    "answered 401 with a warning on stderr, and not printed. On Ctrl-C (SIGINT), SIGTERM or\n"
    "SIGHUP, or after --count deliveries, it stops and deletes the subscription; a second\n"
    "Ctrl-C while that request runs ends it at once. Exits 0 once stopped that way, 5 when\n"
    "the port cannot be bound or standard output cannot be written (still unsubscribing).\n"
    "\n"
    "Options:\n"
    "  -p, --port P           listen on port P (default 0: a free port, shown on stderr)\n"
    "  --host H               listen on H and have the server deliver there (default\n"
    "                         127.0.0.1; an address the server can reach if it runs elsewhere)\n"
    "  --secret S             the subscription's secret (default: a new random one)\n"
    "  --from earliest|latest begin with the oldest retained message, or with the next one\n"
    "                         published (default latest)\n"
    "  --status CODE          answer CODE (200-599) instead of 204: 500 shows the retries\n"
    "  -n, --count N          stop after N deliveries (retries count too)\n"
    "  --no-subscribe         subscribe to nothing and take no QUEUE: receive whatever is\n"
    "                         POSTed to the URL, such as an MQ Go receiver's deliveries;\n"
    "                         signatures are then checked only when --secret is given\n"
    "  --json                 print one JSON object per delivery instead of the body: queue,\n"
    "                         id, attempt, subscription, webhook_id, content_type, verified and\n"
    "                         body (base64 with \"encoding\": \"base64\" when not UTF-8)\n"
    "\n"
    "MQ Go's flow by hand (the server on localhost:8080; MQ Go's /send publishes to the queue\n"
    "mqgo unless mqgo_queue says otherwise):\n"
    "  sluice listen mqgo\n"
    "  curl -d '{\"mode\": \"send\"}' localhost:8080/connect             # {\"id\": 1}\n"
    "  curl -d '{\"id\": 1, \"body\": \"hello\"}' localhost:8080/send      # listen prints hello\n"
    "or as an MQ Go receiver (deliveries are {\"body\": \"...\"}):\n"
    "  sluice listen --no-subscribe --port 9000\n"
    "  curl -d '{\"ClientURL\": \"localhost:9000\", \"mode\": \"receive\"}' "
    "localhost:8080/connect\n";

static const struct option cmd_push_listen_opts[] = {
    CLI_LONG_COMMON,
    {"port", required_argument, NULL, 'p'},
    {"host", required_argument, NULL, OPT_HOST},
    {"secret", required_argument, NULL, OPT_SECRET},
    {"from", required_argument, NULL, OPT_FROM},
    {"status", required_argument, NULL, OPT_STATUS},
    {"count", required_argument, NULL, 'n'},
    {"no-subscribe", no_argument, NULL, OPT_NO_SUBSCRIBE},
    {NULL, 0, NULL, 0},
};

/* The signals that stop listen. */
static void cmd_push_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

/* Drops the stop signals that arrived since they were blocked (they are in sigfd, -1 for none)
 * and restores the signal mask old: from then on such a signal ends the process at once. */
static void cmd_push_unblock(int sigfd, const sigset_t *old)
{
    struct signalfd_siginfo si;
    while (sigfd >= 0 && read(sigfd, &si, sizeof si) > 0)
        ;
    sigprocmask(SIG_SETMASK, old, NULL);
}

/* Subscribes queue to url for listen, and gives the secret of the reply to l. Stores the
 * subscription's id in *id (the caller frees it with sl_free()). Returns the exit status. */
static int cmd_push_listen_subscribe(cli_t *cli, listen_t *l, const char *queue, const char *url,
                                     const char *secret, const char *from, char **id)
{
    json_t *body = json_pack("{s:s}", "url", url);
    client_reply_t rep;
    int status;

    sl_assert(body != NULL);
    if (secret != NULL) /* checked as UTF-8 with the options */
        json_object_set_new(body, "secret", json_string(secret));
    if (from != NULL)
        json_object_set_new(body, "from", json_string(from));
    status = cmd_push_create(cli, queue, body, &rep);
    if (status == CLI_EXIT_OK) {
        *id = sl_strdup(json_string_value(json_object_get(rep.json, "id")));
        if (listen_set_secret(l, json_string_value(json_object_get(rep.json, "secret")), *id) < 0)
            status = cli_bad_reply(cli, "usable \"secret\"");
    }
    client_reply_cleanup(&rep);
    json_decref(body);
    return status;
}

/* Deletes listen's subscription id at the end. Returns the exit status. */
static int cmd_push_listen_unsubscribe(cli_t *cli, const char *id)
{
    client_reply_t rep;
    int status = cmd_push_delete(cli, id, &rep);
    client_reply_cleanup(&rep);
    if (status != CLI_EXIT_OK)
        cli_error("the subscription %s may be left on the server; delete it with 'sluice "
                  "unsubscribe %s'.",
                  id, id);
    return status;
}

int cmd_push_listen(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    listen_config_t cfg = {.host = "127.0.0.1", .port = 0, .status = 204, .count = 0};
    const char *secret = NULL, *from = NULL, *queue = NULL;
    bool subscribe = true;
    listen_t *l = NULL;
    char *id = NULL;
    buf_t url;
    sigset_t stop, old_mask;
    int sigfd = -1, signo = 0;
    long long n;
    int c, status = CLI_EXIT_OK;

    buf_init(&url);
    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON "p:n:", cmd_push_listen_opts,
                             &status)) != -1) {
        switch (c) {
        case CLI_OPT_STOP:
            return status;
        case 'p':
            if (cli_parse_int(optarg, 0, 65535, &n) < 0)
                return cli_usage(cmd, "--port: '%s' is not a port number (0 to 65535).", optarg);
            cfg.port = (int)n;
            break;
        case OPT_HOST:
            if (*optarg == '\0')
                return cli_usage(cmd, "--host: the address is empty.");
            cfg.host = optarg;
            break;
        case OPT_SECRET: {
            if (*optarg == '\0')
                return cli_usage(cmd, "--secret: the secret is empty.");
            json_t *t = json_string(optarg);
            if (t == NULL)
                return cli_usage(cmd, "--secret: '%s' is not valid UTF-8.", optarg);
            json_decref(t);
            secret = optarg;
            break;
        }
        case OPT_FROM:
            if ((status = cmd_push_check_from(cmd, optarg)) != 0)
                return status;
            from = optarg;
            break;
        case OPT_STATUS:
            if (cli_parse_int(optarg, 200, 599, &n) < 0)
                return cli_usage(cmd, "--status: '%s' is not an HTTP status from 200 to 599.",
                                 optarg);
            cfg.status = (unsigned)n;
            break;
        case 'n':
            if ((status = cmd_push_check_count(cmd, "--count", optarg, INT64_MAX, &n)) != 0)
                return status;
            cfg.count = n;
            break;
        case OPT_NO_SUBSCRIBE:
            subscribe = false;
            break;
        }
    }
    if (subscribe && argc - optind != 1)
        return cli_usage(cmd, argc - optind < 1 ? "listen: missing QUEUE."
                                                : "listen: too many arguments.");
    if (!subscribe && argc - optind != 0)
        return cli_usage(cmd, "listen: --no-subscribe takes no QUEUE.");
    if (!subscribe && from != NULL)
        return cli_usage(cmd, "listen: --from needs a subscription (not --no-subscribe).");
    queue = subscribe ? argv[optind] : NULL;
    cfg.json = cli->json;

    /* Signals first: one arriving while the subscription is being made must still lead to its
     * deletion, not kill the process in between. */
    cmd_push_stop_signals(&stop);
    sigprocmask(SIG_BLOCK, &stop, &old_mask);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is reported by the write, then we clean up */
    sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        cli_error("listen: signalfd failed: %s.", strerror(errno));
        status = CLI_EXIT_LOCAL;
        goto out;
    }

    int err = listen_open(&l, &cfg);
    if (err < 0) {
        status = err == SL_EPARAM ? CLI_EXIT_USAGE : CLI_EXIT_LOCAL;
        goto out;
    }
    bool v6 = strchr(cfg.host, ':') != NULL;
    buf_printf(&url, "http://%s%s%s:%d/", v6 ? "[" : "", cfg.host, v6 ? "]" : "", listen_port(l));
    if (subscribe) {
        status = cmd_push_listen_subscribe(cli, l, queue, buf_str(&url), secret, from, &id);
        if (status != CLI_EXIT_OK)
            goto out;
        cli_error("listening on %s as subscription %s of queue %s; stop with Ctrl-C.",
                  buf_str(&url), id, queue);
    } else {
        if (secret != NULL && listen_set_secret(l, secret, NULL) < 0) {
            status = cli_usage(cmd, "--secret: the part after \"whsec_\" is not base64.");
            goto out;
        }
        cli_error("listening on %s (no subscription made%s); stop with Ctrl-C.", buf_str(&url),
                  secret ? "" : ", signatures not checked");
    }

    switch (listen_run(l, sigfd, &signo)) {
    case LISTEN_END_COUNT:
    case LISTEN_END_SIGNAL:
        break;
    case LISTEN_END_OUTPUT:
    case LISTEN_END_ERROR:
        status = CLI_EXIT_LOCAL;
        break;
    }
    long long delivered = listen_delivered(l);
    listen_close(l);
    l = NULL;

    cmd_push_unblock(sigfd, &old_mask);
    char why[32] = "";
    if (signo != 0)
        snprintf(why, sizeof why, " on SIG%s", sigabbrev_np(signo));
    if (id != NULL) {
        int st = cmd_push_listen_unsubscribe(cli, id);
        if (status == CLI_EXIT_OK)
            status = st;
        if (st == CLI_EXIT_OK)
            cli_error("stopped%s after %lld deliver%s; subscription %s deleted.", why, delivered,
                      delivered == 1 ? "y" : "ies", id);
        sl_free(id);
        id = NULL;
    } else {
        cli_error("stopped%s after %lld deliver%s.", why, delivered, delivered == 1 ? "y" : "ies");
    }

out:
    listen_close(l);
    cmd_push_unblock(sigfd, &old_mask);
    if (id != NULL) { /* made, then something failed before serving: do not leave it behind */
        cmd_push_listen_unsubscribe(cli, id);
        sl_free(id);
    }
    if (sigfd >= 0)
        close(sigfd);
    buf_cleanup(&url);
    return status;
}
