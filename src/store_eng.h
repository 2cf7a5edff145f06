/*
 * store_eng.h — serving storage requests from the queue engine, for the backends whose state
 * lives in the engine (`memory`, and `file`, which adds a log): the dispatch of every request
 * type, long-poll parking, and the engine's timer on the event loop.
 *
 * The backend embeds a store_eng_t and gives it a completion function: `memory` answers at once,
 * `file` first waits for the request's records to reach the disk.
 */
#ifndef SL_STORE_ENG_H
#define SL_STORE_ENG_H

#include <uv.h>

#include "engine.h"
#include "store.h"

typedef struct store_eng store_eng_t;

/* Called once per request when the engine is done with it (status in req->status). */
typedef void (*store_eng_done_fn)(store_eng_t *se, store_req_t *req);

struct store_eng {
    engine_t *engine;
    uv_loop_t *loop;
    uv_timer_t timer;
    int64_t armed_at; /* the deadline the timer is set for; INT64_MAX when stopped */
    size_t parked;
    store_eng_done_fn done;
    void (*on_closed)(store_eng_t *se); /* after store_eng_close() finished */
};

/* Prepares se over engine (taken: freed by store_eng_close) on loop. */
void store_eng_init(store_eng_t *se, engine_t *engine, uv_loop_t *loop, store_eng_done_fn done);

/* Runs req against the engine; se->done is called once, maybe before this returns. */
void store_eng_submit(store_eng_t *se, store_req_t *req);

/* Withdraws a parked lease: 0, or SL_ENOENT when req is not parked. */
int store_eng_cancel(store_eng_t *se, store_req_t *req);

/* Answers every parked lease (empty) and re-arms the timer. */
void store_eng_drain(store_eng_t *se);

/* Re-arms the loop timer after the engine's deadlines may have moved. */
void store_eng_rearm(store_eng_t *se);

/* Frees the engine and closes the timer; se->on_closed (if set) runs when the handle is closed.
 * No lease may be parked. */
void store_eng_close(store_eng_t *se);

/* Whether a request of this type changes durable state (and so has records to wait for). */
bool store_eng_writes(int op);

#endif
