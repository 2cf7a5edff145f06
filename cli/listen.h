/*
 * listen.h — the receiving side of `sluice listen`: a small HTTP server that takes push
 * deliveries, checks their Standard Webhooks signature, prints them and answers.
 *
 * HTTP is libmicrohttpd's, run from the caller's thread ("external polling" with MHD's epoll
 * descriptor), so every callback runs inside listen_run() and nothing here needs a lock. The
 * command around it (cli/cmd_push.c) makes and removes the subscription that points at it; this
 * module knows nothing of the API beyond the headers a delivery carries.
 */
#ifndef SL_CLI_LISTEN_H
#define SL_CLI_LISTEN_H

#include <stdbool.h>

#include "common.h"

/* A delivery's webhook-timestamp may be this far from our clock, either way, as the Standard
 * Webhooks libraries allow; an older one is refused as a possible replay. */
#define LISTEN_TOLERANCE_S 300
/* The largest delivery body taken; a larger one is answered 413. */
#define LISTEN_MAX_BODY ((size_t)64 << 20)

typedef struct listen listen_t;

typedef struct listen_config {
    const char *host; /* the address to listen on: a name or a literal; borrowed */
    int port;         /* 0: a free port chosen by the kernel */
    unsigned status;  /* the answer to a delivery that passes the checks (204 by default) */
    long long count;  /* stop once this many deliveries were printed and answered; 0: never */
    bool json;        /* print one JSON object per delivery instead of its body */
} listen_config_t;

/* Why listen_run() returned. */
enum listen_end {
    LISTEN_END_COUNT,  /* cfg.count deliveries were printed and their answers sent */
    LISTEN_END_SIGNAL, /* the signal descriptor became readable; *signo says which signal */
    LISTEN_END_OUTPUT, /* standard output could not be written (reported) */
    LISTEN_END_ERROR,  /* polling failed (reported) */
};

/* Binds cfg->host:cfg->port, starts the HTTP server on it (nothing is accepted before
 * listen_run()) and stores it in *out; cfg is copied, cfg->host must outlive the listener.
 * Returns 0; SL_EPARAM when the host does not resolve, or SL_EIO when the address cannot be
 * bound or the server not started, after printing why on stderr. Close it with listen_close(). */
int listen_open(listen_t **out, const listen_config_t *cfg);

/* Stops the server, closing its socket and any connection; NULL is fine. */
void listen_close(listen_t *l);

/* Returns the port the listener is bound to (the kernel's choice when cfg.port was 0). */
int listen_port(const listen_t *l);

/* Makes the listener check every delivery's signature against secret (copied): the Standard
 * Webhooks key is the base64 after "whsec_" for such a secret, else the secret's bytes. sub_id
 * (copied; NULL for none) is the subscription the secret belongs to, named in the warning when a
 * delivery from another one fails the check. Without a secret deliveries are printed unchecked.
 * Returns 0, or SL_EPARAM when a "whsec_" secret is not valid base64 or too long. */
int listen_set_secret(listen_t *l, const char *secret, const char *sub_id);

/* Serves deliveries until one of enum listen_end happens, and returns it; for
 * LISTEN_END_SIGNAL the signal number is stored in *signo. sigfd is a signalfd (or any
 * descriptor that becomes readable with a struct signalfd_siginfo to read) for the signals that
 * should stop it, or -1 for none. Each delivery that passes the checks is printed to stdout,
 * flushed, and answered cfg.status; one that fails them is answered 401 with a warning on
 * stderr and not printed. */
enum listen_end listen_run(listen_t *l, int sigfd, int *signo);

/* Returns how many deliveries were printed so far. */
long long listen_delivered(const listen_t *l);

#endif
