/* jam_stats.c — counters summed over the clients and workers a JACK jam had
 * (one per server it reconnected to; see jam_stats.h). */
#include "jam_stats.h"

void jam_host_stats_add(jack_host_stats *a, const jack_host_stats *b)
{
    a->cycles += b->cycles;
    a->events_in += b->events_in;
    a->events_out += b->events_out;
    a->late += b->late;
    a->late_skipped += b->late_skipped;
    if (b->late_max_frames > a->late_max_frames) a->late_max_frames = b->late_max_frames;
    a->cycles_skipped += b->cycles_skipped;
    a->frames_skipped += b->frames_skipped;
    a->drops_in += b->drops_in;
    a->drops_out += b->drops_out;
    a->audio_drops += b->audio_drops;
    a->xruns += b->xruns;
    a->synth_events += b->synth_events;
    a->sync_in += b->sync_in;
    a->sync_drops += b->sync_drops;
    if (b->sync_source) {
        a->sync_source = b->sync_source;
        a->sync_bpm = b->sync_bpm;
    }
    /* percentiles: the latest client's; the maximum over all */
    a->cb_p50_us = b->cb_p50_us;
    a->cb_p99_us = b->cb_p99_us;
    if (b->cb_max_us > a->cb_max_us) a->cb_max_us = b->cb_max_us;
}

void jam_worker_stats_add(worker_stats *a, const worker_stats *b)
{
    a->passes += b->passes;
    a->events_in += b->events_in;
    a->events_out += b->events_out;
    a->panics += b->panics;
    if (b->step_max_ms > a->step_max_ms) a->step_max_ms = b->step_max_ms;
    a->step_sum_ms += b->step_sum_ms;
    if (b->answers) {
        if (a->answers == 0 || b->answer_gap_min_s < a->answer_gap_min_s)
            a->answer_gap_min_s = b->answer_gap_min_s;
        if (b->answer_gap_max_s > a->answer_gap_max_s) a->answer_gap_max_s = b->answer_gap_max_s;
        a->answer_gap_sum_s += b->answer_gap_sum_s;
        a->answer_gap_last_s = b->answer_gap_last_s;
        a->answers += b->answers;
    }
}
