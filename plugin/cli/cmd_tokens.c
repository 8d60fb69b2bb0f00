/* cmd_tokens.c — `continuo tokens`: a MIDI file as performance tokens (one
 * name per line, as engine/token.h prints them), or --decode such a list
 * back into a MIDI file. --vocab 2 uses the encoding v2 (engine/token_v2.h). */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <glib.h>
#include "cli_number.h"
#include "commands.h"
#include "error.h"
#include "read_file.h"
#include "midifile.h"
#include "token_v2.h"

static const char *summary =
    "Prints IN.mid as tokens of the performance encoding v1, one name per line\n"
    "(NOTE_ON_60, TIME_SHIFT_25, VELOCITY_20, ...): channels merged, sustain pedal\n"
    "folded into note lengths, times quantized to 10 ms from the first note.\n"
    "With --decode, reads such names (whitespace-separated, '#' starts a comment,\n"
    "'-' reads stdin) and writes the notes to a MIDI file on channel 1.\n"
    "--vocab 2: encoding v2 (performer P_NOTE_ON_60..., DENSITY_k/DYNAMICS_k every 4 s):\n"
    "notes on --performer-channel are the performer's, the rest the model's; decoding\n"
    "writes the model's notes on channel 1 and the performer's on channel 2 (one track each).";

static int vocab = 1, performer_channel = 0; /* 1..16, 0 = none */

static int encode(const char *path)
{
    GError *err = NULL;
    GArray *evs = midifile_load(path, &err);
    if (!evs) {
        fprintf(stderr, "continuo tokens: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    GArray *toks;
    if (vocab == 2) {
        uint8_t *roles = g_new0(uint8_t, evs->len + 1);
        for (guint i = 0; i < evs->len; i++)
            roles[i] = g_array_index(evs, cn_event, i).channel + 1 == performer_channel
                           ? TOK2_ROLE_PERFORMER
                           : TOK2_ROLE_MODEL;
        toks = tok2_encode_events(evs, roles);
        g_free(roles);
    } else {
        toks = tok_encode_events(evs);
    }
    char name[32];
    for (guint i = 0; i < toks->len; i++)
        fprintf(stdout, "%s\n", tok_vocab_name(vocab, g_array_index(toks, int, i), name, sizeof name));
    g_array_free(toks, TRUE);
    g_array_free(evs, TRUE);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "continuo tokens: writing stdout: %s\n", g_strerror(errno));
        return 1;
    }
    return 0;
}

/* Reads token names from path ("-" = stdin) into a new GArray of int. */
static GArray *read_names(const char *path, GError **err)
{
    size_t len = 0;
    char *text = (char *)cn_read_file(path, CN_TEXT_MAX_BYTES, &len, err);
    if (!text) return NULL;
    if (!strcmp(path, "-")) path = "stdin";
    if (memchr(text, 0, len)) {
        g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s: not a token list (binary data)", path);
        g_free(text);
        return NULL;
    }
    GArray *toks = g_array_new(FALSE, FALSE, sizeof(int));
    char **lines = g_strsplit(text, "\n", -1);
    g_free(text);
    for (int ln = 0; lines[ln]; ln++) {
        char *hash = strchr(lines[ln], '#');
        if (hash) *hash = 0;
        char **words = g_strsplit_set(lines[ln], " \t\r\f\v", -1);
        for (char **w = words; *w; w++) {
            if (!**w) continue;
            int t = tok_vocab_from_name(vocab, *w);
            if (t < 0) {
                g_set_error(err, CN_ERROR, CN_ERR_FORMAT, "%s:%d: unknown token '%.40s'", path,
                            ln + 1, *w);
                g_strfreev(words);
                g_strfreev(lines);
                g_array_free(toks, TRUE);
                return NULL;
            }
            g_array_append_val(toks, t);
        }
        g_strfreev(words);
    }
    g_strfreev(lines);
    return toks;
}

static int decode(const char *in, const char *out, double max_len)
{
    GError *err = NULL;
    GArray *toks = read_names(in, &err);
    GArray *evs = NULL;
    if (toks) {
        evs = vocab == 2
                  ? tok2_decode_tokens((const int *)toks->data, toks->len, 0.0, max_len)
                  : tok_decode_tokens_full((const int *)toks->data, toks->len, 0.0, 0, max_len);
        midifile_save(out, evs, vocab == 2, &err);
    }
    if (toks) g_array_free(toks, TRUE);
    if (evs) g_array_free(evs, TRUE);
    if (err) {
        fprintf(stderr, "continuo tokens: %s\n", err->message);
        g_error_free(err);
        return 1;
    }
    return 0;
}

int cmd_tokens(int argc, char **argv)
{
    char *decode_path = NULL, *out_path = NULL;
    double max_len = TOK_DEC_DEFAULT_MAX_NOTE_LEN;
    /* NaN would mean "never end notes": every decimal option goes through
     * the one parser, which refuses it */
    const cli_number numbers[] = {{"max-note-len", 0, &max_len, -1, 0, 36000, false},
                                  {NULL, 0, NULL, -1, 0, 0, false}};
    GOptionEntry entries[] = {
        {"decode", 'd', 0, G_OPTION_ARG_FILENAME, &decode_path,
         "read token names from TOKENS.txt and write MIDI (needs -o)", "TOKENS.txt"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, "MIDI file to write with --decode",
         "OUT.mid"},
        {"max-note-len", 0, 0, G_OPTION_ARG_CALLBACK, (gpointer)cli_number_cb,
         "with --decode: end a note sounding longer than this (seconds, 0 = never; default 120)",
         "S"},
        {"vocab", 0, 0, G_OPTION_ARG_INT, &vocab, "token vocabulary 1 (default) or 2", "1|2"},
        {"performer-channel", 0, 0, G_OPTION_ARG_INT, &performer_channel,
         "--vocab 2: the performer's MIDI channel (1..16; default none: every note is the "
         "model's)", "C"},
        {NULL, 0, 0, 0, NULL, NULL, NULL}};
    GOptionContext *ctx = g_option_context_new("IN.mid | --decode TOKENS.txt -o OUT.mid");
    g_option_context_set_summary(ctx, summary);
    g_option_context_set_main_group(ctx, cli_number_group("tokens", entries, numbers));
    g_option_context_set_help_enabled(ctx, TRUE);
    GError *err = NULL;
    g_set_prgname("continuo tokens"); /* for --help's usage line */
    int status = 0;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "continuo tokens: %s (see --help)\n", err->message);
        g_error_free(err);
        status = 2;
    } else if ((vocab != 1 && vocab != 2) || performer_channel < 0 || performer_channel > 16) {
        fprintf(stderr, "continuo tokens: --vocab must be 1 or 2, --performer-channel 1..16\n");
        status = 2;
    } else if (decode_path) {
        if (!out_path) {
            fprintf(stderr, "continuo tokens: --decode needs -o OUT.mid (see --help)\n");
            status = 2;
        } else if (argc > 1) {
            fprintf(stderr, "continuo tokens: unexpected argument '%s' with --decode\n", argv[1]);
            status = 2;
        } else {
            status = decode(decode_path, out_path, max_len);
        }
    } else if (argc != 2) {
        fprintf(stderr, "continuo tokens: expected one MIDI file (see --help)\n");
        status = 2;
    } else if (out_path) {
        fprintf(stderr, "continuo tokens: -o goes with --decode; tokens print on stdout\n");
        status = 2;
    } else {
        status = encode(argv[1]);
    }
    g_free(decode_path);
    g_free(out_path);
    g_option_context_free(ctx);
    return status;
}
