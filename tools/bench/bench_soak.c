/* bench_soak.c — `continuo-bench soak [--hours N]`: the installation (solo
 * session, health watch, rotating recorder, driven by the hosts' session
 * driver: tools/bench/soak.h) for N simulated hours on a virtual clock, as
 * fast as the model runs. Prints RSS at start and end,
 * notes, longest silence, longest repeated span, resets, and the speed.
 * Model: --model, else the shipped presets/continuo.bin, else a random
 * model of the shipped shape (said so on stderr). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "bench.h"
#include "error.h"
#include "model_random.h"
#include "paths.h"
#include "soak.h"

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(double simulated, void *arg)
{
    double *t0 = arg;
    if (fmod(simulated, 3600) < 60 - 1e-6)
        fprintf(stderr, "continuo-bench soak: %.0f simulated h in %.0f s, RSS %ld KiB\n",
                simulated / 3600, mono_s() - *t0, soak_rss_kb());
}

/* A random model of the shipped shape in a temporary file (path returned). */
static char *random_model_file(GError **err)
{
    model_config c;
    model_random_default_config(&c);
    float *p = model_random_params(&c, 1, 0.02f);
    char *path = NULL;
    int fd = g_file_open_tmp("continuo-soak-XXXXXX.bin", &path, err);
    if (fd < 0) {
        g_free(p);
        return NULL;
    }
    close(fd);
    gboolean ok = model_file_write(path, &c, p, err);
    g_free(p);
    if (!ok) {
        g_unlink(path);
        g_free(path);
        return NULL;
    }
    return path;
}

int bench_soak(int argc, char **argv)
{
    double hours = 24, dt_ms = 10;
    char *model_path = NULL, *preset = NULL, *record_dir = NULL;
    gboolean no_health = FALSE, random_model = FALSE;
    GOptionEntry entries[] = {
        {"hours", 'H', 0, G_OPTION_ARG_DOUBLE, &hours, "simulated hours (24)", "N"},
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model_path, "weights file (default: the shipped model, else a random one)", "FILE"},
        {"random-model", 0, 0, G_OPTION_ARG_NONE, &random_model, "use a random model of the shipped shape even if the shipped one exists", NULL},
        {"preset", 'p', 0, G_OPTION_ARG_STRING, &preset, "preset (default solo)", "NAME|FILE"},
        {"dt", 0, 0, G_OPTION_ARG_DOUBLE, &dt_ms, "ms between host passes (10)", "MS"},
        {"record-dir", 'r', 0, G_OPTION_ARG_FILENAME, &record_dir, "also write the rotated hourly recording here", "DIR"},
        {"no-health", 0, 0, G_OPTION_ARG_NONE, &no_health, "watch only: no temperature/density responses", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("- the installation for N simulated hours");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 1 || !(hours > 0) || !(dt_ms > 0)) {
        fprintf(stderr, "continuo-bench soak: %s\n", err ? err->message : "bad arguments (see --help)");
        g_clear_error(&err);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);

    soak_config c;
    soak_config_defaults(&c);
    char *preset_path = paths_find_preset(preset ? preset : "solo", &err);
    if (!preset_path || !session_config_load(&c.session, preset_path, &err)) {
        fprintf(stderr, "continuo-bench soak: %s\n", err->message);
        g_error_free(err);
        g_free(preset_path);
        return 1;
    }
    health_config_defaults(&c.health, &c.session);
    char *path = NULL, *tmp_model = NULL;
    if (!random_model) path = paths_find_model(model_path, NULL);
    if (!path) {
        if (model_path) {
            fprintf(stderr, "continuo-bench soak: %s: not found\n", model_path);
            return 1;
        }
        path = tmp_model = random_model_file(&err);
        if (!path) {
            fprintf(stderr, "continuo-bench soak: %s\n", err->message);
            g_error_free(err);
            return 1;
        }
        fprintf(stderr, "continuo-bench soak: no shipped model: a random model of the shipped shape\n");
    }
    model *m = model_load(path, &err);
    if (!m) {
        fprintf(stderr, "continuo-bench soak: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    c.m = m;
    c.seconds = hours * 3600;
    c.dt = dt_ms / 1e3;
    c.horizon = 2 * c.dt;
    c.use_health = !no_health;
    c.record_dir = record_dir;
    double t0 = mono_s();
    c.progress = progress;
    c.progress_arg = &t0;
    soak_result r;
    gboolean ok = soak_run(&c, &r, &err);
    double wall = mono_s() - t0;
    const model_config *mc = model_get_config(m);
    printf("model: %s (%d layers, dim %d, context %d)\n", tmp_model ? "random" : path, mc->n_layers,
           mc->dim, mc->seq_len);
    printf("simulated: %.2f h\n", r.seconds / 3600);
    printf("wall: %.1f s\n", wall);
    printf("speed: %.0f x real time\n", r.seconds / wall);
    printf("rss_start: %ld KiB\n", r.rss_start_kb);
    printf("rss_end: %ld KiB\n", r.rss_end_kb);
    printf("rss_max: %ld KiB\n", r.rss_max_kb);
    printf("notes: %ld\n", r.notes);
    printf("tokens_generated: %ld\n", r.session.tokens_generated);
    printf("density_min: %.2f notes/s\n", r.density_min);
    printf("density_max: %.2f notes/s\n", r.density_max);
    printf("longest_silence: %.2f s\n", r.longest_silence);
    printf("longest_repeat: %d notes\n", r.longest_repeat);
    printf("longest_note: %.2f s\n", r.longest_note);
    printf("hanging_notes: %d\n", r.hanging);
    printf("order_errors: %d\n", r.order_errors);
    printf("nan_resets: %ld\n", r.session.nan_resets);
    printf("slides: %ld\n", r.session.slides);
    printf("catchups: %ld\n", r.session.catchups);
    printf("dropped_late: %ld\n", r.session.dropped_late);
    printf("health_silence_responses: %ld\n", r.health_silence);
    printf("health_crowd_responses: %ld\n", r.health_crowd);
    printf("health_loop_responses: %ld\n", r.health_loop);
    printf("health_relaxes: %ld\n", r.health_relax);
    printf("broken: %d\n", r.session.broken ? 1 : 0);
    if (record_dir) {
        printf("files_written: %ld\n", r.files_written);
        printf("files_deleted: %ld\n", r.files_deleted);
    }
    if (!ok) fprintf(stderr, "continuo-bench soak: %s\n", err->message);
    g_clear_error(&err);
    model_free(m);
    if (tmp_model) g_unlink(tmp_model);
    g_free(tmp_model);
    g_free(preset_path);
    return ok ? 0 : 1;
}
