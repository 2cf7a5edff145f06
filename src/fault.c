/*
 * fault.c — counted system-call wrappers; see fault.h.
 *
 * The counters are atomics because only the storage thread calls these, but tests read nothing
 * back: a fault is visible through what the server answers and what survives a restart.
 */
#include "fault.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

struct fault {
    long at; /* 0 = never */
    atomic_long calls;
};

static struct fault fault_w, fault_short, fault_sync;
static bool fault_repeat;

static long env_long(const char *name)
{
    const char *v = getenv(name);
    return v ? strtol(v, NULL, 10) : 0;
}

void fault_init(void)
{
    fault_w.at = env_long("SLUICE_FAULT_WRITE");
    fault_short.at = env_long("SLUICE_FAULT_SHORT");
    fault_sync.at = env_long("SLUICE_FAULT_FSYNC");
    fault_repeat = env_long("SLUICE_FAULT_REPEAT") != 0;
}

/* Whether this call is the one (or, repeating, one of those) that must fail. */
static bool fault_fires(struct fault *f)
{
    if (f->at <= 0)
        return false;
    long n = atomic_fetch_add(&f->calls, 1) + 1;
    return fault_repeat ? n >= f->at : n == f->at;
}

int fault_write_all(int fd, const void *buf, size_t n, off_t off)
{
    const char *p = buf;
    if (fault_fires(&fault_w)) {
        errno = ENOSPC;
        return -1;
    }
    if (fault_fires(&fault_short) && n > 1) {
        /* half of it reaches the file, then the disk is full: a torn write */
        ssize_t w = pwrite(fd, p, n / 2, off);
        (void)w;
        errno = ENOSPC;
        return -1;
    }
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        off += w;
        n -= (size_t)w;
    }
    return 0;
}

int fault_fdatasync(int fd)
{
    if (fault_fires(&fault_sync)) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}
