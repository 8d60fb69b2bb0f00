/* tempo.h — the beat clock: where the host's beat grid is at a given time.
 *
 * Host-agnostic and clock-injected like session.h: every time is in seconds
 * on the host's clock (JACK frames / rate, LV2 sample frames / rate, a
 * virtual clock in tests). A tempo_clock is a plain struct with no heap
 * memory: declare one, tempo_init it, feed it, query it. Every function here
 * is allocation-free, lock-free and real-time safe (pure arithmetic on the
 * struct), so a host may keep a clock in its RT thread; the usual place is
 * the session's own clock (session_tempo(s), engine/session.h), fed on the
 * worker thread before session_step.
 *
 * Three kinds of host:
 *  (a) an absolute position report (tempo_report_position): bpm, meter and
 *      bar/beat at a host time, rolling or stopped. JACK transport BBT and
 *      LV2 time:Position both map to it (see tempo_position below).
 *  (b) MIDI clock bytes with their arrival times (tempo_midi_byte): 0xF8
 *      (24 per quarter note), 0xFA start, 0xFB continue, 0xFC stop, and
 *      tempo_song_position for 0xF2. The tempo is estimated from the clock
 *      intervals: a least-squares line through the last two beats of ticks,
 *      ticks far off the line rejected as jitter outliers, a missed tick
 *      bridged, and a run of ticks off the same side taken as a tempo change
 *      (the window restarts), so a change is followed within about a beat.
 *  (c) nothing fed: free time, no grid (tempo_known is FALSE).
 * The last kind of report fed wins (a position report after MIDI clock
 * switches the clock to positions, and back).
 *
 * Units: a "beat" is the host's beat (JACK's and LV2's beat unit; a quarter
 * note for MIDI clock). Beat positions are absolute: beat = bar *
 * beats_per_bar + beat in bar, counted from the song's start (bar 0, beat 0),
 * so grid lines are at multiples of the grid size and bar lines at
 * multiples of beats_per_bar. */
#ifndef CONTINUO_TEMPO_H
#define CONTINUO_TEMPO_H

#include <stdbool.h>
#include <stdint.h>

/* An absolute position report. JACK: time = jack_last_frame_time()/rate
 * (the cycle start jack_transport_query describes), bpm = beats_per_minute,
 * beats_per_bar, bar = bbt.bar - 1, bar_beat = (beat - 1) + tick /
 * ticks_per_beat, rolling = state == JackTransportRolling; only when
 * JackPositionBBT is valid. LV2 time:Position: time = the frame of the
 * event / rate, bpm = time:beatsPerMinute, beats_per_bar = time:beatsPerBar,
 * bar = time:bar, bar_beat = time:barBeat, rolling = time:speed != 0. */
typedef struct {
    double time;          /* s, host clock: the moment the position holds */
    double bpm;           /* beats per minute (> 0) */
    double beats_per_bar; /* > 0 (4 for 4/4) */
    int64_t bar;          /* bar number, 0-based */
    double bar_beat;      /* beat within the bar, 0-based, fractional */
    bool rolling;         /* the transport moves (stopped: the grid stands still) */
    bool on_change;       /* the host reports only when the position jumps (LV2 hosts
                             send time:Position on a relocation, a tempo change or a
                             skipped cycle): every report is taken at once.
                             FALSE: the host reports every cycle (JACK transport), and
                             the glitch filter of tempo_report_position applies */
} tempo_position;

/* The clock's state. Fields are private to tempo.c (public only so hosts
 * can embed the struct without allocating). */
#define TEMPO_WINDOW 48 /* MIDI clock ticks in the estimation window (2 beats) */
typedef struct {
    int source;           /* 0 free, 1 position reports, 2 MIDI clock */
    /* the current line: beat(t) = anchor_beat + (t - anchor_time) * bpm / 60 while rolling */
    double anchor_time, anchor_beat, bpm, beats_per_bar;
    bool rolling;
    /* position reports: a small phase change waiting for a second report */
    bool pend;
    double pend_time, pend_beat;
    /* MIDI clock estimation: ticks are numbered k = 0, 1, ... as they
     * arrive (missed ticks skipped over); song tick = k + pos_offset */
    double tick_time[TEMPO_WINDOW];  /* ring of tick arrival times (s) */
    int64_t tick_k[TEMPO_WINDOW];    /* their numbers */
    bool tick_ok[TEMPO_WINDOW];      /* FALSE: rejected as an outlier */
    int n_ticks, head;               /* entries in the ring, next slot */
    int64_t k;                       /* number of the last tick (-1: none) */
    double last_tick;                /* s */
    int64_t fit_k0;                  /* tick fit_k0 arrives at fit_t0, one every fit_p s */
    double fit_t0, fit_p;            /* fit_p = 0: no estimate */
    int fit_n;                       /* inlier ticks in the fit */
    bool settled;                    /* fit_n has reached 6 since the estimate (re)started */
    double resid_rms;                /* running rms of inlier residuals (s) */
    int off_run, off_sign;           /* consecutive ticks off the line on one side */
    bool clock_rolling, start_seen, start_pending;
    int64_t pos_offset;              /* song tick = k + pos_offset while rolling */
    int64_t next_song_tick;          /* where the next start/continue begins (0xF2) */
} tempo_clock;

enum { TEMPO_SRC_FREE = 0, TEMPO_SRC_POSITION = 1, TEMPO_SRC_MIDI_CLOCK = 2 };

void tempo_init(tempo_clock *c);
/* What fed the clock last: TEMPO_SRC_*. */
int tempo_source(const tempo_clock *c);
/* Forget everything: free time (as after tempo_init). */
void tempo_reset(tempo_clock *c);

/* (a) A position report; reports may come every cycle or only on change
 * (p->on_change). A host reporting every cycle glitches, so for it, while
 * rolling at an unchanged tempo and meter: a report
 * whose position has not moved since the last one while time has (a stale
 * BBT: JACK repeats the last one when the timebase master missed a cycle)
 * is ignored, and a phase change under a quarter beat (bigger than 0.001
 * beat, the tick rounding of hosts) is taken only when the next report
 * agrees with it (JACK can report a cycle's position one period off once
 * after an xrun). Relocations, starts, stops and tempo changes apply at once.
 * An on-change host sends no second report to confirm a shift, so each of
 * its reports is taken at once: after a cycle the host did not run the
 * plugin for, its one report is the new truth (waiting for a second one
 * left every later note a period late). Its glitches are its own to undo
 * with its next report (jalv, running late, can read the transport a cycle
 * early and report the correction a cycle or two later; a stale BBT that a
 * host passes on stays until its next report). */
void tempo_report_position(tempo_clock *c, const tempo_position *p);
/* (b) One MIDI realtime byte (0xF8, 0xFA, 0xFB, 0xFC; others ignored) that
 * arrived at `time` (s; non-decreasing). Clock ticks with no 0xFA seen yet
 * count as rolling from the first tick. Returns TRUE if the byte was a
 * clock message (so a host can drop it from the note stream). */
bool tempo_midi_byte(tempo_clock *c, uint8_t byte, double time);
/* (b) 0xF2 song position pointer: `sixteenths` MIDI beats (1/16 notes) from
 * the song start; takes effect at the next 0xFB continue (or at once while
 * stopped, for the position queries). */
void tempo_song_position(tempo_clock *c, int sixteenths);

/* TRUE when a beat grid runs at time t (ask about the present, the host's
 * now, and extrapolate into the lookahead with the queries below; MIDI
 * clock goes stale by arrival time): a tempo is known and the transport
 * rolls (MIDI clock: ticks seen within the last half second, or 4 tick
 * periods, whichever is longer, and 6 ticks estimated since the clock
 * (re)started; a tempo change keeps it TRUE). Everything below needs it TRUE to mean anything. */
bool tempo_known(const tempo_clock *c, double t);
/* Current tempo in beats per minute (0 when none is known). */
double tempo_bpm(const tempo_clock *c);
double tempo_beats_per_bar(const tempo_clock *c); /* 4 when never reported */
/* Absolute beat at time t (fractional; NAN when no tempo is known). While
 * stopped the beat stands at the stop position. */
double tempo_beat_at(const tempo_clock *c, double t);
/* Time (s) at which the grid reaches absolute beat b at the current tempo
 * (NAN when no tempo is known or it is stopped). */
double tempo_time_of_beat(const tempo_clock *c, double b);
/* Time of the first grid line (a multiple of grid_beats, > 0) at or after
 * t, and of the first bar line at or after t; NAN when unknown. */
double tempo_next_grid(const tempo_clock *c, double t, double grid_beats);
double tempo_next_bar(const tempo_clock *c, double t);

#endif
