/*
 * LD_PRELOAD shim for tests/it/fault.rs: makes syncs of SQLite's WAL fail with EIO.
 *
 * Counts fsync and fdatasync calls on files whose path ends in "-wal" (std's sync_data is
 * fdatasync on Linux; SQLite as bundled by rusqlite calls fsync). From the N-th such call on
 * (N from FAULT_FAIL_WAL_SYNC_AT), each descriptor's first WAL sync fails, and its later syncs
 * succeed again: Linux reports a writeback error the same way (once to each open file), and a
 * later sync that succeeds is exactly what the server must not trust.
 * Each failure is appended to the file named by FAULT_LOG, with the calling thread's name.
 *
 * The workspace forbids unsafe Rust, so the interposition lives here, in C.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FAILED 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long wal_syncs;
static int failed_fds[MAX_FAILED];
static int failed_count;

static int wal_path(int fd, char *path, size_t size)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, size - 1);
    if (n < 4)
        return 0;
    path[n] = '\0';
    return strcmp(path + n - 4, "-wal") == 0;
}

/* Whether this sync of fd fails; counts it if it is a sync of a WAL. */
static int should_fail(int fd, const char *call)
{
    const char *at_env = getenv("FAULT_FAIL_WAL_SYNC_AT");
    long at = at_env ? atol(at_env) : 0;
    char path[4096];
    if (at <= 0 || !wal_path(fd, path, sizeof path))
        return 0;
    int fail = 0;
    pthread_mutex_lock(&lock);
    if (++wal_syncs >= at && failed_count < MAX_FAILED) {
        fail = 1;
        for (int i = 0; i < failed_count; i++)
            if (failed_fds[i] == fd)
                fail = 0;
        if (fail)
            failed_fds[failed_count++] = fd;
    }
    long n = wal_syncs;
    pthread_mutex_unlock(&lock);
    const char *log = getenv("FAULT_LOG");
    if (fail && log) {
        char thread[32] = "?";
        pthread_getname_np(pthread_self(), thread, sizeof thread);
        FILE *f = fopen(log, "a");
        if (f) {
            fprintf(f, "%s #%ld failed: fd %d %s thread %s\n", call, n, fd, path, thread);
            fclose(f);
        }
    }
    return fail;
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (should_fail(fd, "fdatasync")) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (should_fail(fd, "fsync")) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}
