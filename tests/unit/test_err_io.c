/* err and io: messages, prefixes, errno text, whole reads and writes, and
 * outputs that appear only when committed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "io.h"

static void test_err_set_and_prefix(void **state)
{
    (void)state;
    struct rn_err e = {0};
    assert_int_equal(rn_err_set(&e, RN_EFORMAT, "a.rnl", "bad %s %d", "thing", 3), RN_EFORMAT);
    assert_string_equal(e.where, "a.rnl");
    assert_string_equal(e.msg, "bad thing 3");
    assert_int_equal(e.code, RN_EFORMAT);
    rn_err_prefix(&e, "record %d: ", 7);
    assert_string_equal(e.msg, "record 7: bad thing 3");
    /* NULL where keeps the place already recorded. */
    rn_err_set(&e, RN_ELIMIT, NULL, "again");
    assert_string_equal(e.where, "a.rnl");
    /* NULL err is allowed everywhere. */
    assert_int_equal(rn_err_set(NULL, RN_EIO, "x", "y"), RN_EIO);
    rn_err_prefix(NULL, "z");
    /* Very long messages are cut, never overflow. */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    rn_err_set(&e, RN_EIO, big, "%s", big);
    assert_int_equal(strlen(e.msg), RN_ERR_MSG_MAX - 1);
    assert_int_equal(strlen(e.where), RN_ERR_WHERE_MAX - 1);
    rn_err_prefix(&e, "%s", big);
    assert_int_equal(strlen(e.msg), RN_ERR_MSG_MAX - 1);
}

static void test_err_errno(void **state)
{
    (void)state;
    struct rn_err e = {0};
    errno = ENOENT;
    assert_int_equal(rn_err_errno(&e, "f", "cannot open"), RN_EIO);
    assert_string_equal(e.msg, "cannot open: No such file or directory");
    for (int c = RN_EUNSUPPORTED; c <= RN_EOF; c++)
        assert_string_not_equal(rn_status_name(c), "unknown error");
    assert_string_equal(rn_status_name(-99), "unknown error");
}

static void test_outfile_commit_and_abort(void **state)
{
    (void)state;
    char dir[] = "/tmp/rn_io_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    struct rn_outfile o;
    struct rn_err e = {0};
    assert_int_equal(rn_outfile_open(&o, path, &e), RN_OK);
    assert_int_equal(rn_outfile_write(&o, "hello", 5, &e), RN_OK);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(rn_outfile_commit(&o, &e), RN_OK);
    char *data;
    size_t len;
    assert_int_equal(rn_read_file(path, 100, &data, &len, &e), RN_OK);
    assert_int_equal(len, 5);
    assert_string_equal(data, "hello");
    free(data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_mode & S_IRUSR);
    /* Abort leaves the old file alone and removes the temporary. */
    assert_int_equal(rn_outfile_open(&o, path, &e), RN_OK);
    assert_int_equal(rn_outfile_write(&o, "XX", 2, &e), RN_OK);
    rn_outfile_abort(&o);
    assert_int_equal(rn_read_file(path, 100, &data, &len, &e), RN_OK);
    assert_string_equal(data, "hello");
    free(data);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    rn_outfile_abort(&o); /* twice is harmless */
}

static void test_outfile_errors(void **state)
{
    (void)state;
    struct rn_outfile o;
    struct rn_err e = {0};
    assert_int_equal(rn_outfile_open(&o, "/nonexistent-dir/f", &e), RN_EIO);
    assert_string_equal(e.where, "/nonexistent-dir/f");
    assert_non_null(strstr(e.msg, "No such file"));
    /* A full disk is reported by write, never silently ignored. */
    if (access("/dev/full", W_OK) == 0) {
        int fd = open("/dev/full", O_WRONLY);
        assert_int_equal(rn_write_full(fd, "x", 1, "/dev/full", &e), RN_EIO);
        assert_non_null(strstr(e.msg, "No space left"));
        close(fd);
    }
}

static void test_outfile_special_files(void **state)
{
    (void)state;
    struct rn_outfile o;
    struct rn_err e = {0};
    struct stat st;
    /* A FIFO (like a device such as /dev/null: the same code path) must
     * stay what it is: a rename over it would replace it with a file. A
     * FIFO in a temporary directory keeps a regression from breaking the
     * machine's /dev/null. */
    char fdir[] = "/tmp/rn_io_fifo_XXXXXX";
    assert_non_null(mkdtemp(fdir));
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/fifo", fdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK); /* a reader, so opening for writing succeeds */
    assert_true(rd >= 0);
    assert_int_equal(rn_outfile_open(&o, fifo, &e), RN_OK);
    assert_int_equal(rn_outfile_write(&o, "x", 1, &e), RN_OK);
    assert_int_equal(rn_outfile_commit(&o, &e), RN_OK);
    char got = 0;
    assert_int_equal(read(rd, &got, 1), 1);
    assert_int_equal(got, 'x');
    close(rd);
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    unlink(fifo);
    rmdir(fdir);
    /* A symlink is kept; the file it points to gets the new contents. */
    char dir[] = "/tmp/rn_io_ln_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char target[128], link[128];
    snprintf(target, sizeof target, "%s/target", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    FILE *f = fopen(target, "w");
    fputs("old", f);
    fclose(f);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(rn_outfile_open(&o, link, &e), RN_OK);
    assert_int_equal(rn_outfile_write(&o, "new", 3, &e), RN_OK);
    assert_int_equal(rn_outfile_commit(&o, &e), RN_OK);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char *data;
    size_t len;
    assert_int_equal(rn_read_file(target, 100, &data, &len, &e), RN_OK);
    assert_string_equal(data, "new");
    free(data);
    /* A directory is refused by name. */
    assert_int_equal(rn_outfile_open(&o, dir, &e), RN_EIO);
    assert_non_null(strstr(e.msg, "is a directory"));
    unlink(link);
    unlink(target);
    rmdir(dir);
}

static void test_read_file_limits(void **state)
{
    (void)state;
    char path[] = "/tmp/rn_io_rf_XXXXXX";
    int fd = mkstemp(path);
    char buf[100000];
    memset(buf, 'a', sizeof buf);
    assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    close(fd);
    struct rn_err e = {0};
    char *data = NULL;
    size_t len;
    assert_int_equal(rn_read_file(path, 1000, &data, &len, &e), RN_ELIMIT);
    assert_null(data);
    assert_int_equal(rn_read_file(path, sizeof buf, &data, &len, &e), RN_OK);
    assert_int_equal(len, sizeof buf);
    free(data);
    unlink(path);
    assert_int_equal(rn_read_file("/nonexistent", 10, &data, &len, &e), RN_EIO);
    assert_string_equal(rn_io_name("-", 0), "stdin");
    assert_string_equal(rn_io_name(NULL, 1), "stdout");
    assert_string_equal(rn_io_name("x", 1), "x");
}

static void test_read_full_pipe(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "abcdef", 6), 6);
    close(p[1]);
    char buf[16];
    size_t got;
    struct rn_err e = {0};
    assert_int_equal(rn_read_full(p[0], buf, sizeof buf, &got, "pipe", &e), RN_OK);
    assert_int_equal(got, 6);
    close(p[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_and_prefix),
        cmocka_unit_test(test_err_errno),
        cmocka_unit_test(test_outfile_commit_and_abort),
        cmocka_unit_test(test_outfile_errors),
        cmocka_unit_test(test_outfile_special_files),
        cmocka_unit_test(test_read_file_limits),
        cmocka_unit_test(test_read_full_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
