/* test_midifile.c — Standard MIDI File loading and saving (engine/midifile.c,
 * engine/smf_check.c).
 *
 * Files are built byte by byte here by a tiny SMF writer of the test's own
 * (independent of libsmf and of the code under test), with event times worked
 * out by hand from the tempo map. Checked: exact times (tolerance 1e-9 s) for
 * formats 0 and 1, PPQN 96/384/480/960, tempo changes mid-file and in any
 * track, running status, velocity-0 note-offs, VLQs of 1..4 bytes; a
 * save -> load round trip (times within half a 960-ppqn tick, 1/3840 s); and
 * broken files: every truncation of valid files, a table of specific defects,
 * and several hundred random bit flips / random track bodies (fixed seeds),
 * each of which must load or fail with a one-line error naming the file,
 * printing nothing. Real ASAP files (skipped when absent) are sanity-checked
 * and their times compared with libsmf's on the same files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <smf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "error.h"
#include "events.h"
#include "midifile.h"
#include "smf_check.h"

#define TIME_TOL 1e-9                   /* s: exact tempo-map arithmetic */
#define SAVE_TOL (0.5 / 1920.0 + 1e-9)  /* s: half a tick at 960 ppqn, 120 bpm */

static char *tmpdir;

/* ---------------------------------------------------------------- a tiny SMF writer */

typedef GByteArray Buf;

static Buf *buf_new(void) { return g_byte_array_new(); }

static void put_bytes(Buf *b, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)va_arg(ap, int);
        g_byte_array_append(b, &c, 1);
    }
    va_end(ap);
}

static void put_be32(Buf *b, uint32_t v) { put_bytes(b, 4, v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255); }
static void put_be16(Buf *b, unsigned v) { put_bytes(b, 2, (v >> 8) & 255, v & 255); }

/* Standard variable-length quantity, shortest form. */
static void put_vlq(Buf *b, uint32_t v)
{
    uint8_t tmp[5];
    int n = 0;
    tmp[n++] = v & 0x7F;
    while (v >>= 7)
        tmp[n++] = 0x80 | (v & 0x7F);
    while (n--)
        g_byte_array_append(b, &tmp[n], 1);
}

static Buf *smf_begin(int format, int ntracks, unsigned division)
{
    Buf *f = buf_new();
    g_byte_array_append(f, (const uint8_t *)"MThd", 4);
    put_be32(f, 6);
    put_be16(f, format);
    put_be16(f, ntracks);
    put_be16(f, division);
    return f;
}

/* Appends an MTrk chunk holding `body` (whose length it writes) and frees body. */
static void smf_track(Buf *f, Buf *body)
{
    g_byte_array_append(f, (const uint8_t *)"MTrk", 4);
    put_be32(f, body->len);
    g_byte_array_append(f, body->data, body->len);
    g_byte_array_free(body, TRUE);
}

static void meta(Buf *t, uint32_t delta, int type, const void *data, uint32_t len)
{
    put_vlq(t, delta);
    put_bytes(t, 2, 0xFF, type);
    put_vlq(t, len);
    g_byte_array_append(t, data, len);
}

static void tempo(Buf *t, uint32_t delta, uint32_t us)
{
    uint8_t d[3] = { us >> 16, (us >> 8) & 255, us & 255 };
    meta(t, delta, 0x51, d, 3);
}

static void eot(Buf *t, uint32_t delta) { meta(t, delta, 0x2F, "", 0); }

/* ---------------------------------------------------------------- helpers */

typedef struct {
    double t;
    int type, ch, a, b;
} want_event;

static char *tmp_path(const char *name) { return g_build_filename(tmpdir, name, NULL); }

static char *write_tmp(const char *name, const Buf *b)
{
    char *path = tmp_path(name);
    GError *err = NULL;
    if (!g_file_set_contents(path, (const char *)b->data, b->len, &err))
        fail_msg("cannot write %s: %s", path, err->message);
    return path;
}

static void expect_events(const char *what, const GArray *got, const want_event *want, guint n,
                          double tol)
{
    if (got->len != n)
        fail_msg("%s: %u events, expected %u", what, got->len, n);
    for (guint i = 0; i < n; i++) {
        const cn_event *e = &g_array_index(got, cn_event, i);
        const want_event *w = &want[i];
        if (e->type != w->type || e->channel != w->ch || e->a != w->a || e->b != w->b ||
            !(fabs(e->time - w->t) <= tol))
            fail_msg("%s: event %u is (%.9f s, type %d, ch %d, %d, %d), expected "
                     "(%.9f s, type %d, ch %d, %d, %d)",
                     what, i, e->time, e->type, e->channel, e->a, e->b, w->t, w->type, w->ch,
                     w->a, w->b);
    }
}

static GArray *quiet_load(const char *path, GError **err);

static GArray *load_ok(const char *path)
{
    GError *err = NULL;
    GArray *ev = quiet_load(path, &err);
    if (!ev)
        fail_msg("load %s failed: %s", path, err->message);
    return ev;
}

/* Checks the error contract: CN_ERROR domain, expected code, one line that
 * starts with "PATH: ", and (when given) contains `part`. */
static void check_error(const char *what, const char *path, const GError *err, int code,
                        const char *part)
{
    assert_non_null(err);
    if (err->domain != CN_ERROR || err->code != code)
        fail_msg("%s: error code %d (domain %s), expected %d: %s", what, err->code,
                 g_quark_to_string(err->domain), code, err->message);
    char *prefix = g_strconcat(path, ": ", NULL);
    if (!g_str_has_prefix(err->message, prefix))
        fail_msg("%s: message does not start with the path: %s", what, err->message);
    g_free(prefix);
    if (strchr(err->message, '\n'))
        fail_msg("%s: message is not one line: %s", what, err->message);
    if (part && !strstr(err->message, part))
        fail_msg("%s: message lacks \"%s\": %s", what, part, err->message);
}

static void expect_load_error(const char *name, const Buf *b, int code, const char *part)
{
    char *path = write_tmp(name, b);
    GError *err = NULL;
    GArray *ev = quiet_load(path, &err);
    if (ev)
        fail_msg("%s: loaded (%u events), expected error code %d", name, ev->len, code);
    check_error(name, path, err, code, part);
    g_error_free(err);
    g_free(path);
}

/* Redirects fd 2 (and flushes stdio) into a file, to prove nothing is printed. */
typedef struct {
    int saved_out, saved_err;
    char *path;
} quiet_capture;

static void capture_begin(quiet_capture *q)
{
    fflush(stdout);
    fflush(stderr);
    q->path = tmp_path("captured-output.txt");
    int fd = open(q->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    q->saved_out = dup(1);
    q->saved_err = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
}

/* Restores the streams and returns how many bytes were printed meanwhile. */
static size_t capture_end(quiet_capture *q)
{
    fflush(stdout);
    fflush(stderr);
    dup2(q->saved_out, 1);
    dup2(q->saved_err, 2);
    close(q->saved_out);
    close(q->saved_err);
    char *text = NULL;
    gsize n = 0;
    g_file_get_contents(q->path, &text, &n, NULL);
    if (n)
        fprintf(stderr, "unexpected output: %.*s\n", (int)n, text);
    g_free(text);
    g_unlink(q->path);
    g_free(q->path);
    return n;
}

/* midifile_load / midifile_save with fds 1 and 2 captured around the call
 * only (so a failing assertion afterwards still reports), asserting that
 * nothing was printed. */
static GArray *quiet_load(const char *path, GError **err)
{
    quiet_capture q;
    capture_begin(&q);
    GArray *ev = midifile_load(path, err);
    size_t printed = capture_end(&q);
    if (printed)
        fail_msg("loading %s printed %zu bytes", path, printed);
    return ev;
}

static gboolean quiet_save(const char *path, const GArray *ev, gboolean split, GError **err)
{
    quiet_capture q;
    capture_begin(&q);
    gboolean ok = midifile_save(path, ev, split, err);
    size_t printed = capture_end(&q);
    if (printed)
        fail_msg("saving %s printed %zu bytes", path, printed);
    return ok;
}

/* A loaded array must be time-sorted, finite, within the limits, in range. */
static void check_sane(const GArray *ev)
{
    double last = 0;
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        assert_true(isfinite(e->time));
        assert_true(e->time >= last);
        assert_true(e->time <= CN_SMF_MAX_SECONDS);
        assert_true(e->type >= CN_EV_NOTE_ON && e->type <= CN_EV_PROGRAM);
        assert_true(e->channel <= 15 && e->a <= 127 && e->b <= 127);
        last = e->time;
    }
}

/* ---------------------------------------------------------------- reference files */

/* Format 0, division P. Times by hand: tempo 500000 us/qn (P ticks = 0.5 s)
 * until tick 1.5P (0.75 s), then 250000 (P ticks = 0.25 s). */
static Buf *build_format0(unsigned P)
{
    Buf *t = buf_new();
    char text[200];
    memset(text, 'x', sizeof text); /* >= 128 bytes: a 2-byte length VLQ (libsmf 1.3 misreads it) */
    tempo(t, 0, 500000);
    meta(t, 0, 0x01, text, sizeof text);
    put_vlq(t, 0); put_bytes(t, 2, 0xC0, 5);          /* 0 s: program 5 */
    put_vlq(t, 0); put_bytes(t, 3, 0x90, 60, 100);    /* 0 s: note on 60 */
    put_vlq(t, P); put_bytes(t, 2, 60, 0);            /* 0.5 s: running status, vel 0 = off */
    put_vlq(t, 0); put_bytes(t, 2, 62, 80);           /* 0.5 s: running status on 62 */
    tempo(t, P / 2, 250000);                           /* tick 1.5P = 0.75 s */
    put_vlq(t, P / 2); put_bytes(t, 3, 0xB0, 64, 127); /* tick 2P = 0.875 s: sustain down */
    put_vlq(t, 0); put_bytes(t, 3, 0xE0, 0, 64);      /* pitch bend: dropped */
    put_vlq(t, 0); put_bytes(t, 5, 0xF0, 3, 0x7E, 0, 0xF7); /* sysex: dropped */
    put_vlq(t, P); put_bytes(t, 3, 0x80, 62, 64);     /* tick 3P = 1.125 s */
    put_vlq(t, 2 * P); put_bytes(t, 3, 0xB0, 64, 0);  /* tick 5P = 1.625 s: sustain up */
    put_vlq(t, 0); put_bytes(t, 3, 0xA0, 60, 10);     /* poly pressure: dropped */
    eot(t, P);
    Buf *f = smf_begin(0, 1, P);
    smf_track(f, t);
    return f;
}

static const want_event format0_want[] = {
    { 0.0, CN_EV_PROGRAM, 0, 5, 0 },   { 0.0, CN_EV_NOTE_ON, 0, 60, 100 },
    { 0.5, CN_EV_NOTE_OFF, 0, 60, 0 }, { 0.5, CN_EV_NOTE_ON, 0, 62, 80 },
    { 0.875, CN_EV_CC, 0, 64, 127 },   { 1.125, CN_EV_NOTE_OFF, 0, 62, 64 },
    { 1.625, CN_EV_CC, 0, 64, 0 },
};

/* Format 1, division P, three tracks. Tempo map (every track's tempo events
 * count): 600000 us/qn from 0, 400000 from tick 2P (1.2 s, conductor), 1000000
 * from tick 4P (2.0 s, set in track 3). Times by hand:
 *   tick P = 0.6 s, 2P = 1.2 s, 3P = 1.6 s, 4P = 2.0 s, 5P = 3.0 s. */
static Buf *build_format1(unsigned P)
{
    Buf *c = buf_new(); /* conductor */
    uint8_t timesig[4] = { 4, 2, 24, 8 };
    tempo(c, 0, 600000);
    meta(c, 0, 0x58, timesig, 4);
    meta(c, 0, 0x03, "conductor", 9);
    tempo(c, 2 * P, 400000);
    eot(c, 0);

    Buf *a = buf_new(); /* channel 0 */
    put_vlq(a, 0); put_bytes(a, 3, 0x90, 60, 90);          /* 0 s */
    put_vlq(a, P); put_bytes(a, 3, 0x90, 60, 0);           /* 0.6 s: off */
    meta(a, 0, 0x01, "text between", 12);
    put_vlq(a, 2 * P); put_bytes(a, 2, 64, 70);            /* 3P = 1.6 s: running status kept across meta */
    put_vlq(a, 2 * P); put_bytes(a, 3, 0x80, 64, 0);       /* 5P = 3.0 s */
    eot(a, 0);

    Buf *b = buf_new(); /* channels 9 and 1 */
    put_vlq(b, 0); put_bytes(b, 3, 0x99, 36, 127);         /* 0 s, after track 2's event */
    put_vlq(b, 0); put_bytes(b, 2, 0xC1, 40);              /* 0 s: program on channel 1 */
    put_vlq(b, P); put_bytes(b, 3, 0x89, 36, 0);           /* P = 0.6 s, after track 2's off */
    put_vlq(b, P); put_bytes(b, 3, 0xB1, 7, 100);          /* 2P = 1.2 s */
    tempo(b, 2 * P, 1000000);                              /* 4P = 2.0 s */
    put_vlq(b, P / 2); put_bytes(b, 3, 0xB1, 64, 127);     /* 4.5P = 2.5 s */
    eot(b, P);

    Buf *f = smf_begin(1, 3, P);
    smf_track(f, c);
    smf_track(f, a);
    smf_track(f, b);
    return f;
}

static const want_event format1_want[] = {
    { 0.0, CN_EV_NOTE_ON, 0, 60, 90 },  { 0.0, CN_EV_NOTE_ON, 9, 36, 127 },
    { 0.0, CN_EV_PROGRAM, 1, 40, 0 },   { 0.6, CN_EV_NOTE_OFF, 0, 60, 0 },
    { 0.6, CN_EV_NOTE_OFF, 9, 36, 0 },  { 1.2, CN_EV_CC, 1, 7, 100 },
    { 1.6, CN_EV_NOTE_ON, 0, 64, 70 },  { 2.5, CN_EV_CC, 1, 64, 127 },
    { 3.0, CN_EV_NOTE_OFF, 0, 64, 0 },
};

static const unsigned divisions[] = { 96, 384, 480, 960 };

/* ---------------------------------------------------------------- valid files */

static void test_format0_times(void **state)
{
    (void)state;
    for (unsigned i = 0; i < G_N_ELEMENTS(divisions); i++) {
        Buf *f = build_format0(divisions[i]);
        char name[64];
        g_snprintf(name, sizeof name, "format0-%u.mid", divisions[i]);
        char *path = write_tmp(name, f);
        GArray *ev = load_ok(path);
        expect_events(name, ev, format0_want, G_N_ELEMENTS(format0_want), TIME_TOL);
        g_array_free(ev, TRUE);
        g_free(path);
        g_byte_array_free(f, TRUE);
    }
}

static void test_format1_times(void **state)
{
    (void)state;
    for (unsigned i = 0; i < G_N_ELEMENTS(divisions); i++) {
        Buf *f = build_format1(divisions[i]);
        char name[64];
        g_snprintf(name, sizeof name, "format1-%u.mid", divisions[i]);
        char *path = write_tmp(name, f);
        GArray *ev = load_ok(path);
        expect_events(name, ev, format1_want, G_N_ELEMENTS(format1_want), TIME_TOL);
        g_array_free(ev, TRUE);

        /* The checker agrees on the structure and the length (5.5P = 3.0 + 0.5 s). */
        cn_smf_info info;
        GError *err = NULL;
        assert_true(cn_smf_check(path, f->data, f->len, NULL, NULL, &info, &err));
        assert_int_equal(info.format, 1);
        assert_int_equal(info.ntracks, 3);
        assert_int_equal(info.ppqn, (int)divisions[i]);
        assert_int_equal(info.tempo->len, 3);
        assert_true(fabs(info.seconds - 3.5) <= TIME_TOL);
        cn_smf_info_clear(&info);
        g_free(path);
        g_byte_array_free(f, TRUE);
    }
}

/* Deltas with VLQs of 1, 2, 3 and 4 bytes; 960 ppqn at 10000 us/qn, so a tick
 * is 10000 / 960e6 s and the expected times are ticks times that. */
static void test_vlq_sizes(void **state)
{
    (void)state;
    const uint32_t deltas[] = { 0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000 };
    Buf *t = buf_new();
    tempo(t, 0, 10000);
    want_event want[G_N_ELEMENTS(deltas)];
    uint64_t tick = 0;
    for (unsigned i = 0; i < G_N_ELEMENTS(deltas); i++) {
        tick += deltas[i];
        put_vlq(t, deltas[i]);
        put_bytes(t, 3, 0xB0, 1, i);
        want[i] = (want_event){ tick * (10000.0 / 960e6), CN_EV_CC, 0, 1, (int)i };
    }
    eot(t, 0);
    Buf *f = smf_begin(0, 1, 960);
    smf_track(f, t);
    char *path = write_tmp("vlq.mid", f);
    GArray *ev = load_ok(path);
    expect_events("vlq.mid", ev, want, G_N_ELEMENTS(want), TIME_TOL);
    g_array_free(ev, TRUE);
    g_free(path);
    g_byte_array_free(f, TRUE);
}

/* Oddities the spec allows or real files show, which must load: MThd longer
 * than 6, an unknown chunk before the tracks, bytes after End-Of-Track inside
 * the chunk, trailing bytes after the last track, no tempo event (120 bpm). */
static void test_tolerated_quirks(void **state)
{
    (void)state;
    Buf *f = buf_new();
    g_byte_array_append(f, (const uint8_t *)"MThd", 4);
    put_be32(f, 8);
    put_be16(f, 1); put_be16(f, 1); put_be16(f, 480);
    put_bytes(f, 2, 0xAB, 0xCD);                       /* 2 extra header bytes */
    g_byte_array_append(f, (const uint8_t *)"XFIH", 4); /* unknown chunk: skipped */
    put_be32(f, 3);
    put_bytes(f, 3, 1, 2, 3);
    Buf *t = buf_new();
    put_vlq(t, 480); put_bytes(t, 3, 0x91, 70, 33);    /* 0.5 s at the default tempo */
    eot(t, 0);
    put_bytes(t, 3, 0xDE, 0xAD, 0x00);                 /* after EOT: ignored */
    smf_track(f, t);
    put_bytes(f, 5, 0, 0, 0, 0, 0);                    /* trailing padding: ignored */
    char *path = write_tmp("quirks.mid", f);
    GArray *ev = load_ok(path);
    const want_event want[] = { { 0.5, CN_EV_NOTE_ON, 1, 70, 33 } };
    expect_events("quirks.mid", ev, want, 1, TIME_TOL);
    g_array_free(ev, TRUE);
    g_free(path);
    g_byte_array_free(f, TRUE);
}

/* ---------------------------------------------------------------- saving */

/* Random performance on channels 0 and 1 (fixed seed), with re-strikes (an
 * off and an on of one key at one time) whose order must survive. */
static GArray *random_performance(GRand *r, int nnotes)
{
    GArray *ev = cn_events_new();
    cn_event prog = { 0.0, CN_EV_PROGRAM, 1, 33, 0 };
    g_array_append_val(ev, prog);
    for (int i = 0; i < nnotes; i++) {
        double on = g_rand_double_range(r, 0.0, 120.0);
        double len = g_rand_double_range(r, 0.01, 2.0);
        uint8_t ch = (uint8_t)g_rand_int_range(r, 0, 2);
        uint8_t key = (uint8_t)g_rand_int_range(r, 21, 109);
        cn_event a = { on, CN_EV_NOTE_ON, ch, key, (uint8_t)g_rand_int_range(r, 1, 128) };
        cn_event b = { on + len, CN_EV_NOTE_OFF, ch, key, 64 };
        g_array_append_val(ev, a);
        g_array_append_val(ev, b);
        if (i % 10 == 0) { /* re-strike at the off time, tick-aligned */
            cn_event c = { round((on + len) * 1920) / 1920, CN_EV_NOTE_ON, ch, key, 50 };
            g_array_index(ev, cn_event, ev->len - 1).time = c.time;
            g_array_append_val(ev, c);
            cn_event d = { c.time + 0.25, CN_EV_NOTE_OFF, ch, key, 0 };
            g_array_append_val(ev, d);
        }
        if (i % 7 == 0) {
            cn_event p = { on, CN_EV_CC, ch, CN_CC_SUSTAIN, (uint8_t)(i % 14 ? 127 : 0) };
            g_array_append_val(ev, p);
        }
    }
    return ev;
}

static GArray *channel_events(const GArray *ev, int ch)
{
    GArray *out = cn_events_new();
    for (guint i = 0; i < ev->len; i++)
        if (g_array_index(ev, cn_event, i).channel == ch)
            g_array_append_val(out, g_array_index(ev, cn_event, i));
    return out;
}

static void expect_same_within(const char *what, const GArray *want, const GArray *got)
{
    if (want->len != got->len)
        fail_msg("%s: %u events back, %u saved", what, got->len, want->len);
    for (guint i = 0; i < want->len; i++) {
        const cn_event *w = &g_array_index(want, cn_event, i), *g = &g_array_index(got, cn_event, i);
        int b = w->type == CN_EV_PROGRAM ? 0 : w->b;
        if (w->type != g->type || w->channel != g->channel || w->a != g->a || b != g->b ||
            !(fabs(w->time - g->time) <= SAVE_TOL))
            fail_msg("%s: event %u came back as (%.6f, %d, ch %d, %d, %d), saved "
                     "(%.6f, %d, ch %d, %d, %d)",
                     what, i, g->time, g->type, g->channel, g->a, g->b, w->time, w->type,
                     w->channel, w->a, w->b);
    }
}

static void test_save_roundtrip(void **state)
{
    (void)state;
    GRand *r = g_rand_new_with_seed(20240601);
    GArray *ev = random_performance(r, 400);
    g_rand_free(r);
    GArray *sorted = cn_events_new();
    g_array_append_vals(sorted, ev->data, ev->len);
    cn_events_sort(sorted);

    for (int split = 0; split <= 1; split++) {
        char *path = tmp_path(split ? "roundtrip-split.mid" : "roundtrip.mid");
        GError *err = NULL;
        if (!quiet_save(path, ev, split, &err))
            fail_msg("save failed: %s", err->message);
        char *tmp = g_strconcat(path, ".tmp", NULL);
        assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
        g_free(tmp);

        /* Header as written: format 1, conductor + 1 or 2 tracks, 960 ppqn. */
        char *bytes;
        gsize n;
        assert_true(g_file_get_contents(path, &bytes, &n, NULL));
        assert_true(n > 14 && memcmp(bytes, "MThd\0\0\0\6\0\1", 10) == 0);
        assert_int_equal((uint8_t)bytes[10] << 8 | (uint8_t)bytes[11], split ? 3 : 2);
        assert_int_equal((uint8_t)bytes[12] << 8 | (uint8_t)bytes[13], 960);
        g_free(bytes);

        GArray *back = load_ok(path);
        if (!split) {
            expect_same_within("roundtrip", sorted, back);
        } else { /* tracks merge by time; each channel's own order is kept */
            for (int ch = 0; ch < 2; ch++) {
                GArray *w = channel_events(sorted, ch), *g = channel_events(back, ch);
                expect_same_within("roundtrip-split", w, g);
                g_array_free(w, TRUE);
                g_array_free(g, TRUE);
            }
        }
        g_array_free(back, TRUE);
        g_free(path);
    }

    /* Saving over an existing file replaces it; an empty list saves and loads. */
    char *path = tmp_path("roundtrip.mid");
    GArray *empty = cn_events_new();
    GError *err = NULL;
    assert_true(quiet_save(path, empty, TRUE, &err));
    GArray *back = load_ok(path);
    assert_int_equal(back->len, 0);
    g_array_free(back, TRUE);
    g_array_free(empty, TRUE);
    g_free(path);
    g_array_free(sorted, TRUE);
    g_array_free(ev, TRUE);
}

static void test_save_errors(void **state)
{
    (void)state;
    GArray *ev = cn_events_new();
    cn_event e = { 1.0, CN_EV_NOTE_ON, 0, 60, 100 };
    g_array_append_val(ev, e);
    /* Unwritable place: an I/O error naming the file, nothing printed. */
    char *path = tmp_path("no-such-dir/out.mid");
    GError *err = NULL;
    assert_false(quiet_save(path, ev, FALSE, &err));
    check_error("save into missing dir", path, err, CN_ERR_IO, NULL);
    g_clear_error(&err);
    g_free(path);

    /* Events out of range are refused before anything is written. */
    const cn_event bad[] = {
        { NAN, CN_EV_NOTE_ON, 0, 60, 100 }, { -1.0, CN_EV_NOTE_ON, 0, 60, 100 },
        { 1e9, CN_EV_NOTE_ON, 0, 60, 100 }, { 1.0, CN_EV_NOTE_ON, 16, 60, 100 },
        { 1.0, CN_EV_CC, 0, 128, 0 },       { 1.0, 9, 0, 60, 100 },
    };
    path = tmp_path("bad-event.mid");
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_array_index(ev, cn_event, 0) = bad[i];
        assert_false(quiet_save(path, ev, FALSE, &err));
        check_error("bad event", path, err, CN_ERR_ARG, "event 0");
        g_clear_error(&err);
        assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    }
    g_free(path);
    g_array_free(ev, TRUE);
}

/* ---------------------------------------------------------------- broken files */

/* Every proper prefix of valid files: an error (TRUNCATED; FORMAT for the
 * empty file), never a crash; the whole file loads. */
static void test_every_truncation(void **state)
{
    (void)state;
    Buf *files[2] = { build_format0(96), build_format1(480) };
    for (int k = 0; k < 2; k++) {
        Buf *f = files[k];
        for (guint len = 0; len < f->len; len++) {
            Buf *cut = buf_new();
            g_byte_array_append(cut, f->data, len);
            char name[64];
            g_snprintf(name, sizeof name, "trunc-%d-%u.mid", k, len);
            expect_load_error(name, cut, len == 0 ? CN_ERR_FORMAT : CN_ERR_TRUNCATED, NULL);
            char *path = tmp_path(name);
            g_unlink(path);
            g_free(path);
            g_byte_array_free(cut, TRUE);
        }
        char *path = write_tmp("trunc-full.mid", f);
        GArray *ev = load_ok(path);
        check_sane(ev);
        g_array_free(ev, TRUE);
        g_free(path);
        g_byte_array_free(f, TRUE);
    }
}

/* A one-track format 0 file at 480 ppqn whose track body is `body`. */
static Buf *with_body(Buf *body)
{
    Buf *f = smf_begin(0, 1, 480);
    smf_track(f, body);
    return f;
}

static void set_be32(Buf *f, guint at, uint32_t v)
{
    f->data[at] = v >> 24;
    f->data[at + 1] = (v >> 16) & 255;
    f->data[at + 2] = (v >> 8) & 255;
    f->data[at + 3] = v & 255;
}

typedef struct {
    const char *name;
    Buf *bytes;
    int code;
    const char *part; /* expected in the message */
} broken_case;

static void test_broken_files(void **state)
{
    (void)state;
    broken_case cases[40];
    int n = 0;
    Buf *f, *t;

    /* Garbage, wrong magic, RIFF wrapper, empty. */
    f = buf_new();
    GRand *r = g_rand_new_with_seed(7);
    for (int i = 0; i < 300; i++)
        put_bytes(f, 1, g_rand_int_range(r, 0, 256) | (i == 0 ? 0x80 : 0));
    g_rand_free(r);
    cases[n++] = (broken_case){ "garbage.mid", f, CN_ERR_FORMAT, "not a MIDI file" };
    f = build_format0(96);
    f->data[3] = 'x';
    cases[n++] = (broken_case){ "magic.mid", f, CN_ERR_FORMAT, "not a MIDI file" };
    f = buf_new();
    g_byte_array_append(f, (const uint8_t *)"RIFF\0\0\0\0RMIDdata", 16);
    cases[n++] = (broken_case){ "riff.mid", f, CN_ERR_UNSUPPORTED, "RIFF" };
    cases[n++] = (broken_case){ "empty.mid", buf_new(), CN_ERR_FORMAT, "empty" };

    /* Header fields. */
    f = build_format0(96); set_be32(f, 4, 5);
    cases[n++] = (broken_case){ "hdrlen-short.mid", f, CN_ERR_FORMAT, "MThd length 5" };
    f = build_format0(96); set_be32(f, 4, 0x7FFFFFFF);
    cases[n++] = (broken_case){ "hdrlen-huge.mid", f, CN_ERR_TRUNCATED, "MThd length" };
    f = build_format0(96); f->data[12] = 0xE7; f->data[13] = 40; /* -25 fps, 40 ticks/frame */
    cases[n++] = (broken_case){ "smpte.mid", f, CN_ERR_UNSUPPORTED, "SMPTE" };
    f = build_format0(96); f->data[12] = 0; f->data[13] = 0;
    cases[n++] = (broken_case){ "division0.mid", f, CN_ERR_FORMAT, "division" };
    f = build_format1(96); f->data[9] = 2;
    cases[n++] = (broken_case){ "format2.mid", f, CN_ERR_UNSUPPORTED, "format 2" };
    f = build_format1(96); f->data[9] = 7;
    cases[n++] = (broken_case){ "format7.mid", f, CN_ERR_FORMAT, "format 7" };
    f = build_format1(96); f->data[11] = 0;
    cases[n++] = (broken_case){ "ntracks0.mid", f, CN_ERR_FORMAT, "no tracks" };
    f = build_format1(96); f->data[9] = 0;
    cases[n++] = (broken_case){ "format0-3tracks.mid", f, CN_ERR_FORMAT, "format 0" };
    f = build_format1(96); f->data[11] = 5;
    cases[n++] = (broken_case){ "ntracks-more.mid", f, CN_ERR_TRUNCATED, "declares 5 tracks" };

    /* Chunks. */
    f = build_format1(96);
    {   /* track 2's chunk header follows track 1's chunk */
        guint at = 14 + 8 + (f->data[18] << 24 | f->data[19] << 16 | f->data[20] << 8 | f->data[21]);
        set_be32(f, at + 4, 99999);
    }
    cases[n++] = (broken_case){ "chunk-past-eof.mid", f, CN_ERR_TRUNCATED,
                                "track 2 chunk length 99999 runs past end of file" };
    f = build_format1(96); memcpy(f->data + 14, "\x01\xfe\x00\x7f", 4);
    cases[n++] = (broken_case){ "chunk-id.mid", f, CN_ERR_FORMAT, "expected the chunk of track 1" };

    /* Track contents. */
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 3, 0x90, 60, 64); put_vlq(t, 10); put_bytes(t, 3, 0x80, 60, 0);
    cases[n++] = (broken_case){ "no-eot.mid", with_body(t), CN_ERR_FORMAT, "without an End-Of-Track" };
    t = buf_new(); put_bytes(t, 5, 0x81, 0x80, 0x80, 0x80, 0x00); put_bytes(t, 3, 0x90, 60, 64); eot(t, 0);
    cases[n++] = (broken_case){ "vlq5.mid", with_body(t), CN_ERR_FORMAT, "longer than 4 bytes" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 1, 0xF0); put_vlq(t, 1000); put_bytes(t, 3, 1, 2, 0xF7); eot(t, 0);
    cases[n++] = (broken_case){ "sysex-len.mid", with_body(t), CN_ERR_FORMAT, "sysex length 1000" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 1, 0xF7); put_vlq(t, 0x0FFFFFFF); eot(t, 0);
    cases[n++] = (broken_case){ "escape-len.mid", with_body(t), CN_ERR_FORMAT, "sysex length" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 2, 0xFF, 0x01); put_vlq(t, 500); put_bytes(t, 3, 'a', 'b', 'c'); eot(t, 0);
    cases[n++] = (broken_case){ "meta-len.mid", with_body(t), CN_ERR_FORMAT, "meta event 0x01 length 500" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 3, 0x3C, 0x40, 0x00); eot(t, 0);
    cases[n++] = (broken_case){ "stray-data.mid", with_body(t), CN_ERR_FORMAT, "no running status" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 3, 0x90, 60, 0x90); put_bytes(t, 2, 60, 0); eot(t, 0);
    cases[n++] = (broken_case){ "status-in-data.mid", with_body(t), CN_ERR_FORMAT, "inside channel message" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 1, 0xF8); eot(t, 0);
    cases[n++] = (broken_case){ "realtime.mid", with_body(t), CN_ERR_FORMAT, "not allowed" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 5, 0xFF, 0x51, 2, 7, 0xA1); eot(t, 0);
    cases[n++] = (broken_case){ "tempo-len.mid", with_body(t), CN_ERR_FORMAT, "tempo event of length 2" };
    t = buf_new(); tempo(t, 0, 0); eot(t, 0);
    cases[n++] = (broken_case){ "tempo-zero.mid", with_body(t), CN_ERR_FORMAT, "tempo of 0" };
    t = buf_new(); meta(t, 0, 0x2F, "x", 1);
    cases[n++] = (broken_case){ "eot-len.mid", with_body(t), CN_ERR_FORMAT, "End-Of-Track event of length 1" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 3, 0xFF, 0x81, 0); eot(t, 0);
    cases[n++] = (broken_case){ "meta-type.mid", with_body(t), CN_ERR_FORMAT, "meta event type 0x81" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 3, 0x90, 60, 64); put_vlq(t, 5);
    cases[n++] = (broken_case){ "delta-at-end.mid", with_body(t), CN_ERR_FORMAT, "without an event" };
    t = buf_new(); put_vlq(t, 0); put_bytes(t, 2, 0x90, 60);
    cases[n++] = (broken_case){ "short-message.mid", with_body(t), CN_ERR_FORMAT, "runs past end of its chunk" };
    /* 20 deltas of 2^28 - 1 ticks at 1 ppqn and the slowest tempo (16.8 s per
     * tick): years of silence. */
    t = buf_new(); tempo(t, 0, 0xFFFFFF);
    for (int i = 0; i < 20; i++) { put_vlq(t, 0x0FFFFFFF); put_bytes(t, 3, 0xB0, 1, 1); }
    eot(t, 0);
    f = smf_begin(0, 1, 1); smf_track(f, t);
    cases[n++] = (broken_case){ "absurd-length.mid", f, CN_ERR_UNSUPPORTED, "10 h limit" };
    assert_true(n <= (int)G_N_ELEMENTS(cases));

    for (int i = 0; i < n; i++) {
        expect_load_error(cases[i].name, cases[i].bytes, cases[i].code, cases[i].part);
        g_byte_array_free(cases[i].bytes, TRUE);
    }

    /* Not a file, no file, too big (sparse: nothing is really written). */
    GError *err = NULL;
    char *path = tmp_path("missing.mid");
    assert_null(quiet_load(path, &err));
    check_error("missing", path, err, CN_ERR_IO, "cannot open");
    g_clear_error(&err);
    g_free(path);
    assert_null(quiet_load(tmpdir, &err));
    check_error("directory", tmpdir, err, CN_ERR_IO, "not a regular file");
    g_clear_error(&err);
    path = tmp_path("huge.mid");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "MThd", 4), 4);
    assert_int_equal(ftruncate(fd, (off_t)CN_SMF_MAX_BYTES + 1), 0);
    close(fd);
    assert_null(quiet_load(path, &err));
    check_error("huge", path, err, CN_ERR_UNSUPPORTED, "64 MiB");
    g_clear_error(&err);
    g_unlink(path);
    g_free(path);
}

/* Loads `f` as `name`; it must either load sanely or fail by the contract.
 * Returns TRUE when it loaded. */
static gboolean load_or_clean_error(const char *name, const Buf *f)
{
    char *path = write_tmp(name, f);
    GError *err = NULL;
    GArray *ev = quiet_load(path, &err);
    gboolean loaded = ev != NULL;
    if (ev) {
        check_sane(ev);
        g_array_free(ev, TRUE);
    } else {
        assert_true(err->code == CN_ERR_TRUNCATED || err->code == CN_ERR_FORMAT ||
                    err->code == CN_ERR_UNSUPPORTED);
        check_error(name, path, err, err->code, NULL);
        g_error_free(err);
    }
    g_unlink(path);
    g_free(path);
    return loaded;
}

/* 600 copies of a valid file with 1..4 random bits flipped, and 300 files
 * with a valid header and chunk but random track bytes (fixed seeds). */
static void test_random_damage(void **state)
{
    (void)state;
    Buf *base = build_format1(384);
    GRand *r = g_rand_new_with_seed(12345);
    int loaded = 0, failed = 0;
    for (int i = 0; i < 600; i++) {
        Buf *f = buf_new();
        g_byte_array_append(f, base->data, base->len);
        int flips = g_rand_int_range(r, 1, 5);
        for (int k = 0; k < flips; k++)
            f->data[g_rand_int_range(r, 0, (gint32)f->len)] ^= 1u << g_rand_int_range(r, 0, 8);
        if (load_or_clean_error("flip.mid", f))
            loaded++;
        else
            failed++;
        g_byte_array_free(f, TRUE);
    }
    for (int i = 0; i < 300; i++) {
        Buf *t = buf_new();
        int len = g_rand_int_range(r, 1, 400);
        for (int k = 0; k < len; k++) /* biased towards status and small bytes */
            put_bytes(t, 1, g_rand_boolean(r) ? g_rand_int_range(r, 0x80, 0x100)
                                              : g_rand_int_range(r, 0, 8));
        if (i % 2)
            eot(t, 0);
        Buf *f = with_body(t);
        if (load_or_clean_error("random-body.mid", f))
            loaded++;
        else
            failed++;
        g_byte_array_free(f, TRUE);
    }
    print_message("random damage: %d loaded, %d refused cleanly\n", loaded, failed);
    assert_true(failed > 0 && loaded > 0);
    g_rand_free(r);
    g_byte_array_free(base, TRUE);
}

/* ---------------------------------------------------------------- real files */

static char *data_dir(void)
{
    const char *env = g_getenv("CONTINUO_DATA");
    if (env)
        return g_strdup(env);
    if (g_file_test("../shared/data", G_FILE_TEST_IS_DIR))
        return g_strdup("../shared/data");
    /* Run from elsewhere: the repo root is three levels above build/tests/test_midifile. */
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    if (!exe)
        return g_strdup("../shared/data");
    char *d1 = g_path_get_dirname(exe), *d2 = g_path_get_dirname(d1), *d3 = g_path_get_dirname(d2);
    char *dir = g_build_filename(d3, "..", "shared", "data", NULL);
    g_free(exe); g_free(d1); g_free(d2); g_free(d3);
    return dir;
}

static void ignore_log(const gchar *d, GLogLevelFlags l, const gchar *m, gpointer u)
{
    (void)d; (void)l; (void)m; (void)u;
}

static gint cmp_key(gconstpointer pa, gconstpointer pb)
{
    const cn_event *x = pa, *y = pb;
    if (x->type != y->type) return x->type - y->type;
    if (x->channel != y->channel) return x->channel - y->channel;
    if (x->a != y->a) return x->a - y->a;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->b - y->b;
}

/* The same events through libsmf (an independent reader: its own tempo map
 * and tick arithmetic), on a file our checker has already passed. */
static GArray *libsmf_events(const char *path)
{
    guint h = g_log_set_handler("libsmf", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL, ignore_log, NULL);
    smf_t *smf = smf_load(path);
    g_log_remove_handler("libsmf", h);
    if (!smf)
        return NULL;
    GArray *out = cn_events_new();
    smf_event_t *ev;
    while ((ev = smf_get_next_event(smf))) {
        const uint8_t *m = ev->midi_buffer;
        if (m[0] >= 0xF0)
            continue;
        cn_event e = { ev->time_seconds, 0, m[0] & 15, m[1], ev->midi_buffer_length > 2 ? m[2] : 0 };
        switch (m[0] & 0xF0) {
        case 0x80: e.type = CN_EV_NOTE_OFF; break;
        case 0x90: e.type = e.b ? CN_EV_NOTE_ON : CN_EV_NOTE_OFF; break;
        case 0xB0: e.type = CN_EV_CC; break;
        case 0xC0: e.type = CN_EV_PROGRAM; e.b = 0; break;
        default: continue;
        }
        g_array_append_val(out, e);
    }
    smf_delete(smf);
    return out;
}

static void test_asap_files(void **state)
{
    (void)state;
    char *dir = data_dir();
    char *asap = g_build_filename(dir, "asap", NULL);
    char *splits = g_build_filename(asap, "SPLITS.tsv", NULL);
    char *text = NULL;
    if (!g_file_get_contents(splits, &text, NULL, NULL)) {
        g_free(dir); g_free(asap); g_free(splits);
        skip();
    }
    char **lines = g_strsplit(text, "\n", -1);
    int checked = 0;
    for (int i = 1; lines[i] && checked < 4; i++) {
        char **f = g_strsplit(lines[i], "\t", 3);
        if (f[0] && f[1] && strcmp(f[1], "performance") == 0) {
            char *path = g_build_filename(asap, f[0], NULL);
            GArray *ev = load_ok(path);
            check_sane(ev);
            int notes = 0;
            for (guint k = 0; k < ev->len; k++)
                notes += g_array_index(ev, cn_event, k).type == CN_EV_NOTE_ON;
            double dur = ev->len ? g_array_index(ev, cn_event, ev->len - 1).time : 0;
            if (notes <= 100 || dur < 10 || dur > 3 * 3600)
                fail_msg("%s: %d notes over %.1f s is implausible", path, notes, dur);

            /* Against libsmf: same events, same times (its arithmetic is ours to
             * double rounding; 1e-9 s). Compared as multisets, since the two
             * order events of equal times differently across tracks. These are
             * ASAP's first four performances, which carry no meta event of 128
             * bytes or more (libsmf 1.3 misreads those: see midifile.c). */
            GArray *ref = libsmf_events(path);
            assert_non_null(ref);
            GArray *mine = cn_events_new();
            g_array_append_vals(mine, ev->data, ev->len);
            g_array_sort(mine, cmp_key);
            g_array_sort(ref, cmp_key);
            want_event *w = g_new(want_event, ref->len);
            for (guint k = 0; k < ref->len; k++) {
                const cn_event *e = &g_array_index(ref, cn_event, k);
                w[k] = (want_event){ e->time, e->type, e->channel, e->a, e->b };
            }
            expect_events(path, mine, w, ref->len, TIME_TOL);
            g_free(w);
            g_array_free(mine, TRUE);
            g_array_free(ref, TRUE);
            g_array_free(ev, TRUE);
            g_free(path);
            checked++;
        }
        g_strfreev(f);
    }
    g_strfreev(lines);
    g_free(text);
    g_free(splits);
    g_free(asap);
    g_free(dir);
    assert_int_equal(checked, 4);
}

/* ---------------------------------------------------------------- group */

static int setup(void **state)
{
    (void)state;
    GError *err = NULL;
    tmpdir = g_dir_make_tmp("continuo-midifile-XXXXXX", &err);
    if (!tmpdir) {
        fprintf(stderr, "g_dir_make_tmp: %s\n", err->message);
        g_error_free(err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    GDir *d = g_dir_open(tmpdir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(tmpdir, name, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format0_times),
        cmocka_unit_test(test_format1_times),
        cmocka_unit_test(test_vlq_sizes),
        cmocka_unit_test(test_tolerated_quirks),
        cmocka_unit_test(test_save_roundtrip),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_asap_files),
    };
    return cmocka_run_group_tests_name("midifile", tests, setup, teardown);
}
