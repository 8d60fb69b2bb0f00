/* error.c — the CN_ERROR GError domain. */
#include "error.h"

G_DEFINE_QUARK(continuo-error-quark, cn_error)
