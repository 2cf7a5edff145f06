/*
 * cmd_msg.c — the commands that move messages: publish, consume, pop, ack, release and peek.
 *
 * Each command checks locally only what is about its own command line: the number of arguments,
 * option syntax, and durations and times (with the dur module the server uses too), so a typo is
 * a usage error (exit 2) before anything is sent. Everything the server decides (queue names,
 * sizes, whether a receipt is still alive) is left to it, and its error is shown as sent (exit
 * 3): checking queue names here as well would only let two copies of the grammar drift apart.
 *
 * Human output prints what a person needs to act on: ids, receipts (to pass to ack or release)
 * and bodies, as text when they are printable UTF-8 and as size and hex otherwise. --json
 * prints the server's reply verbatim instead.
 */
#include "cmd_msg.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "body.h"
#include "buf.h"
#include "dur.h"
#include "mem.h"
#include "table.h"

/* The API takes at most this many receipts per ack or release. */
#define CMD_MSG_MAX_RECEIPTS 1000
/* A body read from standard input may be at most this large. It is far above any sensible
 * max_message_bytes; it only keeps `sluice publish q < /dev/zero` from eating all memory. */
#define CMD_MSG_MAX_STDIN ((size_t)256 << 20)
/* publish --lines sends a batch once it holds this many lines, or this many bytes, or when
 * standard input has nothing more to read for now (the server's limits: 1000 messages, and
 * max_request_bytes, 16 MiB by default). */
#define CMD_MSG_LINES_BATCH 1000
#define CMD_MSG_LINES_BYTES ((size_t)1 << 20)
/* Characters of a body shown in a peek row. */
#define CMD_MSG_PREVIEW 40
/* Bytes of a binary body shown in hex by consume. */
#define CMD_MSG_HEX 16

/* Values of the long options that have no short form. */
enum {
    OPT_DELAY = 256,
    OPT_TTL,
    OPT_DELIVER_AT,
    OPT_KEY,
    OPT_IDEMPOTENCY_KEY,
    OPT_CONTENT_TYPE,
    OPT_ATTR,
    OPT_LINES,
    OPT_VISIBILITY,
    OPT_ACK,
    OPT_ERROR,
    OPT_AFTER,
    OPT_LIMIT,
};

/* ---- helpers ---- */

/* Reads standard input to its end into b. Returns 0, SL_ETOOBIG when it passes
 * CMD_MSG_MAX_STDIN, or SL_EIO on a read error (errno says which). */
static int cmd_msg_read_stdin(buf_t *b)
{
    char chunk[65536];
    size_t n;

    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (n > CMD_MSG_MAX_STDIN - b->len)
            return SL_ETOOBIG;
        buf_add(b, chunk, n);
    }
    return ferror(stdin) ? SL_EIO : 0;
}

/* Checks a duration option's value; returns 0 or a reported usage error. */
static int cmd_msg_check_dur(const cli_cmd_t *cmd, const char *opt, const char *value, int64_t *ms)
{
    int64_t dummy;
    if (cli_parse_dur(value, ms ? ms : &dummy) < 0)
        return cli_usage(cmd,
                         "%s: '%s' is not a duration (like 500ms, 30s, 5m, 2h, 1d, or a "
                         "number of seconds).",
                         opt, value);
    return 0;
}

/* Returns s, or "?" for a field the reply lacks. */
static const char *cmd_msg_or_unknown(const char *s)
{
    return s ? s : "?";
}

/* Prints "  label      value" when v is a scalar; nothing for a missing value or null. */
static void cmd_msg_field(const char *label, const json_t *v)
{
    char num[32];
    const char *s = cli_json_text(v, num, sizeof num);
    if (s != NULL)
        printf("  %-10s %s\n", label, s);
}

/* Prints the body of message m under the label "body": text line by line, binary as size and
 * hex. Returns 0, or SL_EBASE64 when the body in the reply is not valid base64 (a note is printed
 * instead). */
static int cmd_msg_print_body(const json_t *m)
{
    const json_t *b64 = json_object_get(m, "body");
    unsigned char *body = NULL;
    size_t n = 0;

    if (!json_is_string(b64) ||
        body_decode(json_string_value(b64), json_string_length(b64), &body, &n) < 0) {
        printf("  %-10s (the reply holds no valid base64 body)\n", "body");
        return SL_EBASE64;
    }
    if (n == 0) {
        printf("  %-10s (empty)\n", "body");
    } else if (body_is_text(body, n)) {
        const char *p = (const char *)body, *end = p + n, *label = "body";
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
            if (len > 0 || *label)
                printf("  %-10s %.*s\n", label, (int)len, p);
            else
                putchar('\n');
            label = "";
            p += len + (nl ? 1 : 0);
        }
    } else {
        buf_t d;
        buf_init(&d);
        body_describe_binary(&d, body, n, CMD_MSG_HEX);
        printf("  %-10s %s\n", "body", buf_str(&d));
        buf_cleanup(&d);
    }
    sl_free(body);
    return 0;
}

/* Prints one message object of a lease reply as a block. Returns 0, or SL_EBASE64 when its body
 * could not be decoded. */
static int cmd_msg_print_block(const json_t *m)
{
    const json_t *attrs = json_object_get(m, "attributes");
    const json_t *dl = json_object_get(m, "dead_letter");
    const char *name;
    json_t *v;
    char num[32];

    printf("message %s\n",
           cmd_msg_or_unknown(cli_json_text(json_object_get(m, "id"), num, sizeof num)));
    cmd_msg_field("attempts", json_object_get(m, "attempts"));
    cmd_msg_field("receipt", json_object_get(m, "receipt"));
    cmd_msg_field("published", json_object_get(m, "published_at"));
    cmd_msg_field("key", json_object_get(m, "key"));
    json_object_foreach((json_t *)attrs, name, v)
    {
        const char *s = cli_json_text(v, num, sizeof num);
        printf("  %-10s %s: %s\n", "attribute", name, s ? s : "-");
    }
    if (json_is_object(dl)) {
        char id[32], att[32];
        const char *q = json_string_value(json_object_get(dl, "queue"));
        const char *g = json_string_value(json_object_get(dl, "group"));
        const char *reason = json_string_value(json_object_get(dl, "reason"));
        const char *last = json_string_value(json_object_get(dl, "last_error"));
        printf("  %-10s from %s (group %s, message %s) after %s attempts: %s%s%s\n", "dead",
               cmd_msg_or_unknown(q), cmd_msg_or_unknown(g),
               cmd_msg_or_unknown(cli_json_text(json_object_get(dl, "id"), id, sizeof id)),
               cmd_msg_or_unknown(cli_json_text(json_object_get(dl, "attempts"), att, sizeof att)),
               cmd_msg_or_unknown(reason), last ? "; last error: " : "", last ? last : "");
    }
    return cmd_msg_print_body(m);
}

/* Sends the receipts (a JSON array of strings, borrowed) to POST /v1/queues/{queue}/{action}
 * ("ack" or "release"), with delay and error for a release when not NULL. Unless quiet, prints
 * the reply: verbatim with --json, else "<count_field> N" (count_field is "acked" or
 * "released"). Every receipt the server lists as not found is reported on stderr. Returns the
 * exit status: CLI_EXIT_SERVER when any receipt was not found, since the caller asked for
 * something that did not happen. */
static int cmd_msg_settle(cli_t *cli, const char *queue, const char *action,
                          const char *count_field, json_t *receipts, const char *delay,
                          const char *error, bool quiet)
{
    json_t *body = json_pack("{s:O}", "receipts", receipts);
    client_req_t req;
    client_reply_t rep;
    size_t i;
    json_t *r;
    int err, status;

    sl_assert(body != NULL);
    if (delay != NULL)
        json_object_set_new(body, "delay", json_string(delay));
    if (error != NULL)
        json_object_set_new(body, "error", json_string(error));
    client_req_init(&req, cli->client, "POST", "v1", "queues", queue, action, NULL);
    client_req_json(&req, body);
    err = client_send(cli->client, &req, &rep);
    status = cli_exit_status(cli, err);
    if (err < 0)
        goto out;

    const json_t *count = json_object_get(rep.json, count_field);
    const json_t *missing = json_object_get(rep.json, "not_found");
    if (!json_is_integer(count)) {
        char what[32];
        snprintf(what, sizeof what, "\"%s\" count", count_field);
        status = cli_bad_reply(cli, what);
        goto out;
    }
    if (!quiet) {
        if (cli->json)
            cli_print_reply(&rep);
        else
            printf("%s %" JSON_INTEGER_FORMAT "\n", count_field, json_integer_value(count));
    }
    json_array_foreach(missing, i, r)
    {
        cli_error("receipt_not_found: receipt '%s' is not leased any more (its lease ended, or "
                  "it was acked or released already).",
                  cmd_msg_or_unknown(json_string_value(r)));
        status = CLI_EXIT_SERVER;
    }

out:
    client_reply_cleanup(&rep);
    client_req_cleanup(&req);
    json_decref(body);
    return status;
}

/* ---- publish ---- */

const char cmd_msg_publish_help[] =
    "Publishes one message to QUEUE, creating the queue if it does not exist. The body is MSG,\n"
    "or standard input read to its end (any bytes) when MSG is absent or \"-\". Use -- before a\n"
    "MSG that starts with '-'. Prints the new message's id, with \"(duplicate)\" after it when\n"
    "the idempotency key had been seen and nothing new was stored.\n"
    "\n"
    "Options:\n"
    "  --delay D              keep the message invisible for D (500ms, 30s, 5m, 2h, 1d;\n"
    "                         a bare number is seconds)\n"
    "  --deliver-at T         keep it invisible until the RFC 3339 time T (not with --delay)\n"
    "  --ttl D                delete it undelivered once D has passed since publishing\n"
    "  --key K                ordering key: messages with one key go out in publish order\n"
    "  --idempotency-key K    store it at most once per K within the queue's dedup window\n"
    "  --content-type T       the body's media type (kept as its content-type attribute)\n"
    "  --attr NAME=VALUE      add an attribute; may be repeated\n"
    "  --lines                publish each line of standard input as its own message (empty\n"
    "                         lines skipped), in batches; prints one id per message. The\n"
    "                         options above apply to every message, but --idempotency-key\n"
    "                         and --content-type (the lines are text/plain) do not go with it\n"
    "  --json                 print the server's JSON reply\n";

static const struct option cmd_msg_publish_opts[] = {
    CLI_LONG_COMMON,
    {"delay", required_argument, NULL, OPT_DELAY},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"deliver-at", required_argument, NULL, OPT_DELIVER_AT},
    {"key", required_argument, NULL, OPT_KEY},
    {"idempotency-key", required_argument, NULL, OPT_IDEMPOTENCY_KEY},
    {"content-type", required_argument, NULL, OPT_CONTENT_TYPE},
    {"attr", required_argument, NULL, OPT_ATTR},
    {"lines", no_argument, NULL, OPT_LINES},
    {NULL, 0, NULL, 0},
};

/* Sends the first *whole bytes of in (whole lines, *lines of them not empty) as one batch with
 * req, prints the reply (ids, or the JSON), and takes them out of in. Returns the exit status. */
static int cmd_msg_send_lines(cli_t *cli, client_req_t *req, buf_t *in, size_t *whole,
                              size_t *lines)
{
    client_reply_t rep;
    memset(&rep, 0, sizeof rep);
    client_req_body(req, in->data, *whole);
    int err = client_send(cli->client, req, &rep), status = CLI_EXIT_OK;
    if (err < 0) {
        status = cli_exit_status(cli, err);
    } else if (cli->json) {
        cli_print_reply(&rep);
    } else {
        const json_t *ids = json_object_get(rep.json, "ids"), *id;
        size_t i;
        if (!json_is_array(ids))
            status = cli_bad_reply(cli, "\"ids\"");
        else
            json_array_foreach(ids, i, id)
                printf("%" JSON_INTEGER_FORMAT "\n", json_integer_value(id));
    }
    client_reply_cleanup(&rep);
    fflush(stdout);
    buf_consume(in, *whole);
    *whole = *lines = 0;
    return status;
}

/* Whether standard input has bytes to read right now. */
static bool cmd_msg_stdin_ready(void)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* publish --lines: reads standard input with read(2), not stdio, so that what it holds is known
 * to be everything that arrived: a batch goes out when it is full, at the end of the input, and
 * whenever the input has nothing more for now, so `tail -f log | sluice publish q --lines`
 * publishes each line as it comes. A line longer than the server's max_message_bytes fails the
 * batch, and the command stops there (the batches before it are published). Returns the exit
 * status. */
static int cmd_msg_publish_lines(cli_t *cli, const cli_cmd_t *cmd, client_req_t *req)
{
    buf_t in;
    size_t whole = 0, lines = 0; /* bytes of in that are whole lines, and how many not empty */
    char chunk[65536];
    int status = CLI_EXIT_OK;

    buf_init(&in);
    client_req_header(req, "Content-Type", "text/plain");
    for (;;) {
        ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cli_error("cannot read standard input: %s.", strerror(errno));
            status = CLI_EXIT_LOCAL;
            break;
        }
        if (n == 0) { /* the end: the last line may have no newline */
            if (in.len > whole)
                lines++, whole = in.len;
            if (lines)
                status = cmd_msg_send_lines(cli, req, &in, &whole, &lines);
            break;
        }
        buf_add(&in, chunk, (size_t)n);
        const char *nl;
        while ((nl = memchr(in.data + whole, '\n', in.len - whole)) != NULL) {
            size_t end = (size_t)(nl - in.data) + 1;
            lines += end - whole > 1;
            whole = end;
            if ((lines == CMD_MSG_LINES_BATCH || whole >= CMD_MSG_LINES_BYTES) &&
                (status = cmd_msg_send_lines(cli, req, &in, &whole, &lines)) != CLI_EXIT_OK)
                goto out;
        }
        if (in.len - whole > CMD_MSG_MAX_STDIN) {
            status = cli_usage(cmd, "publish: a line of standard input is over %zu MiB.",
                               CMD_MSG_MAX_STDIN >> 20);
            break;
        }
        if (lines && !cmd_msg_stdin_ready() &&
            (status = cmd_msg_send_lines(cli, req, &in, &whole, &lines)) != CLI_EXIT_OK)
            break;
    }
out:
    buf_cleanup(&in);
    return status;
}

int cmd_msg_publish(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    const char *delay = NULL, *ttl = NULL, *deliver_at = NULL, *key = NULL, *idem = NULL;
    const char *ctype = NULL;
    const char **attrs = sl_calloc((size_t)argc, sizeof *attrs);
    size_t nattrs = 0;
    client_req_t req;
    client_reply_t rep;
    buf_t in, hdr;
    int c, err, status = CLI_EXIT_OK;
    bool lines = false;

    memset(&req, 0, sizeof req);
    memset(&rep, 0, sizeof rep);
    buf_init(&in);
    buf_init(&hdr);
    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON, cmd_msg_publish_opts,
                             &status)) != -1) {
        switch (c) {
        case CLI_OPT_STOP:
            goto out;
        case OPT_DELAY:
            if ((status = cmd_msg_check_dur(cmd, "--delay", optarg, NULL)) != 0)
                goto out;
            delay = optarg;
            break;
        case OPT_TTL:
            if ((status = cmd_msg_check_dur(cmd, "--ttl", optarg, NULL)) != 0)
                goto out;
            ttl = optarg;
            break;
        case OPT_DELIVER_AT: {
            int64_t t;
            if (dur_parse_time(optarg, strlen(optarg), &t) < 0) {
                status = cli_usage(cmd,
                                   "--deliver-at: '%s' is not an RFC 3339 time (like "
                                   "2026-11-22T07:00:00Z).",
                                   optarg);
                goto out;
            }
            deliver_at = optarg;
            break;
        }
        case OPT_KEY:
            key = optarg;
            break;
        case OPT_IDEMPOTENCY_KEY:
            idem = optarg;
            break;
        case OPT_CONTENT_TYPE:
            ctype = optarg;
            break;
        case OPT_ATTR:
            if (optarg[0] == '=' || strchr(optarg, '=') == NULL) {
                status = cli_usage(cmd, "--attr: '%s' is not NAME=VALUE.", optarg);
                goto out;
            }
            attrs[nattrs++] = optarg;
            break;
        case OPT_LINES:
            lines = true;
            break;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        status = cli_usage(cmd, argc - optind < 1 ? "publish: missing QUEUE."
                                                  : "publish: too many arguments (quote MSG).");
        goto out;
    }
    if (delay != NULL && deliver_at != NULL) {
        status = cli_usage(cmd, "publish: --delay and --deliver-at cannot be used together.");
        goto out;
    }
    if (lines && (argc - optind == 2 || idem != NULL || ctype != NULL)) {
        status = cli_usage(cmd, "publish: --lines reads standard input and takes neither MSG, "
                                "--idempotency-key nor --content-type.");
        goto out;
    }
    const char *queue = argv[optind];
    const char *msg = argc - optind == 2 ? argv[optind + 1] : "-";

    client_req_init(&req, cli->client, "POST", "v1", "queues", queue, lines ? "batch" : "messages",
                    NULL);
    client_req_query(&req, "delay", delay);
    client_req_query(&req, "deliver_at", deliver_at);
    client_req_query(&req, "ttl", ttl);
    client_req_query(&req, "key", key);
    if (idem != NULL && client_req_header(&req, "Idempotency-Key", idem) < 0) {
        status = cli_usage(cmd, "--idempotency-key: control characters are not allowed.");
        goto out;
    }
    if (ctype != NULL && client_req_header(&req, "Content-Type", ctype) < 0) {
        status = cli_usage(cmd, "--content-type: '%s' is not a valid header value.", ctype);
        goto out;
    }
    for (size_t i = 0; i < nattrs; i++) {
        const char *eq = strchr(attrs[i], '=');
        buf_cleanup(&hdr);
        buf_adds(&hdr, "Sluice-Attr-");
        buf_add(&hdr, attrs[i], (size_t)(eq - attrs[i]));
        if (client_req_header(&req, buf_str(&hdr), eq + 1) < 0) {
            status = cli_usage(cmd,
                               "--attr: '%s' has characters an attribute cannot have (names "
                               "are letters, digits, '_', '.', '-'; values have no control "
                               "characters).",
                               attrs[i]);
            goto out;
        }
    }
    if (lines) {
        status = cmd_msg_publish_lines(cli, cmd, &req);
        goto out;
    }

    if (strcmp(msg, "-") == 0) {
        if (isatty(STDIN_FILENO))
            cli_error("reading the message from standard input; end it with Ctrl-D.");
        err = cmd_msg_read_stdin(&in);
        if (err == SL_ETOOBIG) {
            status =
                cli_usage(cmd, "publish: standard input is over %zu MiB.", CMD_MSG_MAX_STDIN >> 20);
            goto out;
        } else if (err < 0) {
            cli_error("cannot read standard input: %s.", strerror(errno));
            status = CLI_EXIT_LOCAL;
            goto out;
        }
        client_req_body(&req, buf_str(&in), in.len);
    } else {
        client_req_body(&req, msg, strlen(msg));
    }

    err = client_send(cli->client, &req, &rep);
    if (err < 0) {
        status = cli_exit_status(cli, err);
        goto out;
    }
    if (cli->json) {
        cli_print_reply(&rep);
    } else {
        const json_t *id = json_object_get(rep.json, "id");
        if (!json_is_integer(id)) {
            status = cli_bad_reply(cli, "message \"id\"");
            goto out;
        }
        printf("%" JSON_INTEGER_FORMAT "%s\n", json_integer_value(id),
               json_is_true(json_object_get(rep.json, "duplicate")) ? " (duplicate)" : "");
    }

out:
    client_reply_cleanup(&rep);
    client_req_cleanup(&req);
    buf_cleanup(&hdr);
    buf_cleanup(&in);
    sl_free(attrs);
    return status;
}

/* ---- consume ---- */

const char cmd_msg_consume_help[] =
    "Leases messages from QUEUE (at-least-once delivery) and prints each one: its id, attempts,\n"
    "receipt, publish time, key, attributes and body (as text when it is printable UTF-8, else\n"
    "its size and first bytes in hex). A leased message is invisible to the group's other\n"
    "consumers until the lease ends; acknowledge it with 'sluice ack QUEUE RECEIPT', or with\n"
    "--ack here. Exits 1 when no message arrived within the wait.\n"
    "\n"
    "Options:\n"
    "  -g, --group G          consumer group (default: default)\n"
    "  -w, --wait D           long-poll up to D for a first message (default 0; the server\n"
    "                         caps it, 30s by default)\n"
    "  -n, --max N            lease up to N messages, 1 to 1000 (default 1)\n"
    "      --visibility D     lease length (default: the queue's visibility timeout)\n"
    "      --ack              acknowledge the messages once they are printed\n"
    "      --json             print the server's JSON reply (the lease reply, with --ack too)\n";

static const struct option cmd_msg_consume_opts[] = {
    CLI_LONG_COMMON,
    {"group", required_argument, NULL, 'g'},
    {"wait", required_argument, NULL, 'w'},
    {"max", required_argument, NULL, 'n'},
    {"visibility", required_argument, NULL, OPT_VISIBILITY},
    {"ack", no_argument, NULL, OPT_ACK},
    {NULL, 0, NULL, 0},
};

int cmd_msg_consume(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    const char *group = NULL, *wait = NULL, *max = NULL, *visibility = NULL;
    bool ack = false, undecodable = false;
    int64_t wait_ms = 0;
    long long n;
    client_req_t req;
    client_reply_t rep;
    json_t *receipts = json_array();
    int c, err, status = CLI_EXIT_OK;

    memset(&req, 0, sizeof req);
    memset(&rep, 0, sizeof rep);
    sl_assert(receipts != NULL);
    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON "g:w:n:", cmd_msg_consume_opts,
                             &status)) != -1) {
        switch (c) {
        case CLI_OPT_STOP:
            goto out;
        case 'g':
            group = optarg;
            break;
        case 'w':
            if ((status = cmd_msg_check_dur(cmd, "--wait", optarg, &wait_ms)) != 0)
                goto out;
            wait = optarg;
            break;
        case 'n':
            if (cli_parse_int(optarg, 1, CMD_MSG_MAX_RECEIPTS, &n) < 0) {
                status = cli_usage(cmd, "--max: '%s' is not a number from 1 to %d.", optarg,
                                   CMD_MSG_MAX_RECEIPTS);
                goto out;
            }
            max = optarg;
            break;
        case OPT_VISIBILITY:
            if ((status = cmd_msg_check_dur(cmd, "--visibility", optarg, NULL)) != 0)
                goto out;
            visibility = optarg;
            break;
        case OPT_ACK:
            ack = true;
            break;
        }
    }
    if (argc - optind != 1) {
        status = cli_usage(cmd, argc - optind < 1 ? "consume: missing QUEUE."
                                                  : "consume: too many arguments.");
        goto out;
    }
    const char *queue = argv[optind];

    client_req_init(&req, cli->client, "GET", "v1", "queues", queue, "messages", NULL);
    client_req_query(&req, "group", group);
    client_req_query(&req, "wait", wait);
    client_req_query(&req, "max", max);
    client_req_query(&req, "visibility", visibility);
    req.wait_ms = wait_ms;
    err = client_send(cli->client, &req, &rep);
    if (err < 0) {
        status = cli_exit_status(cli, err);
        goto out;
    }
    const json_t *msgs = json_object_get(rep.json, "messages");
    if (!json_is_array(msgs)) {
        status = cli_bad_reply(cli, "\"messages\" array");
        goto out;
    }

    size_t i;
    json_t *m;
    if (cli->json)
        cli_print_reply(&rep);
    json_array_foreach(msgs, i, m)
    {
        if (!cli->json) {
            if (i > 0)
                putchar('\n');
            if (cmd_msg_print_block(m) < 0)
                undecodable = true;
        }
        const json_t *receipt = json_object_get(m, "receipt");
        if (json_is_string(receipt))
            json_array_append(receipts, (json_t *)receipt);
    }
    if (json_array_size(msgs) == 0) {
        status = CLI_EXIT_EMPTY;
        goto out;
    }
    if (undecodable) {
        /* Acking would drop messages nobody has seen; leave them to be delivered again. */
        cli_error("a message body in the reply is not valid base64%s.",
                  ack ? "; nothing was acknowledged" : "");
        status = CLI_EXIT_SERVER;
        goto out;
    }
    if (ack) {
        /* What was printed must be out before the ack: if the ack then fails, the person or
         * pipe has the messages and the error, in that order. */
        fflush(stdout);
        if (json_array_size(receipts) != json_array_size(msgs)) {
            status = cli_bad_reply(cli, "\"receipt\" for every message");
            goto out;
        }
        status = cmd_msg_settle(cli, queue, "ack", "acked", receipts, NULL, NULL, true);
    }

out:
    client_reply_cleanup(&rep);
    client_req_cleanup(&req);
    json_decref(receipts);
    return status;
}

/* ---- pop ---- */

const char cmd_msg_pop_help[] =
    "Receives one message from QUEUE and deletes it in the same step (at-most-once delivery),\n"
    "and writes its body to standard output verbatim, with nothing added: made for pipes\n"
    "(sluice pop jobs > job.bin). Exits 1 when the queue was empty within the wait.\n"
    "\n"
    "Options:\n"
    "  -g, --group G          consumer group (default: default)\n"
    "  -w, --wait D           long-poll up to D for a message (default 0)\n"
    "      --json             print the server's JSON reply (body in base64) instead\n";

static const struct option cmd_msg_pop_opts[] = {
    CLI_LONG_COMMON,
    {"group", required_argument, NULL, 'g'},
    {"wait", required_argument, NULL, 'w'},
    {NULL, 0, NULL, 0},
};

int cmd_msg_pop(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    const char *group = NULL, *wait = NULL;
    int64_t wait_ms = 0;
    client_req_t req;
    client_reply_t rep;
    int c, err, status = CLI_EXIT_OK;

    memset(&req, 0, sizeof req);
    memset(&rep, 0, sizeof rep);
    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON "g:w:", cmd_msg_pop_opts,
                             &status)) != -1) {
        switch (c) {
        case CLI_OPT_STOP:
            goto out;
        case 'g':
            group = optarg;
            break;
        case 'w':
            if ((status = cmd_msg_check_dur(cmd, "--wait", optarg, &wait_ms)) != 0)
                goto out;
            wait = optarg;
            break;
        }
    }
    if (argc - optind != 1) {
        status =
            cli_usage(cmd, argc - optind < 1 ? "pop: missing QUEUE." : "pop: too many arguments.");
        goto out;
    }

    client_req_init(&req, cli->client, "POST", "v1", "queues", argv[optind], "pop", NULL);
    client_req_query(&req, "group", group);
    client_req_query(&req, "wait", wait);
    if (!cli->json) {
        client_req_query(&req, "raw", "1");
        req.raw_reply = true;
    }
    req.wait_ms = wait_ms;
    err = client_send(cli->client, &req, &rep);
    if (err < 0) {
        status = cli_exit_status(cli, err);
        goto out;
    }
    if (cli->json) {
        const json_t *m = json_object_get(rep.json, "message");
        if (m == NULL) {
            status = cli_bad_reply(cli, "\"message\" field");
            goto out;
        }
        cli_print_reply(&rep);
        if (json_is_null(m))
            status = CLI_EXIT_EMPTY;
    } else if (rep.status == 204) {
        status = CLI_EXIT_EMPTY;
    } else {
        fwrite(buf_str(&rep.body), 1, rep.body.len, stdout);
    }

out:
    client_reply_cleanup(&rep);
    client_req_cleanup(&req);
    return status;
}

/* ---- ack and release ---- */

const char cmd_msg_ack_help[] =
    "Acknowledges leased messages of QUEUE by their receipts (as printed by consume), so they\n"
    "are not delivered to the group again. Prints how many were acknowledged. A receipt whose\n"
    "lease has ended (expired, acked or released already) is reported on stderr, and the exit\n"
    "status is then 3. At most 1000 receipts per call.\n"
    "\n"
    "Options:\n"
    "  --json                 print the server's JSON reply\n";

static const struct option cmd_msg_ack_opts[] = {
    CLI_LONG_COMMON,
    {NULL, 0, NULL, 0},
};

const char cmd_msg_release_help[] =
    "Gives leased messages of QUEUE back by their receipts (a negative acknowledgement): they\n"
    "become visible again, at once or after --delay, and the delivery counts as an attempt (a\n"
    "message out of attempts moves to the dead-letter queue). Prints how many were released.\n"
    "A receipt whose lease has ended is reported on stderr, and the exit status is then 3.\n"
    "At most 1000 receipts per call.\n"
    "\n"
    "Options:\n"
    "  --delay D              keep the messages invisible for D first (default 0)\n"
    "  --error TEXT           record TEXT as the delivery's error (shown in dead letters)\n"
    "  --json                 print the server's JSON reply\n";

static const struct option cmd_msg_release_opts[] = {
    CLI_LONG_COMMON,
    {"delay", required_argument, NULL, OPT_DELAY},
    {"error", required_argument, NULL, OPT_ERROR},
    {NULL, 0, NULL, 0},
};

/* ack and release differ only in their options and endpoint. */
static int cmd_msg_ack_or_release(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv,
                                  bool release)
{
    const char *delay = NULL, *error = NULL;
    json_t *receipts = json_array();
    int c, status = CLI_EXIT_OK;

    sl_assert(receipts != NULL);
    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON,
                             release ? cmd_msg_release_opts : cmd_msg_ack_opts, &status)) != -1) {
        switch (c) {
        case CLI_OPT_STOP:
            goto out;
        case OPT_DELAY:
            if ((status = cmd_msg_check_dur(cmd, "--delay", optarg, NULL)) != 0)
                goto out;
            delay = optarg;
            break;
        case OPT_ERROR:
            error = optarg;
            break;
        }
    }
    if (argc - optind < 2) {
        status = cli_usage(
            cmd, argc - optind < 1 ? "%s: missing QUEUE and RECEIPT." : "%s: missing RECEIPT.",
            cmd->name);
        goto out;
    }
    if (argc - optind - 1 > CMD_MSG_MAX_RECEIPTS) {
        status = cli_usage(cmd, "%s: at most %d receipts per call (xargs -n %d helps).", cmd->name,
                           CMD_MSG_MAX_RECEIPTS, CMD_MSG_MAX_RECEIPTS);
        goto out;
    }
    for (int i = optind + 1; i < argc; i++)
        json_array_append_new(receipts, json_string(argv[i]));
    status = cmd_msg_settle(cli, argv[optind], release ? "release" : "ack",
                            release ? "released" : "acked", receipts, delay, error, false);

out:
    json_decref(receipts);
    return status;
}

int cmd_msg_ack(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    return cmd_msg_ack_or_release(cli, cmd, argc, argv, false);
}

int cmd_msg_release(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    return cmd_msg_ack_or_release(cli, cmd, argc, argv, true);
}

/* ---- peek ---- */

const char cmd_msg_peek_help[] =
    "Lists messages of QUEUE in id order without leasing them: id, state for the group (ready,\n"
    "delayed, leased, retry, waiting_key, acked), attempts and the start of the body. When more\n"
    "messages follow, says on stderr how to continue (--after).\n"
    "\n"
    "Options:\n"
    "  -g, --group G          whose view of message state (default: default)\n"
    "      --after N          only messages with an id greater than N (default 0)\n"
    "      --limit N          at most N messages, 1 to 1000 (default 10)\n"
    "      --json             print the server's JSON reply\n";

static const struct option cmd_msg_peek_opts[] = {
    CLI_LONG_COMMON,
    {"group", required_argument, NULL, 'g'},
    {"after", required_argument, NULL, OPT_AFTER},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {NULL, 0, NULL, 0},
};

int cmd_msg_peek(cli_t *cli, const cli_cmd_t *cmd, int argc, char **argv)
{
    const char *group = NULL, *after = NULL, *limit = NULL;
    long long n;
    client_req_t req;
    client_reply_t rep;
    table_t *t = NULL;
    buf_t preview;
    int c, err, status = CLI_EXIT_OK;

    memset(&req, 0, sizeof req);
    memset(&rep, 0, sizeof rep);
    buf_init(&preview);
    while ((c = cli_next_opt(cli, cmd, argc, argv, CLI_SHORT_COMMON "g:", cmd_msg_peek_opts,
                             &status)) != -1) {
        switch (c) {
        case CLI_OPT_STOP:
            goto out;
        case 'g':
            group = optarg;
            break;
        case OPT_AFTER:
            if (cli_parse_int(optarg, 0, INT64_MAX, &n) < 0) {
                status = cli_usage(cmd, "--after: '%s' is not a message id.", optarg);
                goto out;
            }
            after = optarg;
            break;
        case OPT_LIMIT:
            if (cli_parse_int(optarg, 1, 1000, &n) < 0) {
                status = cli_usage(cmd, "--limit: '%s' is not a number from 1 to 1000.", optarg);
                goto out;
            }
            limit = optarg;
            break;
        }
    }
    if (argc - optind != 1) {
        status = cli_usage(cmd, argc - optind < 1 ? "peek: missing QUEUE."
                                                  : "peek: too many arguments.");
        goto out;
    }

    client_req_init(&req, cli->client, "GET", "v1", "queues", argv[optind], "peek", NULL);
    client_req_query(&req, "group", group);
    client_req_query(&req, "after", after);
    client_req_query(&req, "limit", limit);
    err = client_send(cli->client, &req, &rep);
    if (err < 0) {
        status = cli_exit_status(cli, err);
        goto out;
    }
    const json_t *msgs = json_object_get(rep.json, "messages");
    if (!json_is_array(msgs)) {
        status = cli_bad_reply(cli, "\"messages\" array");
        goto out;
    }
    if (cli->json) {
        cli_print_reply(&rep);
        goto out;
    }

    size_t i;
    json_t *m;
    char id[32], att[32];
    t = table_new(4, true);
    table_add(t, "ID");
    table_add(t, "STATE");
    table_add(t, "ATTEMPTS");
    table_add(t, "BODY");
    json_array_foreach(msgs, i, m)
    {
        const json_t *b64 = json_object_get(m, "body");
        unsigned char *body = NULL;
        size_t len = 0;

        buf_cleanup(&preview);
        if (json_is_string(b64) &&
            body_decode(json_string_value(b64), json_string_length(b64), &body, &len) == 0)
            body_preview(&preview, body, len, CMD_MSG_PREVIEW);
        else
            buf_adds(&preview, "(no valid base64 body in the reply)");
        sl_free(body);
        table_add(t, cli_json_text(json_object_get(m, "id"), id, sizeof id));
        table_add(t, json_string_value(json_object_get(m, "state")));
        table_add(t, cli_json_text(json_object_get(m, "attempts"), att, sizeof att));
        table_add(t, buf_str(&preview));
    }
    table_print(t, stdout);
    const char *next = cli_json_text(json_object_get(rep.json, "next_after"), id, sizeof id);
    if (next != NULL)
        cli_error("more messages may follow: add --after %s.", next);

out:
    table_free(t);
    buf_cleanup(&preview);
    client_reply_cleanup(&rep);
    client_req_cleanup(&req);
    return status;
}
