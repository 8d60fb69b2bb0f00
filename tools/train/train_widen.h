/* train_widen.h — warm start across vocabularies: a v1 model's weights
 * widened to token vocabulary v2 (engine/token_v2.h). Every transformer
 * tensor is kept; the embedding and output-head rows of each v2 token are
 * copied from its v1 equivalent (tok2_v1_equivalent: a performer note starts
 * as the same note of v1), the control tokens' rows start small and random.
 * The model then learns roles and controls by fine-tuning instead of from
 * nothing. Not real-time safe. */
#ifndef CONTINUO_TRAIN_WIDEN_H
#define CONTINUO_TRAIN_WIDEN_H

#include <glib.h>

/* Reads the v1 weights at `from`, writes the widened v2 model to `to`.
 * FALSE + err if `from` is not a readable v1 model or `to` cannot be
 * written. */
gboolean train_widen_to_v2(const char *from, const char *to, guint32 seed, GError **err);

#endif
