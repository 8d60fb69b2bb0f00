/* test_log.c — plugin/log.c: one line per message with an ISO-8601 UTC
 * timestamp, the pid and the level; the threshold drops what is above it;
 * lines from many threads never mix; long messages are cut to one line.
 * The output goes to a pipe and is parsed back here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <glib.h>
#include "log.h"

static char *capture(void (*fn)(void))
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    log_set_fd(fds[1]);
    fn();
    log_set_fd(2);
    close(fds[1]);
    GString *s = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) g_string_append_len(s, buf, n);
    close(fds[0]);
    return g_string_free(s, FALSE);
}

static void emit_levels(void)
{
    log_set_level(CN_LOG_INFO);
    log_error("disk %s", "full");
    log_warn("warned\n");
    log_info("informed %d", 3);
    log_debug("hidden");
}

static void test_format_and_levels(void **state)
{
    (void)state;
    char *out = capture(emit_levels);
    char **lines = g_strsplit(out, "\n", -1);
    assert_int_equal(g_strv_length(lines), 4); /* three lines and the empty tail */
    const char *want[] = {"ERROR disk full", "WARN  warned", "INFO  informed 3"};
    GRegex *re = g_regex_new("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z continuo\\[\\d+\\] ", 0, 0, NULL);
    for (int i = 0; i < 3; i++) {
        if (!g_regex_match(re, lines[i], 0, NULL)) fail_msg("bad line: '%s'", lines[i]);
        assert_non_null(g_str_has_suffix(lines[i], want[i]) ? lines[i] : NULL);
    }
    assert_string_equal(lines[3], "");
    g_regex_unref(re);
    g_strfreev(lines);
    g_free(out);
}

static void emit_long(void)
{
    char *big = g_strnfill(5000, 'x');
    log_error("%s\n%s", big, big);
    g_free(big);
}

static void test_long_line_cut(void **state)
{
    (void)state;
    char *out = capture(emit_long);
    assert_true(strlen(out) <= 1024);
    assert_int_equal(out[strlen(out) - 1], '\n');
    g_free(out);
}

static gpointer writer(gpointer arg)
{
    for (int i = 0; i < 200; i++) log_info("thread %ld line %d %s", (long)GPOINTER_TO_INT(arg), i,
                                           "padding padding padding padding padding");
    return NULL;
}

static void emit_threads(void)
{
    GThread *t[4];
    for (int i = 0; i < 4; i++) t[i] = g_thread_new("w", writer, GINT_TO_POINTER(i));
    for (int i = 0; i < 4; i++) g_thread_join(t[i]);
}

static void test_threads_do_not_mix(void **state)
{
    (void)state;
    log_set_level(CN_LOG_INFO);
    char *out = capture(emit_threads);
    char **lines = g_strsplit(out, "\n", -1);
    int n = 0;
    for (int i = 0; lines[i] && lines[i][0]; i++, n++) {
        assert_non_null(strstr(lines[i], " INFO  thread "));
        assert_true(g_str_has_suffix(lines[i], "padding padding padding padding padding"));
    }
    assert_int_equal(n, 800);
    g_strfreev(lines);
    g_free(out);
}

static void test_parse(void **state)
{
    (void)state;
    log_level l;
    assert_true(log_level_parse("DEBUG", &l) && l == CN_LOG_DEBUG);
    assert_true(log_level_parse("warning", &l) && l == CN_LOG_WARN);
    assert_false(log_level_parse("loud", &l));
    assert_false(log_level_parse(NULL, &l));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_levels),
        cmocka_unit_test(test_long_line_cut),
        cmocka_unit_test(test_threads_do_not_mix),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
