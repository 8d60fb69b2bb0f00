/* session_debug.h — entry points into a session for tests and tools only
 * (tests/test_session.c, the soak benchmark); no host uses them. Same
 * threading as session.h: the worker thread, not real-time safe. */
#ifndef CONTINUO_SESSION_DEBUG_H
#define CONTINUO_SESSION_DEBUG_H

#include "session.h"

/* The token stream as it stands (the KV cache plus performer tokens not yet
 * forwarded; *n tokens, owned by the session, valid until the next call)
 * and, in *start (may be NULL), the time of its first token, so
 * tok_decode_tokens(tokens, n, start) gives the stream's times (as of the
 * current origin, which long silences move forward). */
const int *session_tokens(const session *s, int *n, double *start);
/* Seconds at stream tick 0. */
double session_origin(const session *s);
/* Make the next logits the session reads look non-finite (the recovery
 * path: the cache is reset and re-primed; stats.nan_resets counts it). */
void session_debug_poison(session *s);

#endif
