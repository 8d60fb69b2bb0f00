/* test_models.c — random-weight test models in temporary files (see test_models.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>
#include <glib/gstdio.h>
#include "test_models.h"

char *test_model_write_temp(const model_config *c, const float *params, const char *tag,
                            GError **err)
{
    char *pattern = g_strconcat(tag, "-XXXXXX.bin", NULL);
    char *path = NULL;
    int fd = g_file_open_tmp(pattern, &path, err);
    g_free(pattern);
    if (fd < 0) return NULL;
    close(fd);
    if (!model_file_write(path, c, params, err)) {
        g_unlink(path);
        g_free(path);
        return NULL;
    }
    return path;
}

void test_model_small_config(model_config *c, int seq_len)
{
    model_random_default_config(c);
    c->dim = 32;
    c->n_layers = 2;
    c->n_heads = 4;
    c->hidden_dim = 64;
    c->seq_len = seq_len;
}

char *test_model_write(const model_config *c, const float *params, const char *tag)
{
    GError *err = NULL;
    char *path = test_model_write_temp(c, params, tag, &err);
    if (!path) fail_msg("%s", err->message);
    return path;
}

test_model *test_model_new(const model_config *c, const float *params, const char *tag)
{
    test_model *tm = g_new0(test_model, 1);
    tm->path = test_model_write(c, params, tag);
    GError *err = NULL;
    tm->m = model_load(tm->path, &err);
    if (!tm->m) fail_msg("%s", err->message);
    return tm;
}

test_model *test_model_small(int seq_len, guint32 seed, const char *tag)
{
    model_config c;
    test_model_small_config(&c, seq_len);
    float *p = model_random_params(&c, seed, 0.02f);
    test_model *tm = test_model_new(&c, p, tag);
    g_free(p);
    return tm;
}

void test_model_free(test_model *tm)
{
    if (!tm) return;
    model_free(tm->m);
    g_unlink(tm->path);
    g_free(tm->path);
    g_free(tm);
}
