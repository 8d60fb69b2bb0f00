/* bench.h — the parts of continuo-bench, one file each (tools/bench/bench_NAME.c).
 * Each prints one `name: value unit` line per figure on stdout and returns an
 * exit status. */
#ifndef CONTINUO_BENCH_H
#define CONTINUO_BENCH_H

int bench_model(int argc, char **argv);  /* decode/prefill latency, RSS, sgemm peak */
int bench_live(int argc, char **argv);   /* against a dummy jackd: latency, callback time */
int bench_tokens(int argc, char **argv); /* tokenizer throughput, round-trip errors (ASAP) */

int bench_soak(int argc, char **argv);   /* the installation for N simulated hours (virtual clock) */

#endif
