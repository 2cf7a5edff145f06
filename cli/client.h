/*
 * client.h — the HTTP session of the sluice CLI: one libcurl handle talking to one server.
 *
 * A command builds a request (client_req_init() and friends), sends it with client_send() and
 * reads the reply. The one handle is reused for every request the process makes, so a command
 * that makes two requests (consume --ack) sends both over one keep-alive connection. Failures are
 * reported on stderr here, once, in the CLI's format (`sluice: <code>: <message>`), so a command
 * only has to turn the returned error into an exit status (cli_exit_status() in cli.h).
 *
 * HTTP, URL encoding and JSON are libcurl's and jansson's; nothing here writes protocol text by
 * hand beyond "Name: value" header lines handed to libcurl.
 */
#ifndef SL_CLI_CLIENT_H
#define SL_CLI_CLIENT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "common.h"

/* How long to wait for the TCP (and TLS) connection before giving up. */
#define CLIENT_CONNECT_TIMEOUT_MS 5000L
/* A request may take its long-poll wait plus this long before it counts as timed out. */
#define CLIENT_SLACK_MS 10000L
/* Replies larger than this are refused: the largest legitimate one (1000 leased messages of the
 * default 1 MiB, base64-encoded) is far below it. */
#define CLIENT_MAX_REPLY ((size_t)1 << 31)

typedef struct client client_t;

/* One request being built. Caller-owned storage, prepared with client_req_init() and released
 * with client_req_cleanup() (which also accepts storage zeroed with memset, so a command can
 * clean up one it never started); the fields are the client module's. */
typedef struct client_req {
    const char *method;         /* borrowed, a string literal in practice */
    CURLU *url;                 /* owned */
    struct curl_slist *headers; /* owned */
    char *owned_body;           /* owned; set when the client serialised the body itself */
    const void *body;           /* borrowed from the caller or owned_body; NULL for none */
    size_t body_len;
    bool content_type_set;
    bool raw_reply;  /* the reply body is not JSON on success (pop?raw=1) */
    int64_t wait_ms; /* the long-poll wait the server may take; added to the timeout */
} client_req_t;

/* A reply. Caller-owned storage, filled by client_send(), released by client_reply_cleanup()
 * (which also accepts storage zeroed with memset). */
typedef struct client_reply {
    long status;  /* HTTP status; 0 when no reply arrived */
    buf_t body;   /* the body verbatim */
    json_t *json; /* the parsed body of a successful JSON reply, else NULL; owned */
} client_reply_t;

/* Creates a session for the server at url: "http://host:port", "https://...", or a bare
 * "host:port" (http is assumed); a path in the URL is kept as a prefix of every request path.
 * Every request carries user_agent (copied). Stores the session in *out. Returns 0, or SL_EPARAM
 * when url is not an http(s) URL (nothing is printed; the caller reports it as a usage error). The
 * caller closes the session with client_close(). curl_global_init() must have been called. */
int client_open(client_t **out, const char *url, const char *user_agent);

/* Closes the connection and frees the session; NULL is fine. */
void client_close(client_t *c);

/* Returns the server URL as given to client_open() (with "http://" added when it was bare),
 * borrowed for the life of the session. */
const char *client_server(const client_t *c);

/* Starts a request with method ("GET", "POST", "PUT", "DELETE") to the path made of the given
 * segments, each percent-encoded on its own so that a queue name can never change the path's
 * shape: client_req_init(&r, c, "GET", "v1", "queues", name, "messages", NULL). The list ends
 * with NULL. Aborts on out-of-memory. */
void client_req_init(client_req_t *r, client_t *c, const char *method, ...)
    __attribute__((sentinel));

/* Frees what the request owns; the storage can be initialised again. */
void client_req_cleanup(client_req_t *r);

/* Appends the query parameter name=value, with value percent-encoded. Does nothing when value is
 * NULL, so optional parameters can be passed straight through. */
void client_req_query(client_req_t *r, const char *name, const char *value);

/* Adds the header "name: value". Returns 0, or SL_EPARAM when name is not an HTTP token or value
 * contains a control character other than tab (which would split or smuggle a header). */
int client_req_header(client_req_t *r, const char *name, const char *value);

/* Sets the body to the len bytes at body (borrowed: they must stay valid until client_send()
 * returns). Unless a Content-Type header was added, the request is sent without one. */
void client_req_body(client_req_t *r, const void *body, size_t len);

/* Sets the body to the JSON serialisation of j (j stays the caller's) and, unless one was added
 * already, the header Content-Type: application/json. */
void client_req_json(client_req_t *r, const json_t *j);

/* Sends the request and fills *rep (caller-owned; clean it up with client_reply_cleanup()
 * whatever the result). Returns:
 *   0 when the server answered 2xx; rep->json holds the parsed body unless r->raw_reply is set or
 *     the body is empty;
 *   the SL_E* error named by the server's JSON error reply (SL_EINTERNAL when it names a code this
 *     build does not know, or the reply is not a JSON error), after printing
 *     "sluice: <code>: <message>" on stderr;
 *   SL_EJSON when a 2xx reply that should be JSON is not, after printing why;
 *   SL_EIO when no reply arrived (connection refused, DNS failure, timeout), after printing why.
 * client_unreachable() tells the last case apart from the others. */
int client_send(client_t *c, client_req_t *r, client_reply_t *rep);

/* Frees what the reply owns; the storage can be filled again. */
void client_reply_cleanup(client_reply_t *rep);

/* Returns true when the last client_send() on c failed because no reply arrived (the server could
 * not be reached, or did not answer in time), false after a reply of any status. */
bool client_unreachable(const client_t *c);

#endif
