/* io — see io.h. */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rn_io_name(const char *path, int output)
{
    if (!path || strcmp(path, "-") == 0)
        return output ? "stdout" : "stdin";
    return path;
}

int rn_write_full(int fd, const void *buf, size_t n, const char *where, struct rn_err *e)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return rn_err_errno(e, where, "write failed");
        }
        p += w;
        n -= (size_t)w;
    }
    return RN_OK;
}

int rn_read_full(int fd, void *buf, size_t n, size_t *got, const char *where, struct rn_err *e)
{
    unsigned char *p = buf;
    size_t total = 0;
    while (total < n) {
        size_t want = n - total;
        ssize_t r = read(fd, p + total, want > ((size_t)1 << 30) ? ((size_t)1 << 30) : want);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *got = total;
            return rn_err_errno(e, where, "read failed");
        }
        if (r == 0)
            break;
        total += (size_t)r;
    }
    *got = total;
    return RN_OK;
}

int rn_read_file(const char *path, size_t max, char **data, size_t *len, struct rn_err *e)
{
    const char *name = rn_io_name(path, 0);
    int fd = (!path || strcmp(path, "-") == 0) ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rn_err_errno(e, name, "cannot open");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    int rc = RN_OK;
    if (!buf) {
        rc = rn_err_set(e, RN_ENOMEM, name, "out of memory");
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                rc = rn_err_set(e, RN_ELIMIT, name, "file is larger than the limit of %zu bytes", max);
                goto out;
            }
            size_t ncap = cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = rn_err_set(e, RN_ENOMEM, name, "out of memory reading %zu bytes", ncap);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got;
        rc = rn_read_full(fd, buf + n, cap - n, &got, name, e);
        if (rc < 0)
            goto out;
        n += got;
        if (n < cap)
            break;
    }
    if (n > max) {
        rc = rn_err_set(e, RN_ELIMIT, name, "file is larger than the limit of %zu bytes", max);
        goto out;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    if (fd > 0)
        close(fd);
    return rc;
}

/* After rename(), the new directory entry is durable only once the
 * directory itself is synced; without this a power cut could bring back
 * the old name or none. */
static int sync_dir_of(const char *path, struct rn_err *e)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rn_err_errno(e, path, "written, but cannot open its directory to sync it");
    int rc = RN_OK;
    /* EINVAL: the filesystem cannot sync directories; nothing more to do. */
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = rn_err_errno(e, path, "written, but syncing its directory failed");
    close(fd);
    return rc;
}

int rn_outfile_open(struct rn_outfile *o, const char *path, struct rn_err *e)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    if (!path || strcmp(path, "-") == 0) {
        o->fd = 1;
        o->name = "stdout";
        return RN_OK;
    }
    /* A device, FIFO or socket (/dev/null, a named pipe) is written in
     * place: renaming a file over it would replace the device itself. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            return rn_err_set(e, RN_EIO, path, "is a directory");
        o->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (o->fd < 0)
            return rn_err_errno(e, path, "cannot open output");
        o->name = path;
        o->special = 1;
        return RN_OK;
    }
    /* Through a symlink, replace the file it points to, not the link. */
    char *real = NULL;
    struct stat lst;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
        real = realpath(path, NULL);
    const char *target = real ? real : path;
    size_t n = strlen(target);
    o->path = strdup(target);
    free(real);
    o->tmp = malloc(n + 16);
    if (!o->path || !o->tmp) {
        rn_outfile_abort(o);
        return rn_err_set(e, RN_ENOMEM, path, "out of memory");
    }
    o->name = o->path;
    /* The temporary file lives beside the target so rename() stays on one
     * filesystem and is atomic. */
    snprintf(o->tmp, n + 16, "%s.tmp.XXXXXX", o->path);
    o->fd = mkostemp(o->tmp, O_CLOEXEC);
    if (o->fd < 0) {
        int rc = rn_err_errno(e, path, "cannot create output");
        free(o->tmp);
        o->tmp = NULL;
        rn_outfile_abort(o);
        return rc;
    }
    /* mkostemp makes 0600 files; outputs should get the usual umask mode. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(o->fd, 0666 & ~mask) < 0) {
        int rc = rn_err_errno(e, path, "cannot set mode");
        rn_outfile_abort(o);
        return rc;
    }
    return RN_OK;
}

int rn_outfile_write(struct rn_outfile *o, const void *buf, size_t n, struct rn_err *e)
{
    return rn_write_full(o->fd, buf, n, o->name, e);
}

int rn_outfile_commit(struct rn_outfile *o, struct rn_err *e)
{
    int rc = RN_OK;
    if (o->special) {
        if (close(o->fd) < 0)
            rc = rn_err_errno(e, o->name, "cannot close output");
        memset(o, 0, sizeof *o);
        o->fd = -1;
        return rc;
    }
    if (!o->path) {
        /* stdout: every write was already checked; the binary checks the
         * final close (rn_close_stdout). */
        o->fd = -1;
        return RN_OK;
    }
    if (fsync(o->fd) < 0)
        rc = rn_err_errno(e, o->path, "cannot sync output");
    if (close(o->fd) < 0 && rc == RN_OK)
        rc = rn_err_errno(e, o->path, "cannot close output");
    o->fd = -1;
    if (rc == RN_OK && rename(o->tmp, o->path) < 0)
        rc = rn_err_errno(e, o->path, "cannot rename %s into place", o->tmp);
    else if (rc == RN_OK) {
        free(o->tmp); /* renamed: nothing left to remove */
        o->tmp = NULL;
        rc = sync_dir_of(o->path, e);
    }
    rn_outfile_abort(o);
    return rc;
}

void rn_outfile_abort(struct rn_outfile *o)
{
    if (!o)
        return;
    if ((o->path || o->special) && o->fd >= 0)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    memset(o, 0, sizeof *o);
    o->fd = -1;
}
