/*
 * webhook.c — outgoing HTTP POSTs on libcurl's multi interface, driven by the libuv loop.
 *
 * libcurl tells us which sockets to watch (socket callback) and when to call it back if
 * nothing happens (timer callback); we watch them with uv_poll handles and one uv_timer, and
 * hand each event to curl_multi_socket_action(). Finished transfers are collected with
 * curl_multi_info_read() after every call. This is libcurl's documented event-loop integration
 * (its multi-uv example shows the same shape); it needs no thread, and the multi handle keeps a
 * cache of open connections, so successive deliveries to one receiver reuse a kept-alive
 * connection instead of connecting each time.
 *
 * Easy handles are recycled (reset, not freed) between requests: setting one up is most of the
 * per-request allocation libcurl does.
 *
 * libcurl is loaded the first time it is needed (webhook_load), not linked. Linking
 * libcurl-gnutls maps and relocates its whole dependency chain — libssh2 and OpenSSL's
 * libcrypto, Kerberos, LDAP, RTMP, libpsl, ... — in every process: 5 MB of resident memory
 * before a single request, as much as the rest of the idle server (docs/performance.md). A
 * server that never pushes never pays it. The functions are called through a table whose types
 * are taken from curl.h itself, so a prototype cannot drift.
 */
#include "webhook.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <nettle/hmac.h>
#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "common.h"
#include "log.h"
#include "mem.h"

#define WEBHOOK_SPARE_EASY 64       /* easy handles kept for reuse */
#define WEBHOOK_BODY_MAX (1u << 20) /* answer bytes read before giving up on the rest */
#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_SECRET_MAX 512

struct webhook_client {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    list_t active; /* webhook_req_t in progress */
    size_t nactive;
    list_t socks; /* sock_t watched for libcurl */
    CURL *spare[WEBHOOK_SPARE_EASY];
    size_t nspare;
    char *user_agent;
    bool closing; /* in webhook_client_free() */
};

/* One socket libcurl asked us to watch. */
typedef struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    webhook_client_t *c;
    list_t link;
} sock_t;

/* clang-format off */
#define CURL_FUNCTIONS(X)                                                                         \
    X(global_init) X(easy_init) X(easy_reset) X(easy_cleanup) X(easy_setopt) X(easy_getinfo)      \
    X(easy_strerror) X(multi_init) X(multi_cleanup) X(multi_setopt) X(multi_add_handle)           \
    X(multi_remove_handle) X(multi_assign) X(multi_socket_action) X(multi_info_read)              \
    X(multi_strerror) X(slist_append) X(slist_free_all) X(url) X(url_cleanup) X(url_set)          \
    X(url_get) X(url_strerror) X(free)
/* clang-format on */

#define CURL_FIELD(name) __typeof__(curl_##name) *name;
static struct {
    CURL_FUNCTIONS(CURL_FIELD)
} cu;
static const char *libcurl_name = WEBHOOK_LIBCURL;

void webhook_library(const char *name)
{
    libcurl_name = name;
}

int webhook_load(void)
{
    static bool tried;
    static int state = SL_EUNAVAILABLE;
    if (tried)
        return state;
    tried = true;
    void *h = dlopen(libcurl_name, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        log_msg(LOG_ERROR, "Push delivery is unavailable: %s.", dlerror());
        return state;
    }
#define CURL_LOAD(name)                                                                      \
    if ((*(void **)&cu.name = dlsym(h, "curl_" #name)) == NULL) {                            \
        log_msg(LOG_ERROR, "Push delivery is unavailable: %s has no curl_%s.", libcurl_name, \
                #name);                                                                      \
        return state;                                                                        \
    }
    CURL_FUNCTIONS(CURL_LOAD)
#undef CURL_LOAD
    /* once per process, from the loop thread, before anything else uses libcurl */
    if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_msg(LOG_ERROR, "Push delivery is unavailable: libcurl does not start.");
        return state;
    }
    state = 0;
    return state; /* never unloaded: the process ends first */
}

static void on_sock_closed(uv_handle_t *h)
{
    sl_free(h->data);
}

static void sock_close(sock_t *s)
{
    list_remove(&s->link);
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* Hands every finished transfer back to its owner. */
static void collect(webhook_client_t *c)
{
    CURLMsg *m;
    int left;
    while ((m = cu.multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;
        webhook_req_t *r = NULL;
        cu.easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
        cu.easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
        cu.multi_remove_handle(c->multi, easy);
        if (c->nspare < WEBHOOK_SPARE_EASY)
            c->spare[c->nspare++] = easy;
        else
            cu.easy_cleanup(easy);
        r->easy = NULL;
        list_remove(&r->link);
        c->nactive--;
        if (r->status >= 200 && r->status < 300) {
            r->error[0] = '\0'; /* an answer cut short after a 2xx still counts */
        } else if (r->status != 0) {
            /* "HTTP 503: <the start of what it said>", on one line of visible text */
            for (size_t i = 0; i < r->resp_len; i++)
                if ((unsigned char)r->resp[i] < 0x20 || (unsigned char)r->resp[i] >= 0x7f)
                    r->resp[i] = ' ';
            snprintf(r->error, sizeof r->error, "HTTP %ld%s%.*s", r->status,
                     r->resp_len ? ": " : "", (int)r->resp_len, r->resp);
        } else if (r->error[0] == '\0') { /* libcurl left its error buffer empty */
            snprintf(r->error, sizeof r->error, "%s", cu.easy_strerror(rc));
        }
        r->cb(r);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_t *s = h->data;
    webhook_client_t *c = s->c;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    cu.multi_socket_action(c->multi, s->fd, flags, &running);
    collect(c);
}

static void on_timer(uv_timer_t *t)
{
    webhook_client_t *c = t->data;
    int running;
    cu.multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    collect(c);
}

/* libcurl: watch fd for what (or stop watching it). */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    webhook_client_t *c = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            if (!c->closing)
                cu.multi_assign(c->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (s == NULL) {
        s = sl_calloc(1, sizeof *s);
        s->fd = fd;
        s->c = c;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            sl_free(s);
            return -1; /* libcurl fails the transfer */
        }
        s->poll.data = s;
        list_push(&c->socks, &s->link);
        cu.multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

/* libcurl: call us back in timeout_ms (-1: no timer). Never calls into libcurl from here. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    webhook_client_t *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Keeps the first bytes of the answer for the error text; reads (and drops) up to a bound. */
static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
    webhook_req_t *r = userp;
    size_t len = size * n;
    if (r->resp_len < sizeof r->resp) {
        size_t k = sizeof r->resp - r->resp_len < len ? sizeof r->resp - r->resp_len : len;
        memcpy(r->resp + r->resp_len, data, k);
        r->resp_len += k;
    }
    return len;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)userp, (void)dltotal, (void)ultotal, (void)ulnow;
    return dlnow > WEBHOOK_BODY_MAX; /* a receiver that answers without end is cut off */
}

webhook_client_t *webhook_client_new(uv_loop_t *loop, const char *user_agent)
{
    if (webhook_load() != 0)
        return NULL;
    webhook_client_t *c = sl_calloc(1, sizeof *c);
    c->loop = loop;
    c->multi = cu.multi_init();
    if (c->multi == NULL) {
        sl_free(c);
        return NULL;
    }
    list_init(&c->active);
    list_init(&c->socks);
    c->user_agent = sl_strdup(user_agent);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    cu.multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    cu.multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    cu.multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    cu.multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

static void on_timer_closed(uv_handle_t *h)
{
    sl_free(h->data);
}

void webhook_client_free(webhook_client_t *c)
{
    if (c == NULL)
        return;
    c->closing = true;
    list_t *n;
    while ((n = list_shift(&c->active)) != NULL) {
        webhook_req_t *r = list_entry(n, webhook_req_t, link);
        cu.multi_remove_handle(c->multi, r->easy);
        cu.easy_cleanup(r->easy);
        r->easy = NULL;
    }
    for (size_t i = 0; i < c->nspare; i++)
        cu.easy_cleanup(c->spare[i]);
    cu.multi_cleanup(c->multi); /* may still report sockets to remove */
    while (!list_empty(&c->socks))
        sock_close(list_entry(c->socks.next, sock_t, link));
    sl_free(c->user_agent);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

void webhook_req_init(webhook_req_t *r)
{
    r->headers = NULL;
    r->status = 0;
    r->error[0] = '\0';
    r->resp_len = 0;
    r->easy = NULL;
    list_init(&r->link);
}

int webhook_req_header(webhook_req_t *r, const char *name, const char *value)
{
    if (webhook_load() != 0)
        return SL_EUNAVAILABLE;
    size_t len = strlen(name) + strlen(value) + 3;
    char *line = sl_malloc(len);
    snprintf(line, len, "%s: %s", name, value);
    struct curl_slist *l = cu.slist_append(r->headers, line);
    sl_free(line);
    if (l == NULL)
        return SL_EINTERNAL;
    r->headers = l;
    return 0;
}

void webhook_req_cleanup(webhook_req_t *r)
{
    if (r->headers) /* none before libcurl is loaded */
        cu.slist_free_all(r->headers);
    r->headers = NULL;
}

int webhook_post(webhook_client_t *c, webhook_req_t *r)
{
    CURL *e = c->nspare ? c->spare[--c->nspare] : cu.easy_init();
    if (e == NULL) {
        snprintf(r->error, sizeof r->error, "cannot set up a transfer");
        return SL_EPARAM;
    }
    cu.easy_reset(e);
    /* without this libcurl would send "Expect: 100-continue" for bodies over 1 KiB and wait a
     * second for an answer that most receivers never send */
    struct curl_slist *l = cu.slist_append(r->headers, "Expect:");
    if (l == NULL) {
        snprintf(r->error, sizeof r->error, "out of memory");
        cu.easy_cleanup(e);
        return SL_EPARAM;
    }
    r->headers = l;
    r->status = 0;
    r->error[0] = '\0';
    r->resp_len = 0;
    cu.easy_setopt(e, CURLOPT_URL, r->url);
    cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    cu.easy_setopt(e, CURLOPT_POST, 1L);
    cu.easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    cu.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    cu.easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)r->headers);
    cu.easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    cu.easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    cu.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    cu.easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
    cu.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    cu.easy_setopt(e, CURLOPT_WRITEDATA, r);
    cu.easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    cu.easy_setopt(e, CURLOPT_XFERINFODATA, r);
    cu.easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    cu.easy_setopt(e, CURLOPT_PRIVATE, r);
    CURLMcode mc = cu.multi_add_handle(c->multi, e);
    if (mc != CURLM_OK) {
        snprintf(r->error, sizeof r->error, "%s", cu.multi_strerror(mc));
        cu.easy_cleanup(e);
        return SL_EPARAM;
    }
    r->easy = e;
    list_push(&c->active, &r->link);
    c->nactive++;
    return 0;
}

size_t webhook_active(const webhook_client_t *c)
{
    return c->nactive;
}

int webhook_url_check(const char *url, char *out, size_t cap, char *why)
{
    size_t len = strlen(url);
    if (len == 0 || len > WEBHOOK_URL_MAX) {
        snprintf(why, WEBHOOK_ERROR_MAX + 1, "a URL of 1 to %d characters is needed",
                 WEBHOOK_URL_MAX);
        return SL_EPARAM;
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f) {
            snprintf(why, WEBHOOK_ERROR_MAX + 1,
                     "a URL may hold only visible ASCII (percent-encode the rest)");
            return SL_EPARAM;
        }
    if (webhook_load() != 0) {
        snprintf(why, WEBHOOK_ERROR_MAX + 1, "push delivery is unavailable");
        return SL_EUNAVAILABLE;
    }
    int err = SL_EPARAM;
    char *scheme = NULL, *host = NULL, *full = NULL, with[WEBHOOK_URL_MAX + 8];
    if (strstr(url, "://") == NULL) { /* MQ Go's README: "svc.domain.tld/mqg" means http:// */
        snprintf(with, sizeof with, "http://%s", url);
        url = with;
    }
    CURLU *u = cu.url();
    CURLUcode rc = u ? cu.url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
    if (rc != CURLUE_OK) {
        snprintf(why, WEBHOOK_ERROR_MAX + 1, "not a valid URL (%s)", cu.url_strerror(rc));
        goto out;
    }
    if (cu.url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(why, WEBHOOK_ERROR_MAX + 1, "the scheme must be http or https");
        goto out;
    }
    if (cu.url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        snprintf(why, WEBHOOK_ERROR_MAX + 1, "the URL has no host");
        goto out;
    }
    if (cu.url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK || strlen(full) >= cap) {
        snprintf(why, WEBHOOK_ERROR_MAX + 1, "the URL is too long");
        goto out;
    }
    memcpy(out, full, strlen(full) + 1);
    err = 0;
out:
    cu.free(full);
    cu.free(host);
    cu.free(scheme);
    cu.url_cleanup(u);
    return err;
}

int webhook_sign(const char *secret, const char *msg_id, int64_t timestamp, const void *body,
                 size_t len, char *sig)
{
    unsigned char key[B64_DECODED_MAX(WEBHOOK_SECRET_MAX)];
    const unsigned char *k = (const unsigned char *)secret;
    size_t klen = strlen(secret);
    if (strncmp(secret, "whsec_", 6) == 0) {
        if (klen - 6 > WEBHOOK_SECRET_MAX || b64_decode(secret + 6, klen - 6, key, &klen) ||
            klen < WEBHOOK_KEY_MIN || klen > WEBHOOK_KEY_MAX)
            return SL_EPARAM;
        k = key;
    }
    char ts[24];
    int tslen = snprintf(ts, sizeof ts, "%" PRId64, timestamp);
    struct hmac_sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    hmac_sha256_set_key(&ctx, klen, k);
    hmac_sha256_update(&ctx, strlen(msg_id), (const uint8_t *)msg_id);
    hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
    hmac_sha256_update(&ctx, (size_t)tslen, (const uint8_t *)ts);
    hmac_sha256_update(&ctx, 1, (const uint8_t *)".");
    hmac_sha256_update(&ctx, len, body);
    hmac_sha256_digest(&ctx, sizeof digest, digest);
    memcpy(sig, "v1,", 3);
    b64_encode(digest, sizeof digest, sig + 3);
    return 0;
}
