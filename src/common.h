/*
 * common.h — the few things every module needs: the error codes, sl_assert and attributes.
 *
 * Errors follow one convention (STYLE rule 3): a function that can fail returns int, 0 on
 * success or a negative SL_E* code. The list below is the only place an error is defined: it
 * generates the enum here, and in err.c the human text, the JSON error code and the HTTP status,
 * so the three can never drift apart. Nothing else belongs in this header.
 */
#ifndef SL_COMMON_H
#define SL_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* X(name, http status, json code, human text) */
#define SL_ERRORS(X)                                                      \
    X(EINVAL, 400, "bad_request", "bad request")                          \
    X(EJSON, 400, "invalid_json", "invalid JSON")                         \
    X(ENAME, 400, "invalid_name", "invalid name")                         \
    X(EPARAM, 400, "invalid_parameter", "invalid parameter")              \
    X(EBASE64, 400, "invalid_base64", "invalid base64")                   \
    X(EAUTH, 401, "unauthorized", "authentication failed")                \
    X(ENOROUTE, 404, "not_found", "no such endpoint")                     \
    X(ENOQUEUE, 404, "queue_not_found", "no such queue")                  \
    X(ENOGROUP, 404, "group_not_found", "no such consumer group")         \
    X(ENORECEIPT, 404, "receipt_not_found", "no such receipt")            \
    X(ENOSUB, 404, "subscription_not_found", "no such subscription")      \
    X(ENOSENDER, 403, "not_a_sender", "not a connected sender")           \
    X(ENOENT, 404, "not_found", "not found")                              \
    X(EMETHOD, 405, "method_not_allowed", "method not allowed")           \
    X(ETIMEDOUT, 408, "request_timeout", "request timeout")               \
    X(ECONFLICT, 409, "conflict", "conflict")                             \
    X(ETOOBIG, 413, "payload_too_large", "payload too large")             \
    X(EMEDIA, 415, "unsupported_media_type", "unsupported media type")    \
    X(EHEADERS, 431, "headers_too_large", "request headers too large")    \
    X(EINTERNAL, 500, "internal_error", "internal error")                 \
    X(ENOTYET, 501, "not_implemented", "not implemented yet")             \
    X(ESTORAGE, 503, "storage_unavailable", "storage unavailable")        \
    X(ESHUTDOWN, 503, "shutting_down", "shutting down")                   \
    X(EUNAVAILABLE, 503, "push_unavailable", "push delivery unavailable") \
    X(EFULL, 507, "queue_full", "queue full")                             \
    X(ETOOMANY, 507, "too_many_queues", "too many queues")                \
    X(ETOOMANYGROUPS, 507, "too_many_groups", "too many consumer groups") \
    X(EIDS, 507, "ids_exhausted", "message ids used up")                  \
    X(ECANCELED, 500, "canceled", "operation canceled")                   \
    X(EIO, 500, "io_error", "input/output error")

enum sl_err {
    SL_OK = 0,
#define SL_ERR_ENUM(name, status, code, text) SL_##name,
    SL_ERR_FIRST_ = -1000,
    SL_ERRORS(SL_ERR_ENUM) SL_ERR_LAST_
#undef SL_ERR_ENUM
};

#define SL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define SL_NORETURN __attribute__((noreturn))
#define SL_UNUSED __attribute__((unused))
#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SL_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Aborts with file:line and the expression. Only for what cannot happen (rule 15): anything a
 * client, a config file or a data file can cause is an SL_E* error instead. Stays on in release
 * builds. */
#define sl_assert(expr) ((expr) ? (void)0 : sl_assert_fail(#expr, __FILE__, __LINE__))
SL_NORETURN void sl_assert_fail(const char *expr, const char *file, int line);

#endif
