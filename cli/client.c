/*
 * client.c — the CLI's HTTP session over libcurl.
 *
 * One CURL easy handle lives as long as the process. Before each request it is reset with
 * curl_easy_reset(), which forgets the previous request's options but keeps the open connection,
 * so every request is configured from scratch (no option leaks from a POST into the next GET)
 * and still reuses the keep-alive connection.
 *
 * URLs are built with libcurl's URL API (CURLU): the server URL is parsed once, and each request
 * copies it and sets its own path and query, with every path segment and query value escaped by
 * curl_easy_escape(). Timeouts: CLIENT_CONNECT_TIMEOUT_MS to connect, and the request's long-poll
 * wait plus CLIENT_SLACK_MS in total, so a parked long-poll is never cut short by us while a dead
 * server is still noticed.
 *
 * Out-of-memory inside libcurl or jansson is handled as src/mem.h handles it everywhere: log and
 * abort, since the CLI has nothing sensible left to do.
 */
#include "client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"
#include "mem.h"

struct client {
    CURL *curl;
    CURLU *base;      /* the server URL without query or fragment */
    char *base_path;  /* its path without trailing '/', "" for the root; owned */
    char *server;     /* the URL as shown in messages; owned */
    char *user_agent; /* owned */
    bool unreachable; /* the last client_send() got no reply */
    char errbuf[CURL_ERROR_SIZE];
};

SL_NORETURN static void client_oom(const char *what)
{
    log_msg(LOG_ERROR, "Out of memory in %s; aborting.", what);
    abort();
}

/* Returns the part of u as a string owned by the caller (sl_free), or NULL when u has none. */
static char *client_url_part(CURLU *u, CURLUPart part)
{
    char *s = NULL;
    if (curl_url_get(u, part, &s, 0) != CURLUE_OK || s == NULL)
        return NULL;
    char *copy = sl_strdup(s);
    curl_free(s);
    return copy;
}

int client_open(client_t **out, const char *url, const char *user_agent)
{
    client_t *c = sl_calloc(1, sizeof *c);
    buf_t full;
    char *scheme = NULL, *path = NULL;

    buf_init(&full);
    /* A bare host:port is the common case on the command line; CURLU_GUESS_SCHEME would pick
     * ftp for "ftp.example.com:8080", so http is added here instead. */
    if (strstr(url, "://") == NULL)
        buf_adds(&full, "http://");
    buf_adds(&full, url);
    c->server = buf_steal(&full);
    c->user_agent = sl_strdup(user_agent);

    c->base = curl_url();
    c->curl = curl_easy_init();
    if (c->base == NULL || c->curl == NULL)
        client_oom("client_open");
    if (curl_url_set(c->base, CURLUPART_URL, c->server, 0) != CURLUE_OK)
        goto fail;
    scheme = client_url_part(c->base, CURLUPART_SCHEME);
    if (scheme == NULL || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        goto fail;
    curl_url_set(c->base, CURLUPART_QUERY, NULL, 0);
    curl_url_set(c->base, CURLUPART_FRAGMENT, NULL, 0);

    path = client_url_part(c->base, CURLUPART_PATH);
    size_t n = path ? strlen(path) : 0;
    while (n > 0 && path[n - 1] == '/')
        n--;
    c->base_path = sl_strndup(path ? path : "", n);

    sl_free(path);
    sl_free(scheme);
    *out = c;
    return 0;

fail:
    sl_free(path);
    sl_free(scheme);
    client_close(c);
    return SL_EPARAM;
}

void client_close(client_t *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    curl_url_cleanup(c->base);
    sl_free(c->base_path);
    sl_free(c->server);
    sl_free(c->user_agent);
    sl_free(c);
}

const char *client_server(const client_t *c)
{
    return c->server;
}

bool client_unreachable(const client_t *c)
{
    return c->unreachable;
}

/* Appends the percent-encoding of s (every byte but the unreserved ones) to b. libcurl ignores
 * the handle argument since 7.82 (Debian 12 has 7.88), so none is needed here. */
static void client_escape_into(buf_t *b, const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (e == NULL)
        client_oom("curl_easy_escape");
    buf_adds(b, e);
    curl_free(e);
}

static void client_add_header_line(client_req_t *r, const char *line)
{
    struct curl_slist *h = curl_slist_append(r->headers, line);
    if (h == NULL)
        client_oom("curl_slist_append");
    r->headers = h;
}

void client_req_init(client_req_t *r, client_t *c, const char *method, ...)
{
    buf_t path;
    va_list ap;

    memset(r, 0, sizeof *r);
    r->method = method;
    r->url = curl_url_dup(c->base);
    if (r->url == NULL)
        client_oom("curl_url_dup");

    buf_init(&path);
    buf_adds(&path, c->base_path);
    va_start(ap, method);
    for (const char *seg = va_arg(ap, const char *); seg; seg = va_arg(ap, const char *)) {
        buf_adds(&path, "/");
        client_escape_into(&path, seg);
    }
    va_end(ap);
    /* The path is already encoded, so it is set without CURLU_URLENCODE (which would encode the
     * '%' signs again). */
    if (curl_url_set(r->url, CURLUPART_PATH, buf_str(&path), 0) != CURLUE_OK)
        client_oom("curl_url_set");
    buf_cleanup(&path);

    /* libcurl sends "Expect: 100-continue" before large bodies and then waits for the server's
     * go-ahead; the API has no use for that round trip. An empty value removes the header. */
    client_add_header_line(r, "Expect:");
}

void client_req_cleanup(client_req_t *r)
{
    curl_url_cleanup(r->url);
    curl_slist_free_all(r->headers);
    sl_free(r->owned_body);
    memset(r, 0, sizeof *r);
}

void client_req_query(client_req_t *r, const char *name, const char *value)
{
    buf_t q;

    if (value == NULL)
        return;
    buf_init(&q);
    buf_adds(&q, name);
    buf_adds(&q, "=");
    client_escape_into(&q, value);
    if (curl_url_set(r->url, CURLUPART_QUERY, buf_str(&q), CURLU_APPENDQUERY) != CURLUE_OK)
        client_oom("curl_url_set");
    buf_cleanup(&q);
}

static bool client_is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool alnum =
            (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (!alnum && strchr(extra, ch) == NULL)
            return false;
    }
    return true;
}

int client_req_header(client_req_t *r, const char *name, const char *value)
{
    buf_t line;

    if (!client_is_token(name))
        return SL_EPARAM;
    for (const char *p = value; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
            return SL_EPARAM;
    buf_init(&line);
    buf_adds(&line, name);
    /* "Name:" with nothing after it would tell libcurl to remove the header; "Name;" is its
     * spelling for a header sent with an empty value. */
    buf_adds(&line, *value ? ": " : ";");
    buf_adds(&line, value);
    client_add_header_line(r, buf_str(&line));
    buf_cleanup(&line);
    if (strcasecmp(name, "Content-Type") == 0)
        r->content_type_set = true;
    return 0;
}

void client_req_body(client_req_t *r, const void *body, size_t len)
{
    r->body = body;
    r->body_len = len;
}

void client_req_json(client_req_t *r, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s == NULL)
        client_oom("json_dumps");
    sl_free(r->owned_body);
    r->owned_body = sl_strdup(s);
    free(s);
    client_req_body(r, r->owned_body, strlen(r->owned_body));
    if (!r->content_type_set) {
        client_add_header_line(r, "Content-Type: application/json");
        r->content_type_set = true;
    }
}

/* Where client_on_data() puts a reply body. */
struct client_sink {
    buf_t *body;
    bool too_big;
};

static size_t client_on_data(char *p, size_t size, size_t nmemb, void *userdata)
{
    struct client_sink *sink = userdata;
    size_t n = size * nmemb;
    if (n > CLIENT_MAX_REPLY - sink->body->len) {
        sink->too_big = true;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    buf_add(sink->body, p, n);
    return n;
}

/* Prints the error a non-2xx reply describes and returns its SL_E* code. The API promises
 * {"error": {"code", "message"}} for every error; anything else (a proxy's HTML page, say) is
 * shown as the status and the first line of the body. */
static int client_report_error(const client_reply_t *rep)
{
    json_t *j = json_loadb(buf_str(&rep->body), rep->body.len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    int err = SL_EINTERNAL;

    if (code != NULL) {
        err = err_from_code(code);
        fprintf(stderr, "sluice: %s: %s\n", code, msg ? msg : err ? err_text(err) : "(no message)");
        if (err == 0)
            err = SL_EINTERNAL;
    } else {
        const char *body = buf_str(&rep->body);
        int n = (int)strcspn(body, "\r\n");
        if (n > 200)
            n = 200;
        if (n > 0)
            fprintf(stderr, "sluice: HTTP %ld: %.*s\n", rep->status, n, body);
        else
            fprintf(stderr, "sluice: HTTP %ld with no error description.\n", rep->status);
    }
    json_decref(j);
    return err;
}

int client_send(client_t *c, client_req_t *r, client_reply_t *rep)
{
    static const char empty[] = "";
    struct client_sink sink;
    CURL *h = c->curl;
    json_error_t jerr;
    CURLcode rc;

    memset(rep, 0, sizeof *rep);
    buf_init(&rep->body);
    sink.body = &rep->body;
    sink.too_big = false;
    c->unreachable = false;
    c->errbuf[0] = '\0';

    bool get = strcmp(r->method, "GET") == 0;
    if (!get && r->body == NULL && strcmp(r->method, "POST") == 0)
        client_req_body(r, empty, 0);
    if (r->body != NULL && !r->content_type_set) {
        /* Without this libcurl would label the body application/x-www-form-urlencoded, and the
         * server would keep that as the message's content type. An empty value removes it. */
        client_add_header_line(r, "Content-Type:");
        r->content_type_set = true;
    }

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_CURLU, r->url);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CLIENT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, CLIENT_SLACK_MS + (long)r->wait_ms);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    if (get) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (r->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    }
    if (!get && strcmp(r->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);

    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (sink.too_big) {
            fprintf(stderr, "sluice: the reply from %s is larger than %zu bytes; giving up.\n",
                    c->server, CLIENT_MAX_REPLY);
            return SL_ETOOBIG;
        }
        c->unreachable = true;
        fprintf(stderr, "sluice: no reply from %s: %s\n", c->server,
                c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        return SL_EIO;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rep->status);
    if (rep->status < 200 || rep->status > 299)
        return client_report_error(rep);
    if (r->raw_reply || rep->body.len == 0)
        return 0;
    rep->json = json_loadb(buf_str(&rep->body), rep->body.len, 0, &jerr);
    if (rep->json == NULL) {
        fprintf(stderr, "sluice: the reply from %s is not JSON: %s\n", c->server, jerr.text);
        return SL_EJSON;
    }
    return 0;
}

void client_reply_cleanup(client_reply_t *rep)
{
    buf_cleanup(&rep->body);
    json_decref(rep->json);
    rep->json = NULL;
    rep->status = 0;
}
