/* mkdata.c — continuo-mkdata: tokenizes a folder of MIDI files into token
 * files (engine/tokfile.h), one per split, for the trainer.
 *
 *   continuo-mkdata [--split-file SPLITS.tsv [--kind K]] [--transpose N] [--stretch P]
 *                   [--vocab 2 [--melody skyline|track] [--mix S,A,L,C]] DIR OUTDIR
 *
 * Each file becomes one document (BOS, then its tokens, engine/token.h);
 * documents are written in the order of the split file (or of the sorted
 * paths), so the output is the same whatever the thread timing. Two worker
 * threads load and tokenize; the main thread draws the progress bar.
 *
 * Augmentation, train split only (as in the Music Transformer work): every
 * combination of a transposition by -N..+N semitones and a time stretch by
 * -P%, 0, +P% (factors 1 - P/100, 1, 1 + P/100 applied to every time), so
 * (2N+1) * 3 copies of each file. A transposed copy that would push any note
 * outside 0..127 is dropped whole (never a piece with notes missing) and
 * counted.
 *
 * Vocabulary 2 (engine/token_v2.h): each document (every augmented copy
 * too) gets one role mode of tools/corpus/roles.h, drawn from the weights
 * --mix (solo, accompany, lead, call; default 40,30,10,20) by a hash of the
 * file's path and copy number, so the same input always gives the same
 * data. The melody is the skyline of the notes (solo piano: ASAP) or the
 * notes of channel 0 (POP909's MELODY track); --melody auto (default)
 * takes channel 0 when a file plays on several channels, including 0. Default mix:
 * solo 40% keeps plain continuation (and duet, where the model plays
 * alone) the most common case; accompany 30% is the mode the model fails
 * today (it must learn to play under a melody, not over it); call 20% teaches
 * turn-taking and DENSITY_0 (silence while the other plays); lead 10% keeps
 * the melody itself in the model role so it can still carry a tune. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <errno.h>
#include <unistd.h>
#include <glib.h>
#include <glib/gstdio.h>
#include "error.h"
#include "midifile.h"
#include "token_v2.h"
#include "roles.h"
#include "tokfile.h"
#include "splitlist.h"

typedef struct {
    int transpose;  /* N: shifts -N..N on the train split */
    double stretch; /* P: percent, factors 1-P/100, 1, 1+P/100 on the train split */
    int vocab;      /* 1 or 2 */
    int melody;                  /* v2: MELODY_SKYLINE, _TRACK or _AUTO */
    int mix[ROLES_N_MODES];      /* v2: weights of the role modes */
} augment;

enum { MELODY_AUTO, MELODY_SKYLINE, MELODY_TRACK };

/* v2 figures of a job or split (zero for v1) */
typedef struct {
    guint64 role_notes[TOK2_N_ROLES];
    guint64 controls;
    guint docs[ROLES_N_MODES];
} v2_stats;

typedef struct {
    const splitlist_entry *in;
    gboolean train;      /* augmentation applies */
    /* results, written by the worker */
    GArray *tokens;      /* uint16, every copy, each starting with BOS */
    char *error;         /* why the file was skipped, or NULL */
    guint docs, dropped; /* copies written / copies dropped out of range */
    guint64 notes, ticks;
    v2_stats v2;
} job;

typedef struct {
    const augment *aug;
    GAsyncQueue *done; /* job pointers, as they finish */
} pool_ctx;

/* ---- one file ---------------------------------------------------------- */

/* One copy of evs, transposed by shift and time-stretched by factor, as a
 * document appended to j; FALSE if a note leaves 0..127. */
/* The role mode of copy k of a file: drawn from the weights by a hash of
 * the path and k. */
static roles_mode pick_mode(const augment *aug, const char *path, int k)
{
    int total = 0;
    for (int m = 0; m < ROLES_N_MODES; m++) total += aug->mix[m];
    guint32 h = g_str_hash(path) ^ ((guint32)k * 2654435761u);
    h ^= h >> 16;
    h *= 0x45d9f3bu;
    h ^= h >> 16;
    int x = (int)(h % (guint32)total);
    for (int m = 0; m < ROLES_N_MODES; m++) {
        if (x < aug->mix[m]) return (roles_mode)m;
        x -= aug->mix[m];
    }
    return ROLES_SOLO;
}

/* Whether the melody is channel 0's notes: --melody track, or auto and the
 * file has notes on channel 0 and on another channel (POP909's tracks). */
static gboolean melody_track(const augment *aug, const GArray *evs)
{
    if (aug->melody != MELODY_AUTO) return aug->melody == MELODY_TRACK;
    guint16 used = 0;
    for (guint i = 0; i < evs->len; i++) {
        const cn_event *e = &g_array_index(evs, cn_event, i);
        if (e->type == CN_EV_NOTE_ON && e->b) used |= (guint16)(1u << (e->channel & 15));
    }
    return (used & 1) && (used & ~1u);
}

/* The v2 tokens of one copy, with its role mode drawn and counted. */
static GArray *encode_v2(job *j, const augment *aug, const GArray *copy)
{
    roles_mode mode = pick_mode(aug, j->in->path, (int)(j->docs + j->dropped));
    uint8_t *mel = melody_track(aug, copy) ? roles_melody_channel(copy, 0)
                                           : roles_melody_skyline(copy);
    uint8_t *role = roles_assign(copy, mel, mode);
    GArray *toks = tok2_encode_events(copy, role);
    g_free(mel);
    g_free(role);
    j->v2.docs[mode]++;
    for (guint i = 0; i < toks->len; i++) {
        int t = g_array_index(toks, int, i);
        if (tok2_is_note_on(t)) j->v2.role_notes[tok2_role(t)]++;
        else if (tok2_is_control(t)) j->v2.controls++;
    }
    return toks;
}

static gboolean add_copy(job *j, const augment *aug, const GArray *evs, int shift, double factor)
{
    GArray *copy = g_array_sized_new(FALSE, FALSE, sizeof(cn_event), evs->len);
    g_array_append_vals(copy, evs->data, evs->len);
    for (guint i = 0; i < copy->len; i++) {
        cn_event *e = &g_array_index(copy, cn_event, i);
        e->time *= factor;
        if (e->type == CN_EV_NOTE_ON || e->type == CN_EV_NOTE_OFF) {
            int p = e->a + shift;
            if (p < 0 || p > 127) {
                g_array_free(copy, TRUE);
                return FALSE;
            }
            e->a = (uint8_t)p;
        }
    }
    GArray *toks = aug->vocab == 2 ? encode_v2(j, aug, copy) : tok_encode_events(copy);
    g_array_free(copy, TRUE);
    guint at = j->tokens->len;
    g_array_set_size(j->tokens, at + 1 + toks->len);
    uint16_t *dst = (uint16_t *)j->tokens->data + at;
    *dst++ = TOK_BOS;
    for (guint i = 0; i < toks->len; i++) {
        int t = g_array_index(toks, int, i);
        dst[i] = (uint16_t)t; /* ids < TOK2_VOCAB_SIZE = 704 */
        if (tok2_is_note_on(t)) j->notes++;
        else if (tok_is_shift(t)) j->ticks += (guint64)(t - TOK_TIME_SHIFT);
    }
    g_array_free(toks, TRUE);
    j->docs++;
    return TRUE;
}

static void run_job(gpointer data, gpointer user)
{
    job *j = data;
    pool_ctx *ctx = user;
    GError *err = NULL;
    GArray *evs = midifile_load(j->in->path, &err);
    j->tokens = g_array_new(FALSE, FALSE, sizeof(uint16_t));
    if (!evs) {
        j->error = g_strdup(err->message);
        g_error_free(err);
    } else {
        gboolean any = FALSE;
        for (guint i = 0; i < evs->len && !any; i++) {
            const cn_event *e = &g_array_index(evs, cn_event, i);
            any = e->type == CN_EV_NOTE_ON && e->b > 0;
        }
        if (!any) {
            j->error = g_strdup_printf("%s: no notes", j->in->path);
        } else {
            int n = j->train ? ctx->aug->transpose : 0;
            double p = j->train ? ctx->aug->stretch / 100.0 : 0;
            for (int s = -n; s <= n; s++) {
                /* the unstretched copy first, then the slower and the faster */
                double factors[3] = {1.0, 1.0 + p, 1.0 - p};
                for (int k = 0; k < (p > 0 ? 3 : 1); k++)
                    if (!add_copy(j, ctx->aug, evs, s, factors[k])) j->dropped++;
            }
        }
        g_array_free(evs, TRUE);
    }
    g_async_queue_push(ctx->done, j);
}

/* ---- progress ---------------------------------------------------------- */

static void progress(guint done, guint total, guint64 tokens, gboolean tty)
{
    if (tty) {
        int width = 30, fill = total ? (int)((guint64)done * width / total) : width;
        fprintf(stderr, "\r[%.*s%*s] %u/%u files  %.1f M tokens", fill,
                "##############################", width - fill, "", done, total, tokens / 1e6);
        if (done == total) fputc('\n', stderr);
    } else if (done == total || (done * 10 / total) != ((done - 1) * 10 / total)) {
        fprintf(stderr, "%u/%u files, %.1f M tokens\n", done, total, tokens / 1e6);
    }
    fflush(stderr);
}

/* ---- splits ------------------------------------------------------------ */

typedef struct {
    char *name;
    guint files, docs, dropped;
    guint64 notes, tokens, ticks;
    v2_stats v2;
} split_stats;

static gboolean good_split_name(const char *s)
{
    if (!*s) return FALSE;
    for (; *s; s++)
        if (!g_ascii_isalnum(*s) && *s != '_' && *s != '-') return FALSE;
    return TRUE;
}

/* train, validation, test, then any other split by name. */
static int split_rank(const char *name)
{
    static const char *known[] = {"train", "validation", "test"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, known[i])) return i;
    return 3;
}

static gint by_split_order(gconstpointer a, gconstpointer b)
{
    const split_stats *x = *(split_stats *const *)a, *y = *(split_stats *const *)b;
    int rx = split_rank(x->name), ry = split_rank(y->name);
    return rx != ry ? rx - ry : strcmp(x->name, y->name);
}

/* Concatenates the documents of split s (in job order) and writes OUTDIR/s.bin. */
static gboolean write_split(split_stats *s, job *jobs, guint n_jobs, const char *outdir,
                            int vocab, GError **err)
{
    guint64 total = 0;
    for (guint i = 0; i < n_jobs; i++)
        if (!jobs[i].error && !strcmp(jobs[i].in->split, s->name)) total += jobs[i].tokens->len;
    uint16_t *all = g_try_new(uint16_t, total ? total : 1);
    if (!all) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: out of memory for %" G_GUINT64_FORMAT " tokens",
                    s->name, total);
        return FALSE;
    }
    guint64 at = 0;
    for (guint i = 0; i < n_jobs; i++) {
        job *j = &jobs[i];
        if (j->error || strcmp(j->in->split, s->name)) continue;
        memcpy(all + at, j->tokens->data, j->tokens->len * sizeof(uint16_t));
        at += j->tokens->len;
        s->files++;
        s->docs += j->docs;
        s->dropped += j->dropped;
        s->notes += j->notes;
        s->ticks += j->ticks;
        for (int r = 0; r < TOK2_N_ROLES; r++) s->v2.role_notes[r] += j->v2.role_notes[r];
        for (int m = 0; m < ROLES_N_MODES; m++) s->v2.docs[m] += j->v2.docs[m];
        s->v2.controls += j->v2.controls;
        g_array_free(j->tokens, TRUE); /* keeps the peak near one copy of the corpus */
        j->tokens = NULL;
    }
    s->tokens = total;
    char *file = g_strdup_printf("%s/%s.bin", outdir, s->name);
    gboolean ok = tokfile_write_vocab(file, all, total, s->docs, (uint32_t)vocab, err);
    g_free(file);
    g_free(all);
    return ok;
}

static char *stats_line(const split_stats *s, guint copies)
{
    GString *g = g_string_new(NULL);
    g_string_append_printf(g, "%-10s %5u files", s->name, s->files);
    if (copies > 1)
        g_string_append_printf(g, " x %u copies = %u documents (%u dropped out of range)", copies,
                               s->docs, s->dropped);
    g_string_append_printf(g,
                           ", %" G_GUINT64_FORMAT " notes, %" G_GUINT64_FORMAT
                           " tokens, %.2f tokens/note, %.1f hours",
                           s->notes, s->tokens, s->notes ? (double)s->tokens / s->notes : 0.0,
                           s->ticks * TOK_TIME_STEP / 3600.0);
    if (s->v2.controls) {
        double minutes = s->ticks * TOK_TIME_STEP / 60.0;
        g_string_append_printf(g, ", performer %.1f%% / model %.1f%% of notes, %.1f controls/min, "
                               "documents:",
                               s->notes ? 100.0 * s->v2.role_notes[1] / s->notes : 0.0,
                               s->notes ? 100.0 * s->v2.role_notes[0] / s->notes : 0.0,
                               minutes > 0 ? s->v2.controls / minutes : 0.0);
        for (int m = 0; m < ROLES_N_MODES; m++)
            g_string_append_printf(g, " %s %u", roles_mode_names[m], s->v2.docs[m]);
    }
    return g_string_free(g, FALSE);
}

/* ---- main -------------------------------------------------------------- */

static gboolean parse_v2_options(augment *aug, const char *melody, const char *mix)
{
    if (aug->vocab != 1 && aug->vocab != 2) {
        fprintf(stderr, "continuo-mkdata: --vocab must be 1 or 2\n");
        return FALSE;
    }
    if ((melody || mix) && aug->vocab != 2)
        fprintf(stderr, "continuo-mkdata: note: --melody/--mix need --vocab 2; ignored\n");
    static const char *names[] = {"auto", "skyline", "track"};
    aug->melody = -1;
    for (int m = 0; m < 3; m++)
        if (!melody || !strcmp(melody, names[m])) aug->melody = melody ? m : MELODY_AUTO;
    if (aug->melody < 0) {
        fprintf(stderr, "continuo-mkdata: --melody must be auto, skyline or track\n");
        return FALSE;
    }
    if (!mix) return TRUE;
    int total = 0, k = 0;
    gchar **v = g_strsplit(mix, ",", -1);
    for (; v[k] && k < ROLES_N_MODES; k++) {
        char *end;
        long w = strtol(v[k], &end, 10);
        if (*end || end == v[k] || w < 0 || w > 1000) break;
        aug->mix[k] = (int)w;
        total += (int)w;
    }
    gboolean ok = k == ROLES_N_MODES && !v[k] && total > 0;
    g_strfreev(v);
    if (!ok) fprintf(stderr, "continuo-mkdata: --mix wants 4 weights 0..1000, not all 0\n");
    return ok;
}

/* Tokenizes every listed file in a pool of threads; the calling thread
 * counts completions (the progress bar). Returns the jobs, in list order. */
static job *tokenize_all(GPtrArray *list, const augment *aug, int threads, gboolean quiet)
{
    guint n = list->len;
    job *jobs = g_new0(job, n);
    pool_ctx pc = {.aug = aug, .done = g_async_queue_new()};
    GThreadPool *pool = g_thread_pool_new(run_job, &pc, threads, FALSE, NULL);
    for (guint i = 0; i < n; i++) {
        jobs[i].in = g_ptr_array_index(list, i);
        jobs[i].train = !strcmp(jobs[i].in->split, "train");
        g_thread_pool_push(pool, &jobs[i], NULL);
    }
    gboolean tty = !quiet && isatty(STDERR_FILENO);
    guint64 tokens_so_far = 0;
    for (guint done = 1; done <= n; done++) {
        job *j = g_async_queue_pop(pc.done);
        tokens_so_far += j->tokens->len;
        if (!quiet) progress(done, n, tokens_so_far, tty);
    }
    g_thread_pool_free(pool, FALSE, TRUE);
    g_async_queue_unref(pc.done);

    return jobs;
}

/* The splits in order of first appearance (split_stats, to be filled);
 * the files that could not be read are listed on stderr and counted. */
static GPtrArray *collect_splits(const job *jobs, guint n, guint *bad_out)
{
    GPtrArray *splits = g_ptr_array_new_with_free_func(g_free);
    guint bad = 0;
    for (guint i = 0; i < n; i++) {
        if (jobs[i].error) {
            bad++;
            continue;
        }
        gboolean seen = FALSE;
        for (guint k = 0; k < splits->len && !seen; k++)
            seen = !strcmp(((split_stats *)g_ptr_array_index(splits, k))->name, jobs[i].in->split);
        if (!seen) {
            split_stats *s = g_new0(split_stats, 1);
            s->name = jobs[i].in->split;
            g_ptr_array_add(splits, s);
        }
    }
    g_ptr_array_sort(splits, by_split_order);
    if (bad) {
        fprintf(stderr, "continuo-mkdata: skipped %u of %u files:\n", bad, n);
        for (guint i = 0; i < n; i++)
            if (jobs[i].error) fprintf(stderr, "  %s\n", jobs[i].error);
    }
    *bad_out = bad;
    return splits;
}

/* OUTDIR/INFO.txt: a note beside the data saying how it was made. */
static gboolean write_info(const char *outdir, const char *dir, const char *split_file,
                           const char *kind, const augment *aug, guint bad, const char *report,
                           GError **err)
{
    char *info = g_strdup_printf("%s/INFO.txt", outdir);
    char *v2_info = aug->vocab == 2
                        ? g_strdup_printf("roles: melody by %s, mix solo,accompany,lead,call "
                                          "= %d,%d,%d,%d\n",
                                          aug->melody == MELODY_TRACK     ? "track (channel 0)"
                                          : aug->melody == MELODY_SKYLINE ? "skyline"
                                                                         : "auto",
                                          aug->mix[0], aug->mix[1], aug->mix[2], aug->mix[3])
                        : g_strdup("");
    char *text = g_strdup_printf(
        "made by continuo-mkdata (token vocabulary %d)\nsource: %s\nsplit file: %s%s%s\n"
        "augmentation (train): transpose +-%d, stretch +-%g%%\n%s"
        "skipped files: %u\n%s",
        aug->vocab, dir, split_file ? split_file : "(none: every MIDI file -> train)",
        kind ? ", kind " : "", kind ? kind : "", aug->transpose, aug->stretch, v2_info, bad, report);
    gboolean ok = g_file_set_contents(info, text, -1, err);
    g_free(text);
    g_free(info);
    g_free(v2_info);
    return ok;
}

/* The files to tokenize (splitlist_entry), checked, and OUTDIR made.
 * NULL + err when there is nothing to do or the list is bad. */
static GPtrArray *read_list(const char *dir, const char *outdir, const char *split_file,
                            const char *kind, GError **err)
{
    gboolean had_kind = TRUE;
    GPtrArray *list = split_file ? splitlist_read(split_file, dir, kind, &had_kind, err)
                                 : splitlist_scan(dir, err);
    if (!list) return NULL;
    if (kind && !split_file)
        fprintf(stderr, "continuo-mkdata: note: --kind needs --split-file; ignored\n");
    else if (kind && !had_kind)
        fprintf(stderr, "continuo-mkdata: note: %s has no 'kind' column; --kind ignored\n",
                split_file);
    for (guint i = 0; i < list->len; i++) {
        const splitlist_entry *e = g_ptr_array_index(list, i);
        if (!good_split_name(e->split)) {
            g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: split name '%s' is not a plain word",
                        split_file, e->split);
            g_ptr_array_unref(list);
            return NULL;
        }
    }
    if (list->len == 0) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "no MIDI files in %s", split_file ? split_file : dir);
        g_ptr_array_unref(list);
        return NULL;
    }
    if (g_mkdir_with_parents(outdir, 0755) != 0) {
        g_set_error(err, CN_ERROR, CN_ERR_IO, "%s: cannot create: %s", outdir, g_strerror(errno));
        g_ptr_array_unref(list);
        return NULL;
    }
    return list;
}

static const char SUMMARY[] =
    "Tokenizes the MIDI files of DIR (performance encoding v1, or v2 with --vocab 2)\ninto OUTDIR/SPLIT.bin, "
             "one token file per split (train.bin, validation.bin, test.bin for a SPLITS.tsv;\n"
             "just train.bin without one). Each file is a document starting with BOS.\n"
             "Unreadable files are skipped and listed. Prints, per split: files, notes,\n"
             "tokens, tokens per note and hours of music.";
static const char DESCRIPTION[] =
    "Augmentation (train split only): (2N+1) x 3 copies of each file, every\n"
             "transposition -N..N with every stretch factor (1-P/100, 1, 1+P/100); a\n"
             "transposed copy with a note outside 0..127 is dropped whole.\n\n"
             "Example:\n"
             "  continuo-mkdata --split-file data/asap/SPLITS.tsv --kind performance \\\n"
             "      data/asap out/asap\n"
             "  continuo-mkdata ~/my-midi out/mine       # fine-tuning on your own files\n";

int main(int argc, char **argv)
{
    char *split_file = NULL, *kind = NULL;
    augment aug = {.vocab = 1, .mix = {40, 30, 10, 20}};
    char *melody = NULL, *mix = NULL;
    int threads = 2;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        {"split-file", 's', 0, G_OPTION_ARG_FILENAME, &split_file,
         "tab-separated list with a header naming 'path' (relative to DIR) and 'split' columns "
         "(and optionally 'kind'); without it every MIDI file under DIR goes to train",
         "SPLITS.tsv"},
        {"kind", 'k', 0, G_OPTION_ARG_STRING, &kind,
         "keep only rows whose 'kind' column is K (e.g. performance), if the file has one", "K"},
        {"transpose", 't', 0, G_OPTION_ARG_INT, &aug.transpose,
         "train split: add copies transposed by every shift in -N..N semitones (0-12)", "N"},
        {"stretch", 'p', 0, G_OPTION_ARG_DOUBLE, &aug.stretch,
         "train split: add copies with times scaled by 1-P/100 and 1+P/100 (0-50)", "P"},
        {"vocab", 0, 0, G_OPTION_ARG_INT, &aug.vocab,
         "token vocabulary: 1 (one player, default) or 2 (performer/model roles and "
         "density/dynamics controls)", "1|2"},
        {"melody", 0, 0, G_OPTION_ARG_STRING, &melody,
         "vocabulary 2: the melody is the skyline (solo piano), track = channel 0 (POP909's "
         "MELODY track), or auto (default): track when a file has notes on channel 0 and "
         "another channel, else skyline", "auto|skyline|track"},
        {"mix", 0, 0, G_OPTION_ARG_STRING, &mix,
         "vocabulary 2: weights of the role modes solo,accompany,lead,call (40,30,10,20)",
         "S,A,L,C"},
        {"threads", 'j', 0, G_OPTION_ARG_INT, &threads, "worker threads (default 2)", "N"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress bar", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("DIR OUTDIR");
    g_option_context_set_summary(ctx, SUMMARY);
    g_option_context_set_description(ctx, DESCRIPTION);
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    int status = 0;
    GPtrArray *list = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "continuo-mkdata: %s (see --help)\n", err->message);
        status = 2;
        goto out;
    }
    if (argc != 3) {
        fprintf(stderr, "continuo-mkdata: expected DIR OUTDIR (see --help)\n");
        status = 2;
        goto out;
    }
    if (aug.transpose < 0 || aug.transpose > 12 || aug.stretch < 0 || aug.stretch > 50 ||
        threads < 1 || threads > 64) {
        fprintf(stderr, "continuo-mkdata: --transpose must be 0..12, --stretch 0..50, "
                        "--threads 1..64\n");
        status = 2;
        goto out;
    }
    if (!parse_v2_options(&aug, melody, mix)) {
        status = 2;
        goto out;
    }
    const char *dir = argv[1], *outdir = argv[2];
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        fprintf(stderr, "continuo-mkdata: %s: not a folder\n", dir);
        status = 1;
        goto out;
    }
    list = read_list(dir, outdir, split_file, kind, &err);
    if (!list) {
        fprintf(stderr, "continuo-mkdata: %s\n", err->message);
        status = err->code == CN_ERR_ARG ? 2 : 1;
        goto out;
    }

    guint n = list->len;
    job *jobs = tokenize_all(list, &aug, threads, quiet);

    guint bad = 0;
    GPtrArray *splits = collect_splits(jobs, n, &bad);
    GString *report = g_string_new(NULL);
    for (guint k = 0; k < splits->len && status == 0; k++) {
        split_stats *s = g_ptr_array_index(splits, k);
        if (!write_split(s, jobs, n, outdir, aug.vocab, &err)) {
            fprintf(stderr, "continuo-mkdata: %s\n", err->message);
            status = 1;
            break;
        }
        guint copies = !strcmp(s->name, "train")
                           ? (guint)(2 * aug.transpose + 1) * (aug.stretch > 0 ? 3 : 1)
                           : 1;
        char *line = stats_line(s, copies);
        printf("%s -> %s/%s.bin\n", line, outdir, s->name);
        g_string_append_printf(report, "%s\n", line);
        g_free(line);
    }
    if (splits->len == 0) {
        fprintf(stderr, "continuo-mkdata: no file could be read\n");
        status = 1;
    }
    if (status == 0) {
        if (!write_info(outdir, dir, split_file, kind, &aug, bad, report->str, &err)) {
            fprintf(stderr, "continuo-mkdata: %s\n", err->message);
            status = 1;
        }
    }
    g_string_free(report, TRUE);
    for (guint i = 0; i < n; i++) {
        if (jobs[i].tokens) g_array_free(jobs[i].tokens, TRUE);
        g_free(jobs[i].error);
    }
    g_ptr_array_free(splits, TRUE);
    g_free(jobs);
out:
    if (err) g_error_free(err);
    if (list) g_ptr_array_unref(list);
    g_free(split_file);
    g_free(kind);
    g_free(melody);
    g_free(mix);
    g_option_context_free(ctx);
    return status;
}
