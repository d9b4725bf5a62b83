/* LD_PRELOAD shim: storage faults injected from outside the server, for tests.
 *
 * Calls of pwrite/pwrite64/pwritev/pwritev64/pwritev2/pwritev64v2/write/fdatasync/fsync on regular files under
 * $FAULT_DIR fail at random (seeded by $FAULT_SEED and the PID, rate $FAULT_RATE per call)
 * with EIO or ENOSPC, or (writes) write only a part of the bytes. Each fault is logged as
 * one line to $FAULT_LOG. Nothing else is touched: sockets, pipes and other files pass.
 *
 * A full disk without mounting anything: while the file $FAULT_FULL_FLAG exists, every
 * write to those files that would grow them fails with ENOSPC (writes inside a file's
 * current size, into blocks it already has, and syncs still work: as on a real full disk).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static unsigned long long state;
static double rate = -1.0;
static const char *dir;
static const char *full_flag;
static size_t dir_len;

static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev2)(int, const struct iovec *, int, off_t, int);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);

static void init(void) {
    if (rate >= 0.0) return;
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_pwritev = dlsym(RTLD_NEXT, "pwritev");
    real_pwritev2 = dlsym(RTLD_NEXT, "pwritev64v2");
    real_write = dlsym(RTLD_NEXT, "write");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    const char *r = getenv("FAULT_RATE");
    const char *s = getenv("FAULT_SEED");
    dir = getenv("FAULT_DIR");
    full_flag = getenv("FAULT_FULL_FLAG");
    dir_len = dir ? strlen(dir) : 0;
    state = (s ? strtoull(s, NULL, 10) : 1) * 6364136223846793005ULL + (unsigned long long)getpid();
    if (state == 0) state = 1;
    rate = r ? atof(r) : 0.0;
}

static unsigned long long next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static void note(const char *call, const char *what) {
    const char *path = getenv("FAULT_LOG");
    if (!path) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    char line[128];
    int n = snprintf(line, sizeof line, "%d %s %s\n", (int)getpid(), call, what);
    if (n > 0) real_write(fd, line, (size_t)n);
    close(fd);
}

/* 0: no fault; 1: EIO; 2: ENOSPC; 3: short write */
static int fault_at(int fd, int writes, long long end) {
    init();
    if ((rate <= 0.0 && !full_flag) || dir_len == 0) return 0;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    if (strncmp(target, dir, dir_len) != 0 || (target[dir_len] != '/' && target[dir_len] != 0)) return 0;
    if (full_flag && writes && end > (long long)st.st_size && access(full_flag, F_OK) == 0) return 2;
    if (rate <= 0.0) return 0;
    if ((double)(next() % 1000000) / 1000000.0 >= rate) return 0;
    return 1 + (int)(next() % (writes ? 3 : 2));
}

static int fault(int fd, int writes) { return fault_at(fd, writes, -1); }

static size_t iov_total(const struct iovec *iov, int iovcnt) {
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
    return total;
}

static ssize_t fail_write(const char *call, int kind) {
    note(call, kind == 1 ? "EIO" : "ENOSPC");
    errno = kind == 1 ? EIO : ENOSPC;
    return -1;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    int kind = fault_at(fd, 1, (long long)offset + (long long)count);
    if (kind == 3 && count > 1) {
        note("pwrite", "short");
        return real_pwrite(fd, buf, count / 2, offset);
    }
    if (kind == 1 || kind == 2) return fail_write("pwrite", kind);
    return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset) { return pwrite(fd, buf, count, offset); }

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    int kind = fault_at(fd, 1, (long long)offset + (long long)iov_total(iov, iovcnt));
    if (kind == 3 && iovcnt > 0 && iov[0].iov_len > 1) {
        note("pwritev", "short");
        return real_pwrite(fd, iov[0].iov_base, iov[0].iov_len / 2, offset);
    }
    if (kind == 1 || kind == 2) return fail_write("pwritev", kind);
    return real_pwritev(fd, iov, iovcnt, offset);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int iovcnt, off_t offset) {
    return pwritev(fd, iov, iovcnt, offset);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    int kind = fault_at(fd, 1, (long long)offset + (long long)iov_total(iov, iovcnt));
    if (kind == 3 && iovcnt > 0 && iov[0].iov_len > 1) {
        note("pwritev2", "short");
        return real_pwrite(fd, iov[0].iov_base, iov[0].iov_len / 2, offset);
    }
    if (kind == 1 || kind == 2) return fail_write("pwritev2", kind);
    return real_pwritev2(fd, iov, iovcnt, offset, flags);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int iovcnt, off_t offset, int flags) {
    return pwritev64v2(fd, iov, iovcnt, offset, flags);
}

ssize_t write(int fd, const void *buf, size_t count) {
    int kind = fault_at(fd, 1, (long long)lseek(fd, 0, SEEK_CUR) + (long long)count);
    if (kind == 3 && count > 1) {
        note("write", "short");
        return real_write(fd, buf, count / 2);
    }
    if (kind == 1 || kind == 2) return fail_write("write", kind);
    return real_write(fd, buf, count);
}

int fdatasync(int fd) {
    if (fault(fd, 0)) {
        note("fdatasync", "EIO");
        errno = EIO;
        return -1;
    }
    return real_fdatasync(fd);
}

int fsync(int fd) {
    if (fault(fd, 0)) {
        note("fsync", "EIO");
        errno = EIO;
        return -1;
    }
    return real_fsync(fd);
}
