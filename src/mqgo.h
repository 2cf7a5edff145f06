/*
 * mqgo.h — MQ Go compatibility: its request bodies as Go decoded them, and its connections.
 *
 * MQ Go clients POST /connect (as a sender or a receiver with a URL), /send and /disconnect.
 * Here a sender is an id in a table (nothing about it needs to survive a restart: MQ Go kept
 * nothing either), and a receiver is a push subscription named mqgo-<id> on the configured
 * queue, which does survive with durable storage. api.c routes the requests and talks to the
 * store; this module reads the bodies and hands out ids.
 */
#ifndef SL_MQGO_H
#define SL_MQGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQGO_PREFIX "mqgo-" /* receivers' subscription ids: mqgo-<id> */
#define MQGO_WHY_MAX 200

typedef struct mqgo mqgo_t;

/* The fields of an MQ Go request, matched case-insensitively as Go's encoding/json did (the
 * last of several spellings wins). A field that is absent is NULL / has has_id false. */
typedef struct mqgo_request {
    const char *client_url; /* the strings point into the parsed body: valid until cleanup */
    const char *mode;
    bool has_id;
    uint64_t id;
    const char *body;
    size_t body_len;
    void *json_; /* private: the parsed document the strings point into */
} mqgo_request_t;

mqgo_t *mqgo_new(void);
void mqgo_free(mqgo_t *m);

/* Reads an MQ Go request body. Returns 0, or SL_EJSON (not JSON, or not an object) or SL_EPARAM
 * (a field of the wrong type: "id" must be a positive integer, the others strings) with the
 * reason in why (room for MQGO_WHY_MAX). Release with mqgo_request_cleanup(), whatever it
 * returned. */
int mqgo_request_parse(const char *body, size_t len, mqgo_request_t *r, char *why);
void mqgo_request_cleanup(mqgo_request_t *r);

/* Hands out the next connection id (1, 2, 3...: MQ Go's sequence, shared by senders and
 * receivers). */
uint64_t mqgo_next_id(mqgo_t *m);

/* Makes sure ids up to id are never handed out again (receivers found at start). */
void mqgo_note_id(mqgo_t *m, uint64_t id);

/* Senders. */
void mqgo_sender_add(mqgo_t *m, uint64_t id);
bool mqgo_sender_find(const mqgo_t *m, uint64_t id);
/* Returns whether id was a sender. */
bool mqgo_sender_remove(mqgo_t *m, uint64_t id);

/* Writes the subscription id of receiver id ("mqgo-7") into out (room for 32). */
void mqgo_receiver_name(uint64_t id, char *out);

/* Returns whether name is a receiver's subscription id, with its id. */
bool mqgo_receiver_id(const char *name, uint64_t *id);

#endif
