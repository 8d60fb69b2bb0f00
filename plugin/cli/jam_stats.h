/* jam_stats.h — a JACK jam's counters across reconnects: each new client and
 * worker starts from zero, so the summary adds the earlier ones' counters
 * (sums; maxima as maxima; the latest client's percentiles). Not RT safe. */
#ifndef CONTINUO_JAM_STATS_H
#define CONTINUO_JAM_STATS_H

#include "jack_client.h"
#include "worker.h"

void jam_host_stats_add(jack_host_stats *a, const jack_host_stats *b);
void jam_worker_stats_add(worker_stats *a, const worker_stats *b);

#endif
