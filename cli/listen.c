/*
 * listen.c — the HTTP receiver of `sluice listen`.
 *
 * What arrives. src/deliver.c POSTs each message to the subscription's URL with the message as
 * the body and these headers: webhook-id ("<queue>:<id>"), webhook-timestamp (unix seconds),
 * webhook-signature ("v1,<base64 of HMAC-SHA256(key, id "." timestamp "." body)>"; the Standard
 * Webhooks convention allows several, separated by spaces, while a key is being rotated), and
 * Sluice-Queue, Sluice-Id, Sluice-Attempt and Sluice-Subscription. The signature is checked here
 * with nettle's HMAC, independently of the server's src/webhook.c, so that `sluice listen` also
 * tests the server's signing instead of sharing its mistakes. A delivery is accepted only when
 * one of its v1 signatures matches (compared in constant time) and its timestamp is within
 * LISTEN_TOLERANCE_S of our clock, as the convention's libraries require against replays.
 *
 * A request in MHD's terms: the access handler is called once with the headers (a request state
 * is made; anything but POST is answered 405 at once), once per piece of body (appended, up to
 * LISTEN_MAX_BODY), and once more at the end, when the delivery is checked, printed and
 * answered. The completion callback frees the state.
 *
 * Stopping after cfg.count deliveries: the count is reached when the last one is printed, but
 * listen_run() returns only once MHD reports every printed delivery's answer as finished, so the
 * server gets the 204 it needs to ack the message rather than a closed connection (it would
 * deliver the message again). Deliveries that arrive in between are answered 503 and not shown.
 *
 * One thread: MHD runs in "external polling" mode, its epoll descriptor polled together with
 * the caller's signal descriptor, so a signal is noticed at once without a handler and without
 * waking up when nothing happens.
 */
#include "listen.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "body.h"
#include "buf.h"
#include "cli.h"
#include "mem.h"

/* The longest secret taken (the server's limit is lower). */
#define LISTEN_SECRET_MAX 512
/* Bytes of a binary body shown in hex. */
#define LISTEN_HEX 16
/* Idle keep-alive connections from the server are closed after this many seconds. */
#define LISTEN_IDLE_S 60
/* Characters of a header value quoted in a warning. */
#define LISTEN_QUOTE_MAX 100

struct listen {
    listen_config_t cfg;
    struct MHD_Daemon *d;
    int port;
    bool have_key;
    unsigned char key[LISTEN_SECRET_MAX];
    size_t keylen;
    char *sub_id;        /* owned; NULL when unknown */
    long long delivered; /* printed */
    long long answering; /* printed, answer not finished yet */
    bool output_failed;
};

/* One request, from its headers to its completion. */
typedef struct listen_req {
    buf_t body;
    bool too_big;   /* the body passed LISTEN_MAX_BODY; the rest is dropped */
    bool responded; /* a response is queued */
    bool counted;   /* printed as a delivery */
} listen_req_t;

static void listen_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    (void)cls;
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strcspn(line, "\r\n");
    fprintf(stderr, "sluice: listen: libmicrohttpd: %.*s\n", (int)n, line);
}

static const char *listen_header(struct MHD_Connection *mc, const char *name)
{
    return MHD_lookup_connection_value(mc, MHD_HEADER_KIND, name);
}

/* Copies up to LISTEN_QUOTE_MAX characters of s into out (room for LISTEN_QUOTE_MAX + 4) with
 * anything but visible ASCII replaced by '?', so a header quoted in a warning cannot play
 * tricks on the terminal. Returns out. */
static const char *listen_quote(const char *s, char *out)
{
    size_t i = 0;
    for (; s[i] && i < LISTEN_QUOTE_MAX; i++)
        out[i] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '?';
    strcpy(out + i, s[i] ? "..." : "");
    return out;
}

/* Queues the answer status with text as a plain-text body ("" for none). */
static enum MHD_Result listen_respond(struct MHD_Connection *mc, unsigned status, const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return MHD_NO;
    if (*text)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST");
    enum MHD_Result ret = MHD_queue_response(mc, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Parses the decimal integer s into *out. Returns false when s is not one. */
static bool listen_int(const char *s, long long *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Checks the Standard Webhooks headers of the delivery on mc, whose body is body, against l's
 * key. Returns NULL when it passes, else why not (a sentence fragment, static). */
static const char *listen_check(const listen_t *l, struct MHD_Connection *mc, const buf_t *body)
{
    const char *id = listen_header(mc, "webhook-id");
    const char *ts = listen_header(mc, "webhook-timestamp");
    const char *sigs = listen_header(mc, "webhook-signature");
    long long t;

    if (id == NULL || ts == NULL || sigs == NULL)
        return "it lacks the webhook-id, webhook-timestamp or webhook-signature header";
    if (!listen_int(ts, &t))
        return "its webhook-timestamp is not a number of seconds";
    long long now = (long long)time(NULL);
    if (t < now - LISTEN_TOLERANCE_S || t > now + LISTEN_TOLERANCE_S)
        return "its webhook-timestamp is more than 5 minutes away from this machine's clock";

    struct hmac_sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    hmac_sha256_set_key(&ctx, l->keylen, l->key);
    hmac_sha256_update(&ctx, strlen(id), (const uint8_t *)id);
    hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
    hmac_sha256_update(&ctx, strlen(ts), (const uint8_t *)ts);
    hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
    hmac_sha256_update(&ctx, body->len, (const uint8_t *)buf_str(body));
    hmac_sha256_digest(&ctx, sizeof digest, digest);

    const size_t b64len = B64_ENCODED_LEN(SHA256_DIGEST_SIZE);
    for (const char *p = sigs; *p;) {
        size_t n = strcspn(p, " ");
        unsigned char sig[B64_DECODED_MAX(B64_ENCODED_LEN(SHA256_DIGEST_SIZE))];
        size_t siglen;
        if (n == 3 + b64len && strncmp(p, "v1,", 3) == 0 &&
            b64_decode(p + 3, b64len, sig, &siglen) == 0 && siglen == sizeof digest &&
            memeql_sec(sig, digest, sizeof digest))
            return NULL;
        p += n;
        p += strspn(p, " ");
    }
    return "its webhook-signature does not match the secret";
}

/* Warns on stderr that the delivery on mc was refused, and why. */
static void listen_warn(const listen_t *l, struct MHD_Connection *mc, const char *why)
{
    const char *wid = listen_header(mc, "webhook-id");
    const char *sub = listen_header(mc, "Sluice-Subscription");
    char q1[LISTEN_QUOTE_MAX + 4], q2[LISTEN_QUOTE_MAX + 4];

    if (wid != NULL)
        cli_error("warning: refused the delivery with webhook-id '%s' (answered 401): %s.",
                  listen_quote(wid, q1), why);
    else
        cli_error("warning: refused a delivery (answered 401): %s.", why);
    if (sub != NULL && l->sub_id != NULL && strcmp(sub, l->sub_id) != 0)
        cli_error("warning: it came from subscription '%s', not from this listener's '%s': only "
                  "the secret of '%s' is known here.",
                  listen_quote(sub, q1), listen_quote(l->sub_id, q2), l->sub_id);
}

/* Sets o[name] to the header's value as a string (null when absent or not UTF-8). */
static void listen_json_str(json_t *o, const char *name, const char *value)
{
    json_t *v = value ? json_string(value) : NULL;
    json_object_set_new(o, name, v ? v : json_null());
}

/* Sets o[name] to the header's value as an integer (null when absent or not one). */
static void listen_json_int(json_t *o, const char *name, const char *value)
{
    long long n;
    json_object_set_new(o, name, listen_int(value, &n) ? json_integer(n) : json_null());
}

/* Prints the delivery on mc (body, and with cfg.json its headers) to stdout and flushes it.
 * Returns 0, or SL_EIO when stdout could not be written (errno says why). */
static int listen_print(const listen_t *l, struct MHD_Connection *mc, const buf_t *body,
                        bool verified)
{
    const unsigned char *p = (const unsigned char *)buf_str(body);
    size_t n = body->len;

    if (l->cfg.json) {
        json_t *o = json_object();
        json_t *text = json_stringn((const char *)p, n);
        sl_assert(o != NULL);
        listen_json_str(o, "queue", listen_header(mc, "Sluice-Queue"));
        listen_json_int(o, "id", listen_header(mc, "Sluice-Id"));
        listen_json_int(o, "attempt", listen_header(mc, "Sluice-Attempt"));
        listen_json_str(o, "subscription", listen_header(mc, "Sluice-Subscription"));
        listen_json_str(o, "webhook_id", listen_header(mc, "webhook-id"));
        listen_json_str(o, "content_type", listen_header(mc, MHD_HTTP_HEADER_CONTENT_TYPE));
        json_object_set_new(o, "verified", json_boolean(verified));
        if (text != NULL) {
            json_object_set_new(o, "body", text);
        } else { /* not UTF-8: base64, as the API carries bodies */
            char *b = sl_malloc(B64_ENCODED_LEN(n) + 1);
            b64_encode(p, n, b);
            json_object_set_new(o, "body", json_string(b));
            json_object_set_new(o, "encoding", json_string("base64"));
            sl_free(b);
        }
        char *s = json_dumps(o, JSON_COMPACT);
        sl_assert(s != NULL);
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
        json_decref(o);
    } else if (body_is_text(p, n)) {
        fwrite(p, 1, n, stdout);
        if (n == 0 || p[n - 1] != '\n')
            fputc('\n', stdout);
    } else {
        buf_t d;
        buf_init(&d);
        body_describe_binary(&d, p, n, LISTEN_HEX);
        puts(buf_str(&d));
        buf_cleanup(&d);
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return SL_EIO;
    return 0;
}

/* The end of a request: check, print, answer. */
static enum MHD_Result listen_deliver(listen_t *l, struct MHD_Connection *mc, listen_req_t *r)
{
    bool verified = false;

    if (r->too_big)
        return listen_respond(mc, MHD_HTTP_CONTENT_TOO_LARGE, "The body is too large.\n");
    if (l->output_failed || (l->cfg.count > 0 && l->delivered >= l->cfg.count))
        return listen_respond(mc, MHD_HTTP_SERVICE_UNAVAILABLE, "sluice listen is stopping.\n");
    if (l->have_key) {
        const char *why = listen_check(l, mc, &r->body);
        if (why != NULL) {
            listen_warn(l, mc, why);
            return listen_respond(mc, MHD_HTTP_UNAUTHORIZED, "The signature check failed.\n");
        }
        verified = true;
    }
    if (listen_print(l, mc, &r->body, verified) < 0) {
        cli_error("cannot write standard output: %s.", strerror(errno));
        l->output_failed = true;
        return listen_respond(mc, MHD_HTTP_SERVICE_UNAVAILABLE, "sluice listen is stopping.\n");
    }
    l->delivered++;
    l->answering++;
    r->counted = true;
    return listen_respond(mc, l->cfg.status, "");
}

static enum MHD_Result listen_on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                         const char *method, const char *version,
                                         const char *upload, size_t *upload_size, void **con_cls)
{
    listen_t *l = cls;
    listen_req_t *r = *con_cls;
    (void)url;
    (void)version;

    if (r == NULL) {
        r = sl_calloc(1, sizeof *r);
        buf_init(&r->body);
        *con_cls = r;
        if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
            r->responded = true;
            return listen_respond(mc, MHD_HTTP_METHOD_NOT_ALLOWED,
                                  "sluice listen takes deliveries: POST only.\n");
        }
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (*upload_size > LISTEN_MAX_BODY - r->body.len)
            r->too_big = true;
        if (!r->too_big)
            buf_add(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->responded)
        return MHD_YES;
    r->responded = true;
    return listen_deliver(l, mc, r);
}

static void listen_on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
    listen_t *l = cls;
    listen_req_t *r = *con_cls;
    (void)mc;
    (void)toe;

    if (r == NULL)
        return;
    if (r->counted)
        l->answering--;
    buf_cleanup(&r->body);
    sl_free(r);
    *con_cls = NULL;
}

int listen_open(listen_t **out, const listen_config_t *cfg)
{
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage sa;
    socklen_t salen = sizeof sa;
    listen_t *l = NULL;
    char port[16];
    int fd = -1, one = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof port, "%d", cfg->port);
    int gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0) {
        cli_error("listen: cannot resolve '%s': %s.", cfg->host, gai_strerror(gai));
        return SL_EPARAM;
    }
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) < 0) {
        cli_error("listen: cannot listen on %s port %d: %s.", cfg->host, cfg->port,
                  strerror(errno));
        goto fail;
    }

    l = sl_calloc(1, sizeof *l);
    l->cfg = *cfg;
    l->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                             : ((struct sockaddr_in *)&sa)->sin_port);
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The logger must be the first option: MHD reports what it finds wrong in the options
     * after it through the logger set so far. */
    l->d = MHD_start_daemon(flags, 0, NULL, NULL, listen_on_request, l, MHD_OPTION_EXTERNAL_LOGGER,
                            listen_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_NOTIFY_COMPLETED, listen_on_completed, l,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LISTEN_IDLE_S, MHD_OPTION_END);
    if (l->d == NULL) {
        cli_error("listen: cannot start the HTTP server on %s port %d.", cfg->host, l->port);
        sl_free(l);
        /* MHD may have closed the socket already; a descriptor left open until exit is
         * harmless, closing one twice might not be. */
        fd = -1;
        goto fail;
    }
    freeaddrinfo(ai);
    *out = l;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return SL_EIO;
}

void listen_close(listen_t *l)
{
    if (l == NULL)
        return;
    MHD_stop_daemon(l->d); /* closes the socket and the connections, completing their requests */
    sl_free(l->sub_id);
    sl_free(l);
}

int listen_port(const listen_t *l)
{
    return l->port;
}

long long listen_delivered(const listen_t *l)
{
    return l->delivered;
}

int listen_set_secret(listen_t *l, const char *secret, const char *sub_id)
{
    size_t n = strlen(secret);

    if (strncmp(secret, "whsec_", 6) == 0) {
        if (n - 6 > LISTEN_SECRET_MAX || b64_decode(secret + 6, n - 6, l->key, &l->keylen) < 0)
            return SL_EPARAM;
    } else {
        if (n > LISTEN_SECRET_MAX)
            return SL_EPARAM;
        memcpy(l->key, secret, n);
        l->keylen = n;
    }
    l->have_key = true;
    sl_free(l->sub_id);
    l->sub_id = sub_id ? sl_strdup(sub_id) : NULL;
    return 0;
}

enum listen_end listen_run(listen_t *l, int sigfd, int *signo)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
    struct pollfd fds[2] = {{.fd = di->epoll_fd, .events = POLLIN},
                            {.fd = sigfd, .events = POLLIN}};

    for (;;) {
        MHD_UNSIGNED_LONG_LONG ms;
        int timeout = -1;

        if (l->output_failed)
            return LISTEN_END_OUTPUT;
        if (l->cfg.count > 0 && l->delivered >= l->cfg.count && l->answering == 0)
            return LISTEN_END_COUNT;
        if (MHD_get_timeout(l->d, &ms) == MHD_YES)
            timeout = ms > INT_MAX ? INT_MAX : (int)ms;
        int n = poll(fds, sigfd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR) {
            cli_error("listen: poll failed: %s.", strerror(errno));
            return LISTEN_END_ERROR;
        }
        if (n > 0 && sigfd >= 0 && (fds[1].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                *signo = (int)si.ssi_signo;
                return LISTEN_END_SIGNAL;
            }
        }
        MHD_run(l->d);
    }
}
