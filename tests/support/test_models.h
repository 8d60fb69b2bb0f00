/* test_models.h — random-weight models written to temporary files, for the
 * unit tests (tests/test_*.c) and the fuzz targets (tests/fuzz). The
 * parameters come from model_random.h; this file only shapes, writes and
 * loads them. Not real-time safe. */
#ifndef CONTINUO_TEST_MODELS_H
#define CONTINUO_TEST_MODELS_H

#include <glib.h>
#include "model.h"
#include "model_random.h"

/* Writes a model file of c and params to a new temporary file named
 * TAG-XXXXXX.bin (tests: "continuo-test-NAME") and returns its path (g_free
 * it; the caller removes the file), or NULL with *err set. */
char *test_model_write_temp(const model_config *c, const float *params, const char *tag,
                            GError **err);

/* The tests' small shape: the shipped one (model_random_default_config) with
 * d 32, 2 layers, 4 heads, MLP 64 and a context of seq_len. */
void test_model_small_config(model_config *c, int seq_len);

/* The rest is for cmocka tests: an error fails the running test. */

/* test_model_write_temp, failing the test on error. */
char *test_model_write(const model_config *c, const float *params, const char *tag);

/* A model written to a temporary file and loaded from it. */
typedef struct {
    char *path;
    model *m;
} test_model;

/* Writes c and params (test_model_write) and loads the file. Free with
 * test_model_free. */
test_model *test_model_new(const model_config *c, const float *params, const char *tag);

/* test_model_small_config(seq_len) with model_random_params(seed, std 0.02). */
test_model *test_model_small(int seq_len, guint32 seed, const char *tag);

/* Frees the model and removes its file; NULL is a no-op. */
void test_model_free(test_model *tm);

#endif
