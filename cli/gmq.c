/*
 * gmq.c — the CLI's GMQ client mode: GMQ's client flags and its one-request TCP exchange.
 *
 * Flags are parsed the way Go's flag package parsed them for GMQ's client: one or two dashes,
 * "-a P" or "-a=P", parsing stops at the first argument that is not a flag. The request is the
 * object GMQ's client wrote (gmqwire_request: operation, queue, payload, "confirmation":"",
 * "error":null, and auth when credentials are given) in one write; then everything the server
 * sends until it closes is the reply, written out verbatim with no newline added, as the original
 * client did.
 *
 * Where we differ from GMQ's client, on purpose (docs/cli.md): the exit status says whether the
 * server confirmed (the original exited 0 on any reply); -user and -password are optional
 * (v1.3's client had none; HEAD's required both) but go together; -o truncates the file (the
 * original overwrote in place and left the old tail); a missing -a or -q is a usage error
 * (status 2, not 1); an unreachable server is a message and status 4, not a Go panic; and
 * connecting and reading have time limits.
 */
#include "gmq.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "gmqwire.h"
#include "mem.h"

#define GMQ_CLI_DEFAULT_SERVER "localhost:4567"
#define GMQ_CLI_DEFAULT_PORT "4567"
#define GMQ_CLI_TIMEOUT_MS 30000 /* to connect, and between bytes of the reply */
#define GMQ_CLI_MAX_REPLY (1ULL << 30)

/* The flags, as GMQ's client named them; all take a value. */
enum { F_A, F_Q, F_M, F_O, F_P, F_L, F_S, F_USER, F_PASSWORD, F_COUNT };
static const char *const flag_names[F_COUNT] = {"a", "q", "m",    "o",       "p",
                                                "l", "s", "user", "password"};

static FILE *gmq_log; /* where diagnostics go: stderr, or the -l file */

static void gmq_err(const char *fmt, ...) SL_PRINTF(1, 2);

static void gmq_err(const char *fmt, ...)
{
    va_list ap;
    FILE *f = gmq_log ? gmq_log : stderr;
    fputs("sluice: ", f);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

static void gmq_usage(FILE *f)
{
    fputs("Usage: sluice -a P|S|L -q QUEUE [-m BASE64] [-s HOST:PORT] [-p tcp|tcp4|tcp6]\n"
          "              [-user USER -password PASSWORD] [-o FILE] [-l FILE]\n"
          "\n"
          "GMQ client mode: speaks GMQ's TCP protocol (sluiced's gmq_listen), with the flags of\n"
          "GMQ's own client. The server's reply is written verbatim, without a newline.\n"
          "\n"
          "  -a ACTION      P = publish, S = subscribe (pop one message), L = length\n"
          "  -q QUEUE       the queue\n"
          "  -m BASE64      the message, base64-encoded (with -a P)\n"
          "  -s HOST:PORT   the server (default " GMQ_CLI_DEFAULT_SERVER ")\n"
          "  -p PROTOCOL    tcp (default), tcp4 or tcp6\n"
          "  -user USER, -password PASSWORD\n"
          "                 GMQ credentials, sent as GMQ's tokens (an encoding, not a secret)\n"
          "  -o FILE        write the reply to FILE instead of standard output\n"
          "  -l FILE        append error messages to FILE instead of standard error\n"
          "\n"
          "Exit status: 0 the server confirmed (\"Y\"); 2 usage error; 3 the server refused\n"
          "(\"N\", its error is shown) or did not answer as GMQ; 4 the server could not be\n"
          "reached; 5 the output file could not be written.\n",
          f);
}

/* Index of the flag in argument a ("-q", "--user=x"), with *value set when it has "=VALUE";
 * -1 when a names no flag of ours. */
static int flag_of(const char *a, const char **value)
{
    const char *name = a + 1 + (a[1] == '-');
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t)(eq - name) : strlen(name);
    *value = eq ? eq + 1 : NULL;
    for (int i = 0; i < F_COUNT; i++)
        if (strlen(flag_names[i]) == n && strncmp(flag_names[i], name, n) == 0)
            return i;
    return -1;
}

bool gmq_cli_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (a[0] != '-' || a[1] == '\0' || strcmp(a, "--") == 0)
            return false; /* a command (or the end of the options) comes first */
        int f = flag_of(a, &v);
        if (f >= 0 && f != F_S)
            return true;
        /* sluice's own options: --server and -s take a value */
        if (v == NULL && (f == F_S || strcmp(a, "--server") == 0 || strcmp(a, "-server") == 0))
            i++;
    }
    return false;
}

/* Splits HOST[:PORT] or [V6][:PORT] into host and port (buffers of size bytes). Returns 0 or -1
 * when the address is malformed. */
static int split_server(const char *s, char *host, char *port, size_t size)
{
    const char *colon;
    size_t hlen;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return -1;
        hlen = (size_t)(close - s - 1);
        memcpy(host, s + 1, hlen < size ? hlen : 0);
        colon = close[1] ? close + 1 : NULL;
    } else {
        colon = strrchr(s, ':');
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        memcpy(host, s, hlen < size ? hlen : 0);
    }
    if (hlen == 0 || hlen >= size)
        return -1;
    host[hlen] = '\0';
    const char *p = colon ? colon + 1 : GMQ_CLI_DEFAULT_PORT;
    size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 5 || p[digits] != '\0' || atoi(p) > 65535)
        return -1;
    snprintf(port, size, "%s", p);
    return 0;
}

/* Waits up to GMQ_CLI_TIMEOUT_MS for events on fd. Returns > 0 when ready, 0 on timeout, < 0 on
 * error (errno set). */
static int wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    do
        r = poll(&p, 1, GMQ_CLI_TIMEOUT_MS);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Connects to the first address of host:port that answers. Returns the socket, or -1 with the
 * reason printed. */
static int gmq_connect(const char *server, const char *host, const char *port, int family)
{
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *ai, *p;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0) {
        gmq_err("cannot resolve '%s': %s.", server, gai_strerror(gai));
        return -1;
    }
    int fd = -1, last = 0;
    for (p = ai; p && fd < 0; p = p->ai_next) {
        fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, p->ai_addr, p->ai_addrlen) < 0) {
            int err = errno, r = 0;
            socklen_t len = sizeof err;
            if (err == EINPROGRESS) {
                r = wait_fd(fd, POLLOUT);
                if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                    err = errno;
                else if (r == 0)
                    err = ETIMEDOUT;
                else if (r < 0)
                    err = errno;
            }
            if (err) {
                last = err;
                close(fd);
                fd = -1;
            }
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        gmq_err("cannot connect to %s: %s.", server, strerror(last));
    return fd;
}

/* Sends req and reads until the server closes. Returns 0 with the reply in *out (sl_malloc'd,
 * NUL-terminated), or -1 with the reason printed. */
static int gmq_exchange(int fd, const char *server, const char *req, size_t len, char **out,
                        size_t *outlen)
{
    size_t sent = 0, n = 0, cap = 4096;
    char *buf;
    while (sent < len) {
        ssize_t w = send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            int r = wait_fd(fd, POLLOUT);
            if (r <= 0) {
                gmq_err("cannot send the request to %s: %s.", server,
                        r == 0 ? "timed out" : strerror(errno));
                return -1;
            }
            continue;
        }
        if (w < 0) {
            gmq_err("cannot send the request to %s: %s.", server, strerror(errno));
            return -1;
        }
        sent += (size_t)w;
    }
    buf = sl_malloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            if (cap >= GMQ_CLI_MAX_REPLY) {
                gmq_err("the reply from %s is larger than 1 GiB.", server);
                sl_free(buf);
                return -1;
            }
            buf = sl_realloc(buf, cap *= 2);
        }
        ssize_t r = recv(fd, buf + n, cap - n - 1, 0);
        if (r > 0) {
            n += (size_t)r;
            continue;
        }
        if (r == 0)
            break;
        if (errno == EINTR)
            continue;
        int w = errno == EAGAIN ? wait_fd(fd, POLLIN) : -1;
        if (w > 0)
            continue;
        gmq_err("no complete reply from %s: %s.", server, w == 0 ? "timed out" : strerror(errno));
        sl_free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return 0;
}

/* Checks the reply: CLI_EXIT_OK when it confirms, else CLI_EXIT_SERVER with the server's error
 * printed. */
static int gmq_verdict(const char *reply, size_t len)
{
    json_error_t jerr;
    json_t *o = json_loadb(reply, len, 0, &jerr);
    const char *conf = json_string_value(json_object_get(o, "confirmation"));
    int status = CLI_EXIT_SERVER;
    if (conf == NULL) {
        gmq_err("the server's reply is not a GMQ reply (no \"confirmation\").");
    } else if (strcmp(conf, "Y") == 0) {
        status = CLI_EXIT_OK;
    } else {
        json_t *e = json_object_get(o, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        gmq_err("%s: %s", code ? code : "refused",
                msg ? msg : "the server did not confirm (\"confirmation\" is not \"Y\").");
    }
    json_decref(o);
    return status;
}

int gmq_cli_run(int argc, char **argv)
{
    const char *val[F_COUNT] = {NULL};
    int status = CLI_EXIT_USAGE;
    char host[256], port[16];
    char *req = NULL, *reply = NULL;
    size_t req_len, reply_len;
    FILE *out = stdout;
    int fd = -1;

    gmq_log = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == '\0') {
            gmq_err("unexpected argument '%s' (GMQ client mode takes flags only).", a);
            goto usage;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--h") || !strcmp(a, "-help") || !strcmp(a, "--help")) {
            gmq_usage(stdout);
            return CLI_EXIT_OK;
        }
        int f = flag_of(a, &v);
        if (f < 0) {
            gmq_err("unknown flag '%s' in GMQ client mode.", a);
            goto usage;
        }
        if (v == NULL) {
            if (i + 1 >= argc) {
                gmq_err("flag '%s' needs a value.", a);
                goto usage;
            }
            v = argv[++i];
        }
        val[f] = v;
    }
    if (val[F_L] && *val[F_L]) {
        gmq_log = fopen(val[F_L], "a");
        if (gmq_log == NULL) {
            cli_error("cannot open the log file '%s': %s.", val[F_L], strerror(errno));
            return CLI_EXIT_LOCAL;
        }
    }
    if (!val[F_A] || !*val[F_A]) {
        gmq_err("the action is missing: give -a P (publish), -a S (subscribe) or -a L (length).");
        goto usage;
    }
    if (!val[F_Q] || !*val[F_Q]) {
        gmq_err("the queue is missing: give -q QUEUE.");
        goto usage;
    }
    if (!val[F_USER] != !val[F_PASSWORD]) {
        gmq_err("-user and -password go together.");
        goto usage;
    }
    const char *proto = val[F_P] ? val[F_P] : "tcp";
    int family = !strcmp(proto, "tcp4") ? AF_INET : !strcmp(proto, "tcp6") ? AF_INET6 : AF_UNSPEC;
    if (strcmp(proto, "tcp") && family == AF_UNSPEC) {
        gmq_err("-p '%s' is not tcp, tcp4 or tcp6.", proto);
        goto usage;
    }
    const char *server = val[F_S] ? val[F_S] : GMQ_CLI_DEFAULT_SERVER;
    if (split_server(server, host, port, sizeof host)) {
        gmq_err("-s '%s' is not HOST:PORT.", server);
        goto usage;
    }
    req = gmqwire_request(val[F_A], val[F_Q], val[F_M] ? val[F_M] : "", val[F_USER],
                          val[F_PASSWORD], &req_len);
    if (req == NULL) {
        gmq_err("-a, -q, -m, -user and -password must be UTF-8 text.");
        goto usage;
    }
    if (val[F_O] && (out = fopen(val[F_O], "w")) == NULL) {
        gmq_err("cannot open the output file '%s': %s.", val[F_O], strerror(errno));
        status = CLI_EXIT_LOCAL;
        goto done;
    }
    status = CLI_EXIT_UNREACHABLE;
    if ((fd = gmq_connect(server, host, port, family)) < 0 ||
        gmq_exchange(fd, server, req, req_len, &reply, &reply_len) < 0)
        goto done;
    status = gmq_verdict(reply, reply_len);
    if (fwrite(reply, 1, reply_len, out) != reply_len || fflush(out) != 0) {
        gmq_err("cannot write the reply: %s.", strerror(errno));
        status = CLI_EXIT_LOCAL;
    }
    goto done;
usage:
    fputs("Usage: sluice -a P|S|L -q QUEUE [-m BASE64] [-s HOST:PORT] [other GMQ flags]\n"
          "Try 'sluice -a P -h' for GMQ client mode's flags.\n",
          gmq_log ? gmq_log : stderr);
    status = CLI_EXIT_USAGE;
done:
    if (fd >= 0)
        close(fd);
    if (out != stdout && out != NULL && fclose(out) != 0 && status == CLI_EXIT_OK) {
        gmq_err("cannot write the output file '%s': %s.", val[F_O], strerror(errno));
        status = CLI_EXIT_LOCAL;
    }
    if (gmq_log)
        fclose(gmq_log);
    gmq_log = NULL;
    sl_free(req);
    sl_free(reply);
    return status;
}
