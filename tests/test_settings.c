/* test_settings.c — engine/settings.c, the one table of the session's
 * real-valued settings, and what reads it: every range consistent, the CC
 * mapping's endpoints and curve (against the formulas the table replaced,
 * written out here), NaN and infinities refused by the one number parser and
 * by presets, the LV2 ports of plugin/lv2/continuo.ttl (parsed here as
 * text) agreeing with the table, the defaults shared by the session and the
 * sampler, and the host's [output] group. Tolerance: 1e-9 on doubles
 * computed two ways (the table's values are exact decimals). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "error.h"
#include "host_config.h"
#include "paths.h"
#include "sample.h"
#include "session_config.h"
#include "settings.h"

#define TOL 1e-9

static void test_table_consistent(void **state)
{
    (void)state;
    for (int i = 0; i < SET_COUNT; i++) {
        const setting *s = settings_get((setting_id)i);
        assert_non_null(s->name);
        assert_non_null(s->unit);
        if (!(s->min < s->max)) fail_msg("%s: min %g !< max %g", s->name, s->min, s->max);
        if (!settings_valid((setting_id)i, s->def)) fail_msg("%s: default %g out of range", s->name, s->def);
        if (!(s->ctl_lo < s->ctl_hi)) fail_msg("%s: control range empty", s->name);
        if (!settings_valid((setting_id)i, s->ctl_lo) || !settings_valid((setting_id)i, s->ctl_hi))
            fail_msg("%s: control range [%g, %g] outside the valid range", s->name, s->ctl_lo, s->ctl_hi);
        /* the ends: open ones refused, closed ones taken; clamp lands inside */
        assert_int_equal(settings_valid((setting_id)i, s->min), !s->min_open);
        assert_int_equal(settings_valid((setting_id)i, s->max), !s->max_open);
        assert_true(settings_valid((setting_id)i, settings_clamp((setting_id)i, s->min - 1)));
        assert_true(settings_valid((setting_id)i, settings_clamp((setting_id)i, s->max + 1)));
        assert_true(settings_valid((setting_id)i, settings_clamp((setting_id)i, -INFINITY)));
        assert_true(settings_clamp((setting_id)i, NAN) == s->def);
        assert_false(settings_valid((setting_id)i, NAN));
        assert_false(settings_valid((setting_id)i, INFINITY));
    }
}

static void test_cc_mapping(void **state)
{
    (void)state;
    int mapped = 0;
    for (int i = 0; i < SET_COUNT; i++) {
        const setting *s = settings_get((setting_id)i);
        if (s->cc == SETTING_CC_NONE) continue;
        mapped++;
        assert_true(fabs(settings_from_cc((setting_id)i, 0) - s->ctl_lo) < TOL);
        assert_true(fabs(settings_from_cc((setting_id)i, 127) - s->ctl_hi) < TOL);
        assert_true(fabs(settings_from_cc((setting_id)i, -5) - s->ctl_lo) < TOL);   /* clamped */
        assert_true(fabs(settings_from_cc((setting_id)i, 300) - s->ctl_hi) < TOL);
        for (int v = 1; v <= 127; v++)
            assert_true(settings_from_cc((setting_id)i, v) > settings_from_cc((setting_id)i, v - 1));
    }
    assert_int_equal(mapped, 2);
    /* temperature: 0.2 + 1.8 v/127, as the CC mapping always was */
    for (int v = 0; v <= 127; v++)
        assert_true(fabs(settings_from_cc(SET_TEMPERATURE, v) - (0.2 + 1.8 * v / 127.0)) < TOL);
    /* density: 4^((v - 64)/64) below the centre (64 -> 1 exactly), and up to 4 at 127 */
    for (int v = 0; v <= 64; v++)
        assert_true(fabs(settings_from_cc(SET_DENSITY, v) - pow(4.0, (v - 64) / 64.0)) < TOL);
    assert_true(fabs(settings_from_cc(SET_DENSITY, 64) - 1.0) < TOL);
    assert_true(fabs(settings_from_cc(SET_DENSITY, 127) - 4.0) < TOL);
}

static void test_parser_refuses_nonfinite(void **state)
{
    (void)state;
    const char *bad[] = {"nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e999", "", "  ",
                         "1.5x", "0x", "abc", NULL};
    for (int i = 0; bad[i]; i++) {
        double x = 42;
        GError *err = NULL;
        if (settings_parse_number(bad[i], "--temperature", &x, &err))
            fail_msg("'%s' accepted as %g", bad[i], x);
        assert_true(x == 42);
        assert_non_null(err);
        assert_null(strchr(err->message, '\n'));
        assert_non_null(strstr(err->message, "--temperature"));
        assert_non_null(strstr(err->message, "not a finite number"));
        g_error_free(err);
    }
    double x = 0;
    assert_true(settings_parse_number(" 0.25 ", NULL, &x, NULL));
    assert_true(x == 0.25);
    assert_true(settings_parse_number("-3e-2", NULL, &x, NULL));
    assert_true(x == -0.03);
    /* a setting's range, one line naming it */
    GError *err = NULL;
    assert_false(settings_parse(SET_TEMPERATURE, "10.5", "--temperature", &x, &err));
    assert_non_null(strstr(err->message, "temperature must be in [0, 10]"));
    g_clear_error(&err);
    assert_true(settings_parse(SET_TEMPERATURE, "0", NULL, &x, &err));
    assert_false(settings_parse(SET_DENSITY, "0", NULL, &x, &err));
    assert_non_null(strstr(err->message, "density must be in (0, 100]"));
    g_clear_error(&err);

    /* a session config holding a NaN (from code, not text) is refused too */
    session_config c;
    session_config_defaults(&c);
    assert_true(session_config_check(&c, NULL));
    c.sampling.temperature = NAN;
    assert_false(session_config_check(&c, &err));
    assert_non_null(strstr(err->message, "temperature"));
    g_clear_error(&err);
}

/* ---- the LV2 ports ---------------------------------------------------------- */

/* The number after `key` inside one port's block, NAN if absent. */
static double ttl_number(const char *block, const char *key)
{
    const char *p = strstr(block, key);
    if (!p) return NAN;
    return g_ascii_strtod(p + strlen(key), NULL);
}

static void test_lv2_ports_agree(void **state)
{
    (void)state;
    gchar *cwd = g_get_current_dir();
    gchar *ttl_path = g_build_filename(cwd, "plugin", "lv2", "continuo.ttl", NULL);
    g_free(cwd);
    gchar *ttl = NULL;
    if (!g_file_get_contents(ttl_path, &ttl, NULL, NULL)) {
        g_free(ttl_path);
        skip(); /* not run from the repository root */
    }
    int compared = 0;
    /* each port's block starts at its lv2:index */
    gchar **blocks = g_strsplit(ttl, "lv2:index", -1);
    for (int b = 1; blocks[b]; b++) {
        const char *sym = strstr(blocks[b], "lv2:symbol \"");
        assert_non_null(sym);
        sym += strlen("lv2:symbol \"");
        gchar *name = g_strndup(sym, strcspn(sym, "\""));
        for (int i = 0; i < SET_COUNT; i++) {
            const setting *s = settings_get((setting_id)i);
            if (strcmp(s->name, name)) continue;
            double def = ttl_number(blocks[b], "lv2:default "), lo = ttl_number(blocks[b], "lv2:minimum "),
                   hi = ttl_number(blocks[b], "lv2:maximum ");
            if (!(fabs(def - s->def) < TOL && fabs(lo - s->ctl_lo) < TOL && fabs(hi - s->ctl_hi) < TOL))
                fail_msg("port %s: default %g min %g max %g; the table: %g [%g, %g]", name, def, lo,
                         hi, s->def, s->ctl_lo, s->ctl_hi);
            compared++;
        }
        g_free(name);
    }
    /* temperature, density, lookahead, quantize_grid, quantize_strength */
    assert_int_equal(compared, 5);
    g_strfreev(blocks);
    g_free(ttl);
    g_free(ttl_path);
}

/* ---- defaults and the host's group ------------------------------------------ */

static void test_one_default_each(void **state)
{
    (void)state;
    session_config c;
    session_config_defaults(&c);
    sampler_limits l;
    sampler_params p;
    sampler_limits_defaults(&l);
    sampler_params_defaults(&p);
    assert_int_equal(c.limits.pitch_lo, l.pitch_lo);
    assert_int_equal(c.limits.pitch_hi, l.pitch_hi);
    assert_int_equal(c.limits.max_polyphony, l.max_polyphony);
    assert_true(c.limits.max_note_len == l.max_note_len);
    assert_int_equal(c.limits.allow_specials, l.allow_specials);
    assert_true(c.sampling.temperature == p.temperature && c.sampling.top_p == p.top_p &&
                c.sampling.min_p == p.min_p && c.sampling.top_k == p.top_k);
    assert_int_equal(l.max_polyphony, 10);
    assert_true(l.max_note_len == 4.0);
    assert_true(c.sampling.temperature == (float)settings_get(SET_TEMPERATURE)->def);
    assert_true(c.density == (float)settings_get(SET_DENSITY)->def);
    assert_true(c.lookahead == settings_get(SET_LOOKAHEAD)->def);
    /* the shipped presets say the same as the defaults */
    GError *err = NULL;
    char *path = paths_find_preset("duet", &err);
    if (!path) fail_msg("%s", err->message);
    session_config d;
    assert_true(preset_load(path, &d, NULL, &err));
    assert_int_equal(d.limits.max_polyphony, l.max_polyphony);
    assert_true(d.limits.max_note_len == l.max_note_len);
    g_free(path);
}

static char *write_tmp(const char *text)
{
    char *path = NULL;
    int fd = g_file_open_tmp("continuo-test-settings-XXXXXX.ini", &path, NULL);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_host_group(void **state)
{
    (void)state;
    /* the engine skips [output]; the host reads it */
    char *path = write_tmp("[sampling]\ntemperature = 0.5\n[output]\naudio = false\nreconnect = true\n");
    session_config c;
    host_config h;
    session_config_defaults(&c);
    GError *err = NULL;
    assert_true(session_config_load(&c, path, &err));
    assert_true(preset_load(path, &c, &h, &err));
    assert_true(fabsf(c.sampling.temperature - 0.5f) < 1e-6f);
    assert_false(h.audio);
    assert_true(h.performer_audio);
    assert_true(h.reconnect);
    g_unlink(path);
    g_free(path);
    const char *bad[][2] = {{"[output]\naudio = maybe\n", "audio"},
                            {"[output]\nvolume = 3\n", "volume"}};
    for (int i = 0; i < 2; i++) {
        path = write_tmp(bad[i][0]);
        host_config_defaults(&h);
        assert_false(preset_load(path, &c, &h, &err));
        if (!strstr(err->message, path) || !strstr(err->message, bad[i][1]) ||
            strchr(err->message, '\n'))
            fail_msg("unclear error: %s", err->message);
        assert_true(h.audio); /* untouched */
        g_clear_error(&err);
        g_unlink(path);
        g_free(path);
    }
}

/* A preset's errors echo what the file says, escaped: no control byte may
 * reach the terminal; a file that is not text is refused, not loaded as the
 * defaults (a file whose lines start with NUL used to load silently). */
static gboolean has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F) return TRUE;
    return FALSE;
}

static char *load_error(const char *content, size_t len)
{
    char *path = NULL;
    int fd = g_file_open_tmp("cn-preset-XXXXXX.ini", &path, NULL);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, len), (ssize_t)len);
    close(fd);
    session_config c;
    session_config_defaults(&c);
    GError *err = NULL;
    gboolean ok = session_config_load(&c, path, &err);
    host_config h;
    host_config_defaults(&h);
    GError *herr = NULL;
    gboolean hok = host_config_load(&h, path, &herr);
    g_unlink(path);
    g_free(path);
    if (!hok) { /* the host's reader reads the same file: its errors are escaped too */
        assert_false(has_control(herr->message));
        g_error_free(herr);
    }
    if (ok) return NULL;
    char *msg = g_strdup(err->message);
    assert_false(has_control(msg));
    g_error_free(err);
    return msg;
}

static void test_preset_untrusted(void **state)
{
    (void)state;
    static const char esc[] = "[session]\nmode = \033[31mred\a\n";
    char *m = load_error(esc, sizeof esc - 1);
    assert_non_null(m);
    assert_non_null(strstr(m, "'\\x1B[31mred\\x07' is not duet"));
    g_free(m);
    static const char nul[] = "\0[session]\n\0mode = solo\n";
    m = load_error(nul, sizeof nul - 1);
    assert_non_null(m);
    assert_non_null(strstr(m, "not a text file"));
    g_free(m);
    static const char bin[] = "\x89PNG\r\n\x1a\n\xff\xfe[session]\n";
    m = load_error(bin, sizeof bin - 1);
    assert_non_null(m);
    assert_non_null(strstr(m, "not a text file"));
    g_free(m);
    static const char grp[] = "[ses\033sion]\nx = 1\n";
    m = load_error(grp, sizeof grp - 1);
    assert_non_null(m);
    g_free(m);
    static const char line[] = "\033[2J\r garbage\n";
    m = load_error(line, sizeof line - 1);
    assert_non_null(m);
    assert_true(strlen(m) < 400);
    g_free(m);
    static const char good[] = "[session]\nmode = solo\n";
    assert_null(load_error(good, sizeof good - 1));
    char *p = cn_printable("a\tb\xc3\xa9\xff", 100); /* tab, e-acute (kept), a stray byte */
    assert_string_equal(p, "a\\x09b\xc3\xa9\\xFF");
    g_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_consistent),
        cmocka_unit_test(test_cc_mapping),
        cmocka_unit_test(test_parser_refuses_nonfinite),
        cmocka_unit_test(test_lv2_ports_agree),
        cmocka_unit_test(test_one_default_each),
        cmocka_unit_test(test_host_group),
        cmocka_unit_test(test_preset_untrusted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
