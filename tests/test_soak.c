/* test_soak.c — the installation (a solo session with the health watch and
 * the rotating recorder, tools/bench/soak.c) on a virtual clock.
 *
 *  - one simulated hour with the shipped model (presets/continuo.bin) or,
 *    when it is absent, a random model of the shipped shape: bounded RSS, no
 *    hanging note, note density in a set range, no long silence, no long
 *    repetition, and the rotated files each complete on their own;
 *  - the health watch's responses: a near-greedy small model falls into a
 *    loop, and with the watch on the repeated spans stay short; a model made
 *    nearly silent gets its density raised and the silences stay short, and
 *    one made crowded gets it lowered and the note rate stays near the limit;
 *  - non-finite logits injected every few seconds are recovered from with
 *    no gap and no hanging note;
 *  - the health detectors on hand-made note sequences.
 * Figures are measured by soak.c on the released events; the repetition
 * figure is recomputed here by brute force, and health.c's own figures are
 * compared with both. No wall-clock time is asserted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "error.h"
#include "health.h"
#include "midifile.h"
#include "test_models.h"
#include "paths.h"
#include "soak.h"
#include "token.h"

/* Limits the hour must keep (the health config's defaults aim well inside). */
#define RSS_GROWTH_MAX_KB (8 * 1024) /* after the first simulated minute */
#define DENSITY_MIN 0.25             /* notes/s over any full minute */
#define DENSITY_MAX 25.0
#define SILENCE_MAX 8.0              /* s: silence_limit 3 + a response's lookahead, with room */
#define REPEAT_MAX 64                /* notes: loop_limit 32, answered, with room */

/* ---- models ----------------------------------------------------------------- */

static char *write_random_model(const model_config *c, guint32 seed)
{
    float *p = model_random_params(c, seed, 0.02f);
    char *path = test_model_write(c, p, "continuo-test-soak");
    g_free(p);
    return path;
}

static model *load_or_fail(const char *path)
{
    GError *err = NULL;
    model *m = model_load(path, &err);
    if (!m) fail_msg("%s", err->message);
    return m;
}

static model *small_model(char **path)
{
    model_config c;
    test_model_small_config(&c, 128);
    *path = write_random_model(&c, 11);
    return load_or_fail(*path);
}

/* A bigram model that loops: with the attention and MLP outputs zeroed, the
 * residual is the token's embedding, so the logits depend on the last token
 * only. Nine tokens get one-hot embeddings and the output row of their
 * successor a weight that puts it GAP nats above everything else:
 * ON 60, SHIFT 10, OFF 60, ON 64, SHIFT 11, OFF 64, ON 67, SHIFT 12, OFF 67,
 * ON 60 ... (C E G for ever once it starts). At temperature 1 the successor
 * has p > 0.95 among the ~260 tokens the mask allows (top-p 0.95 keeps only
 * it); at 1.6 about 0.8 per token, so a 3-note period survives 9 tokens
 * with p ~ 0.12: the loop breaks. */
#define LOOP_GAP 11.0f
static model *loop_model(char **path)
{
    model_config c;
    model_random_default_config(&c);
    c.dim = 64;
    c.n_layers = 1;
    c.n_heads = 4;
    c.hidden_dim = 64;
    c.seq_len = 128;
    c.tied = 0;
    float *p = model_random_params(&c, 5, 0.02f);
    model_weights w;
    model_weights_map(&w, &c, p);
    memset(w.wo, 0, sizeof(float) * c.dim * c.dim);
    memset(w.w2, 0, sizeof(float) * c.dim * c.hidden_dim);
    memset(w.wcls, 0, sizeof(float) * c.vocab_size * c.dim);
    const int cyc[9] = {TOK_NOTE_ON + 60, TOK_TIME_SHIFT + 10, TOK_NOTE_OFF + 60,
                        TOK_NOTE_ON + 64, TOK_TIME_SHIFT + 11, TOK_NOTE_OFF + 64,
                        TOK_NOTE_ON + 67, TOK_TIME_SHIFT + 12, TOK_NOTE_OFF + 67};
    for (int k = 0; k < 9; k++) {
        float *e = w.tok_emb + (size_t)cyc[k] * c.dim;
        memset(e, 0, sizeof(float) * c.dim);
        e[k] = 1.0f; /* rmsnorm makes it sqrt(dim) = 8 */
        w.wcls[(size_t)cyc[(k + 1) % 9] * c.dim + k] = LOOP_GAP / 8.0f;
    }
    *path = test_model_write(&c, p, "continuo-test-soak");
    g_free(p);
    return load_or_fail(*path);
}

static void drop_model(model *m, char *path)
{
    model_free(m);
    if (path) g_unlink(path);
    g_free(path);
}

/* The brute-force repeated span: for every end i and period p, walk back
 * while seq[j] == seq[j - p]. */
static int brute_repeat(const GArray *pitches, int period_max)
{
    const guint8 *s = (const guint8 *)pitches->data;
    int n = (int)pitches->len, best = 0;
    for (int p = 1; p <= period_max; p++) {
        int run = 0;
        for (int i = p; i < n; i++) {
            run = s[i] == s[i - p] ? run + 1 : 0;
            if (run > 0 && run + p > best) best = run + p;
        }
    }
    return best;
}

static void remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d) {
        const char *name;
        while ((name = g_dir_read_name(d))) {
            char *p = g_build_filename(dir, name, NULL);
            g_unlink(p);
            g_free(p);
        }
        g_dir_close(d);
    }
    g_rmdir(dir);
}

/* Every note-on has its note-off in the file, times within [0, len]. */
static void check_file(const char *path, double len)
{
    GError *err = NULL;
    GArray *ev = midifile_load(path, &err);
    if (!ev) fail_msg("%s", err->message);
    int down[16][128] = {{0}};
    for (guint i = 0; i < ev->len; i++) {
        const cn_event *e = &g_array_index(ev, cn_event, i);
        assert_true(e->time >= 0 && e->time <= len + 1e-3);
        if (e->type == CN_EV_NOTE_ON && e->b > 0) down[e->channel][e->a]++;
        else if (e->type == CN_EV_NOTE_OFF || e->type == CN_EV_NOTE_ON) {
            if (down[e->channel][e->a] == 0) fail_msg("%s: note-off without note-on at %.3f s", path, e->time);
            down[e->channel][e->a]--;
        }
    }
    for (int c = 0; c < 16; c++)
        for (int p = 0; p < 128; p++)
            if (down[c][p]) fail_msg("%s: pitch %d on channel %d never ends", path, p, c + 1);
    g_array_free(ev, TRUE);
}

/* ---- the simulated hour ----------------------------------------------------- */

static void test_soak_hour(void **state)
{
    (void)state;
    GError *err = NULL;
    char *shipped = paths_find_model(NULL, NULL), *tmp = NULL;
    if (!shipped) {
        model_config c;
        model_random_default_config(&c); /* the shipped shape: 6 layers, d 256, context 1024 */
        tmp = write_random_model(&c, 3);
    }
    model *m = load_or_fail(shipped ? shipped : tmp);
    print_message("soak: %s model\n", shipped ? shipped : "random (shipped shape)");

    soak_config c;
    soak_config_defaults(&c);
    char *preset = paths_find_preset("solo", &err);
    if (!preset || !session_config_load(&c.session, preset, &err)) fail_msg("%s", err->message);
    health_config_defaults(&c.health, &c.session);
    c.m = m;
    c.seconds = 3600;
    c.keep_pitches = true;
    char *dir = g_dir_make_tmp("continuo-test-soak-XXXXXX", &err);
    assert_non_null(dir);
    c.record_dir = dir;
    c.file_seconds = 600; /* six cuts in the hour */
    c.keep_files = 4;     /* and two files pruned */

    soak_result r;
    if (!soak_run(&c, &r, &err)) fail_msg("%s", err->message);
    print_message("soak: %.0f s simulated, %ld notes, density %.2f..%.2f notes/s, longest silence "
                  "%.2f s, longest repeat %d notes, longest note %.2f s, RSS %ld -> %ld KiB "
                  "(max %ld), slides %ld, nan resets %ld, health responses %ld/%ld\n",
                  r.seconds, r.notes, r.density_min, r.density_max, r.longest_silence,
                  r.longest_repeat, r.longest_note, r.rss_start_kb, r.rss_end_kb, r.rss_max_kb,
                  r.session.slides, r.session.nan_resets, r.health_silence, r.health_loop);

    assert_true(r.seconds >= 3600 - 1e-6);
    assert_int_equal(r.hanging, 0);
    assert_int_equal(r.order_errors, 0);
    assert_false(r.session.broken);
    assert_true(r.session.slides > 0); /* the cache slid instead of resetting */
    assert_true(r.rss_max_kb - r.rss_start_kb <= RSS_GROWTH_MAX_KB);
    assert_true(r.density_min >= DENSITY_MIN && r.density_max <= DENSITY_MAX);
    assert_true(r.longest_silence <= SILENCE_MAX);
    assert_true(r.longest_repeat <= REPEAT_MAX);
    assert_true(r.longest_note <= c.session.limits.max_note_len + 0.011); /* one tick */
    /* the measures agree: brute force, soak.c's online runs, health.c */
    assert_int_equal(brute_repeat(r.pitches, c.health.loop_period_max), r.longest_repeat);
    assert_int_equal(r.health.longest_repeat, r.longest_repeat);
    assert_int_equal(r.health.notes, r.notes);
    assert_true(fabs(r.health.longest_silence - r.longest_silence) <= c.dt + 1e-9 ||
                r.health.longest_silence >= r.longest_silence);

    /* the recording: 4 files kept (2 pruned), each complete */
    assert_int_equal(r.files_written, 7); /* six cuts, and the tail after the last */
    assert_int_equal(r.files_deleted, r.files_written - c.keep_files);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    int files = 0;
    while ((name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        assert_true(g_str_has_suffix(name, ".mid")); /* no .tmp left */
        check_file(p, c.file_seconds);
        g_free(p);
        files++;
    }
    g_dir_close(d);
    assert_int_equal(files, 4);

    g_array_free(r.pitches, TRUE);
    remove_tree(dir);
    g_free(dir);
    g_free(preset);
    g_free(shipped);
    drop_model(m, tmp);
}

/* ---- the health watch's responses (small model, simulated minutes) ---------- */

static void small_config(soak_config *c, model *m)
{
    soak_config_defaults(c);
    c->m = m;
    c->session.seed = 5;
    c->session.lookahead = 0.3;
    c->session.model_channel = 1;
    c->session.limits.max_note_len = 2.0;
    health_config_defaults(&c->health, &c->session);
    c->keep_pitches = true;
}

static void test_loop_answered(void **state)
{
    (void)state;
    char *path;
    model *m = loop_model(&path);
    soak_config c;
    small_config(&c, m);
    c.seconds = 600;
    c.health.temp_boost = 1.6f; /* one answer breaks this loop (see loop_model) */
    c.health.relax_s = 20;      /* then the loop comes back, and is answered again */

    soak_result off, on;
    GError *err = NULL;
    c.use_health = false;
    if (!soak_run(&c, &off, &err)) fail_msg("%s", err->message);
    c.use_health = true;
    if (!soak_run(&c, &on, &err)) fail_msg("%s", err->message);
    print_message("loop: without the watch %d notes repeated (of %ld); with it %d (of %ld), "
                  "%ld answers, temperature %.2f\n", off.longest_repeat, off.notes,
                  on.longest_repeat, on.notes, on.health_loop, on.health.temperature);
    assert_true(off.longest_repeat > 4 * c.health.loop_limit); /* the premise: it loops */
    assert_true(on.health_loop >= 1);
    assert_true(on.health_relax >= 1);
    /* answered at loop_limit; broken within a few notes of the answer */
    assert_true(on.longest_repeat <= c.health.loop_limit + 16);
    assert_int_equal(brute_repeat(on.pitches, c.health.loop_period_max), on.longest_repeat);
    assert_int_equal(on.hanging, 0);
    g_array_free(off.pitches, TRUE);
    g_array_free(on.pitches, TRUE);
    drop_model(m, path);
}

static void test_silence_answered(void **state)
{
    (void)state;
    char *path;
    model *m = small_model(&path);
    soak_config c;
    small_config(&c, m);
    c.session.density = 0.002f; /* NOTE_ON logits - 6.2 nats: long silences */
    c.seconds = 600;
    c.health.relax_s = 20;      /* relaxing brings the silences back: answered again */

    soak_result off, on;
    GError *err = NULL;
    c.use_health = false;
    if (!soak_run(&c, &off, &err)) fail_msg("%s", err->message);
    c.use_health = true;
    if (!soak_run(&c, &on, &err)) fail_msg("%s", err->message);
    print_message("silence: without the watch %.1f s longest (%ld notes); with it %.1f s (%ld "
                  "notes), %ld answers, %ld relaxes\n", off.longest_silence, off.notes,
                  on.longest_silence, on.notes, on.health_silence, on.health_relax);
    assert_true(off.longest_silence > 3 * c.health.silence_limit); /* the premise */
    assert_true(on.health_silence >= 1);
    /* a response lands within the lookahead plus the time the raised
     * density takes to win (a few tokens), and is repeated every limit/2 */
    assert_true(on.longest_silence <= 2.5 * c.health.silence_limit);
    assert_int_equal(on.hanging, 0);
    g_array_free(off.pitches, TRUE);
    g_array_free(on.pitches, TRUE);
    drop_model(m, path);
}

static void test_crowd_answered(void **state)
{
    (void)state;
    char *path;
    model *m = small_model(&path);
    soak_config c;
    small_config(&c, m);
    c.session.density = 8.0f; /* onset logits + 2.1 nats: a random model's notes pile up */
    c.session.limits.max_polyphony = 16;
    c.seconds = 600;
    c.window = 15.0;          /* measure the density over the watch's own window */
    c.health.crowd_limit = 8.0;

    soak_result off, on;
    GError *err = NULL;
    c.use_health = false;
    if (!soak_run(&c, &off, &err)) fail_msg("%s", err->message);
    c.use_health = true;
    if (!soak_run(&c, &on, &err)) fail_msg("%s", err->message);
    print_message("crowd: without the watch %.1f..%.1f notes/s (%ld notes); with it %.1f..%.1f "
                  "(%ld notes), %ld answers, %ld relaxes, density %.3f\n", off.density_min,
                  off.density_max, off.notes, on.density_min, on.density_max, on.notes,
                  on.health_crowd, on.health_relax, on.health.density);
    assert_true(off.density_min > c.health.crowd_limit); /* the premise: always crowded */
    assert_true(on.health_crowd >= 1);
    /* Answered once the window's rate passes the limit, again every half
     * window while it stays over; a relax (relax_s) brings the preset's
     * density back and a burst with it, answered again. So: some windows
     * at or under the limit, and the mean rate near it, well under the
     * unwatched one. */
    double mean_off = off.notes / c.seconds, mean_on = on.notes / c.seconds;
    assert_true(on.density_min <= c.health.crowd_limit);
    assert_true(mean_on <= 1.5 * c.health.crowd_limit);
    assert_true(mean_on <= 0.75 * mean_off);
    assert_int_equal(on.hanging, 0);
    g_array_free(off.pitches, TRUE);
    g_array_free(on.pitches, TRUE);
    drop_model(m, path);
}

static void test_nan_recovered(void **state)
{
    (void)state;
    char *path;
    model *m = small_model(&path);
    soak_config c;
    small_config(&c, m);
    c.seconds = 300;
    c.poison_every = 7.0;
    soak_result r;
    GError *err = NULL;
    if (!soak_run(&c, &r, &err)) fail_msg("%s", err->message);
    print_message("nan: %ld resets, longest silence %.2f s, %ld notes\n", r.session.nan_resets,
                  r.longest_silence, r.notes);
    assert_true(r.session.nan_resets >= (long)(c.seconds / c.poison_every) - 1);
    assert_false(r.session.broken);
    assert_int_equal(r.hanging, 0);
    assert_int_equal(r.order_errors, 0);
    assert_true(r.longest_silence <= SILENCE_MAX);
    g_array_free(r.pitches, TRUE);
    drop_model(m, path);
}

/* ---- the detectors on hand-made sequences ----------------------------------- */

static void feed_notes(health *h, const int *pitches, int n, double t0, double gap)
{
    for (int i = 0; i < n; i++) {
        cn_event on = {t0 + i * gap, CN_EV_NOTE_ON, 1, (uint8_t)pitches[i], 80};
        cn_event off = {t0 + i * gap + 0.5 * gap, CN_EV_NOTE_OFF, 1, (uint8_t)pitches[i], 0};
        health_observe(h, &on);
        health_observe(h, &off);
    }
}

static void test_detectors(void **state)
{
    (void)state;
    health_config hc;
    health_config_defaults(&hc, NULL);
    hc.channel = 1;
    health *h = health_new(&hc);
    int seq[40];
    for (int i = 0; i < 10; i++) seq[i] = 40 + (i * 7) % 13; /* no repeats */
    for (int i = 10; i < 40; i++) seq[i] = (int[]){60, 64, 67}[(i - 10) % 3]; /* C E G x10 */
    feed_notes(h, seq, 40, 0.0, 0.25);
    health_stats st;
    health_get_stats(h, &st);
    assert_int_equal(st.notes, 40);
    assert_int_equal(st.longest_repeat, 30); /* period 3, 27 matches + 3 */
    assert_int_equal(st.current_repeat, 30);
    /* a gap of 5 s, then one more note: the longest silence is 5 - 0.125 s */
    int one = 50;
    feed_notes(h, &one, 1, 40 * 0.25 - 0.25 + 5.0, 0.25);
    health_get_stats(h, &st);
    assert_true(fabs(st.longest_silence - (5.0 - 0.125)) < 1e-9);
    assert_int_equal(st.current_repeat, 0);
    assert_int_equal(st.longest_repeat, 30);
    /* other channels are not the model's */
    cn_event other = {20.0, CN_EV_NOTE_ON, 0, 60, 90};
    health_observe(h, &other);
    health_get_stats(h, &st);
    assert_int_equal(st.notes, 41);
    health_free(h);
    /* brute force agrees on the same sequence */
    GArray *a = g_array_new(FALSE, FALSE, 1);
    for (int i = 0; i < 40; i++) {
        guint8 p = (guint8)seq[i];
        g_array_append_val(a, p);
    }
    assert_int_equal(brute_repeat(a, hc.loop_period_max), 30);
    g_array_free(a, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detectors),
        cmocka_unit_test(test_nan_recovered),
        cmocka_unit_test(test_loop_answered),
        cmocka_unit_test(test_silence_answered),
        cmocka_unit_test(test_crowd_answered),
        cmocka_unit_test(test_soak_hour),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
