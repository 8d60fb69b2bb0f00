/* bench_tokens.c — continuo-bench tokens: the tokenizer over a whole corpus
 * (by default every ASAP performance): encoder throughput in MIDI events per
 * second, decoder throughput in tokens per second, and the round-trip errors
 * file -> tokens -> events against the notes the raw events should sound
 * (tools/corpus/notecheck.c, pedal folded in). */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "bench.h"
#include "midifile.h"
#include "notecheck.h"
#include "splitlist.h"
#include "token.h"

int bench_tokens(int argc, char **argv)
{
    char *data = NULL, *split_file = NULL, *kind = NULL;
    gboolean verbose = FALSE;
    double cap = TOK_DEC_DEFAULT_MAX_NOTE_LEN;
    GOptionEntry entries[] = {
        {"data", 'd', 0, G_OPTION_ARG_FILENAME, &data,
         "corpus folder (default $CONTINUO_DATA/asap, else ../shared/data/asap)", "DIR"},
        {"split-file", 's', 0, G_OPTION_ARG_FILENAME, &split_file,
         "file list (default DIR/SPLITS.tsv; without one, every MIDI file under DIR)", "TSV"},
        {"kind", 'k', 0, G_OPTION_ARG_STRING, &kind, "rows of this kind (default performance)",
         "K"},
        {"max-note-len", 0, 0, G_OPTION_ARG_DOUBLE, &cap,
         "decoder note cap in seconds (default 120, token.h; 0 = none)", "S"},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "one line per file on stderr", NULL},
        {NULL}};
    GOptionContext *ctx = g_option_context_new("");
    g_option_context_set_summary(ctx, "Tokenizer throughput and round-trip errors over a corpus.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    GError *err = NULL;
    GPtrArray *list = NULL;
    int status = 0;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "continuo-bench tokens: %s\n", err->message);
        status = 2;
        goto out;
    }
    if (!data) {
        const char *env = g_getenv("CONTINUO_DATA");
        data = g_build_filename(env && *env ? env : "../shared/data", "asap", NULL);
    }
    if (!split_file) {
        split_file = g_build_filename(data, "SPLITS.tsv", NULL);
        if (!g_file_test(split_file, G_FILE_TEST_EXISTS)) g_clear_pointer(&split_file, g_free);
    }
    list = split_file ? splitlist_read(split_file, data, kind ? kind : "performance", NULL, &err)
                      : splitlist_scan(data, &err);
    if (!list) {
        fprintf(stderr, "continuo-bench tokens: %s\n", err->message);
        status = 1;
        goto out;
    }

    nc_result r = {0};
    guint64 n_events = 0, n_tokens = 0;
    gint64 t_load = 0, t_enc = 0, t_dec = 0;
    double longest = 0;
    guint files = 0, bad = 0, capped = 0;
    for (guint i = 0; i < list->len; i++) {
        const splitlist_entry *e = g_ptr_array_index(list, i);
        gint64 t0 = g_get_monotonic_time();
        GArray *evs = midifile_load(e->path, &err);
        gint64 t1 = g_get_monotonic_time();
        t_load += t1 - t0;
        if (!evs) {
            fprintf(stderr, "continuo-bench tokens: skipped %s\n", err->message);
            g_clear_error(&err);
            bad++;
            continue;
        }
        /* encode: one event at a time, as the live session does */
        GArray *toks = g_array_sized_new(FALSE, FALSE, sizeof(int), evs->len * 2);
        tok_encoder enc;
        tok_enc_init(&enc);
        int buf[TOK_ENC_MAX_OUT];
        t0 = g_get_monotonic_time();
        for (guint k = 0; k < evs->len; k++) {
            const cn_event *ev = &g_array_index(evs, cn_event, k);
            int n;
            while ((n = tok_enc_event(&enc, ev, buf, TOK_ENC_MAX_OUT)) < 0)
                g_array_append_vals(toks, buf, (guint)tok_enc_advance(&enc, ev->time, buf, 128));
            g_array_append_vals(toks, buf, (guint)n);
        }
        g_array_append_vals(toks, buf, (guint)tok_enc_flush(&enc, buf, TOK_ENC_MAX_OUT));
        t1 = g_get_monotonic_time();
        t_enc += t1 - t0;
        /* decode, starting the clock where the encoder's started */
        GArray *dec = g_array_sized_new(FALSE, FALSE, sizeof(cn_event), evs->len);
        tok_decoder d;
        tok_dec_init(&d, enc.origin, 0, cap);
        cn_event ebuf[TOK_DEC_MAX_OUT];
        t0 = g_get_monotonic_time();
        for (guint k = 0; k < toks->len; k++)
            g_array_append_vals(dec, ebuf,
                                (guint)tok_dec_token(&d, g_array_index(toks, int, k), ebuf,
                                                     TOK_DEC_MAX_OUT));
        g_array_append_vals(dec, ebuf, (guint)tok_dec_flush(&d, ebuf, TOK_DEC_MAX_OUT));
        t1 = g_get_monotonic_time();
        t_dec += t1 - t0;

        GArray *ref = notecheck_reference(evs), *out = notecheck_pair(dec);
        nc_result fr = {0};
        notecheck_compare(ref, out, &fr);
        for (guint k = 0; k < ref->len; k++) {
            const nc_note *x = &g_array_index(ref, nc_note, k);
            if (x->ended && x->off - x->on > longest) longest = x->off - x->on;
            if (x->ended && cap > 0 && x->off - x->on >= cap) capped++;
        }
        if (verbose)
            fprintf(stderr, "%s: %u events, %u tokens, %zu notes, onset %.2f ms, duration %.2f ms\n",
                    e->path, evs->len, toks->len, fr.n_ref, fr.max_onset_err * 1e3,
                    fr.max_dur_err * 1e3);
        r.n_ref += fr.n_ref;
        r.n_out += fr.n_out;
        r.n_missing += fr.n_missing;
        r.n_unended += fr.n_unended;
        r.n_vel_bin_wrong += fr.n_vel_bin_wrong;
        if (fr.max_onset_err > r.max_onset_err) r.max_onset_err = fr.max_onset_err;
        if (fr.max_dur_err > r.max_dur_err) r.max_dur_err = fr.max_dur_err;
        n_events += evs->len;
        n_tokens += toks->len;
        files++;
        g_array_free(ref, TRUE);
        g_array_free(out, TRUE);
        g_array_free(dec, TRUE);
        g_array_free(toks, TRUE);
        g_array_free(evs, TRUE);
    }
    printf("tokens_corpus: %s\n", split_file ? split_file : data);
    printf("tokens_files: %u files\n", files);
    printf("tokens_bad_files: %u files\n", bad);
    printf("tokens_events: %" G_GUINT64_FORMAT " events\n", n_events);
    printf("tokens_notes: %zu notes\n", r.n_ref);
    printf("tokens_tokens: %" G_GUINT64_FORMAT " tokens\n", n_tokens);
    printf("tokens_load_rate: %.0f events/s\n", t_load ? n_events * 1e6 / t_load : 0.0);
    printf("tokens_encode_rate: %.0f events/s\n", t_enc ? n_events * 1e6 / t_enc : 0.0);
    printf("tokens_decode_rate: %.0f tokens/s\n", t_dec ? n_tokens * 1e6 / t_dec : 0.0);
    printf("tokens_roundtrip_max_onset_error: %.3f ms\n", r.max_onset_err * 1e3);
    printf("tokens_roundtrip_max_duration_error: %.3f ms\n", r.max_dur_err * 1e3);
    printf("tokens_roundtrip_missing_notes: %zu notes\n", r.n_missing);
    printf("tokens_roundtrip_velocity_bin_errors: %zu notes\n", r.n_vel_bin_wrong);
    printf("tokens_roundtrip_unended_notes: %zu notes\n", r.n_unended);
    printf("tokens_longest_note: %.2f s\n", longest);
    printf("tokens_notes_over_cap: %u notes (cap %g s)\n", capped, cap);
    if (files == 0) status = 1;
out:
    if (err) g_error_free(err);
    if (list) g_ptr_array_unref(list);
    g_free(data);
    g_free(split_file);
    g_free(kind);
    g_option_context_free(ctx);
    return status;
}
