/*
 * fault.h — the storage path's system calls, with a seam for fault injection (as beanstalkd's
 * allocator seam and SQLite's fault simulation): tests make the Nth write fail with ENOSPC, be
 * cut short, or the Nth fdatasync fail with EIO, and check that nothing acknowledged is lost.
 *
 * Set from the environment at start (fault_init): SLUICE_FAULT_WRITE=N, SLUICE_FAULT_SHORT=N,
 * SLUICE_FAULT_FSYNC=N count calls from 1; SLUICE_FAULT_REPEAT=1 makes the fault permanent from
 * the Nth call on (a full disk), else it fires once. Unset, the wrappers are the plain calls.
 * These are test hooks, documented in docs/operations.md, not features.
 */
#ifndef SL_FAULT_H
#define SL_FAULT_H

#include <stddef.h>
#include <sys/types.h>

/* Reads the SLUICE_FAULT_* variables. */
void fault_init(void);

/* pwrite(2) of all n bytes at offset off (retrying short writes and EINTR) unless a fault
 * fires. Returns 0, or -1 with errno set. */
int fault_write_all(int fd, const void *buf, size_t n, off_t off);

/* fdatasync(2) unless a fault fires. Returns 0, or -1 with errno set. */
int fault_fdatasync(int fd);

#endif
