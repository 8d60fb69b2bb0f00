/* fuzz_tokens.c — libFuzzer target: the token decoder (engine/token.c) on
 * any token sequence (two bytes per token, any value, out-of-range ids
 * included), with a note-length cap from the first byte. Checks token.h's
 * promises: times never go back; every NOTE_ON is ended by exactly one later
 * NOTE_OFF of the same pitch, at the latest by tok_dec_flush; no note-off
 * without a sounding note; a capped note never outlasts the cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "token.h"

static int down[128];
static double last_time, onset[128], cap_s;

static void check(const cn_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        const cn_event *e = &ev[i];
        if (!(e->time >= last_time - 1e-9) || !isfinite(e->time)) abort(); /* time went back */
        last_time = e->time;
        if (e->a > 127 || e->channel != 3) abort();
        if (e->type == CN_EV_NOTE_ON) {
            if (down[e->a]) abort(); /* a re-strike must send its note-off first */
            down[e->a] = 1;
            onset[e->a] = e->time;
        } else if (e->type == CN_EV_NOTE_OFF) {
            if (!down[e->a]) abort(); /* a note-off of a silent key */
            if (cap_s > 0 && e->time - onset[e->a] > cap_s + 1e-6) abort();
            down[e->a] = 0;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(down, 0, sizeof down);
    last_time = 0;
    cap_s = size ? (data[0] % 4) * 0.25 : 0; /* 0 (no cap), 0.25, 0.5, 0.75 s */
    tok_decoder d;
    tok_dec_init(&d, 0.0, 3, cap_s);
    cn_event out[TOK_DEC_MAX_OUT];
    for (size_t i = 1; i + 1 < size; i += 2) {
        int tok = (int)(data[i] | data[i + 1] << 8) - 512; /* negatives and > vocab too */
        int n = tok_dec_token(&d, tok, out, TOK_DEC_MAX_OUT);
        if (n < 0) abort();
        check(out, n);
    }
    int n = tok_dec_flush(&d, out, TOK_DEC_MAX_OUT);
    if (n < 0) abort();
    check(out, n);
    for (int p = 0; p < 128; p++)
        if (down[p]) abort(); /* a NOTE_ON not ended by the flush */
    return 0;
}
