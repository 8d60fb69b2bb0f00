/* test_train_resume.c — checkpoints resume EXACTLY: a tiny model trained N
 * steps in one go ends bitwise identical (parameters, AdamW moments, data
 * sampler state, logged losses) to one trained k steps, checkpointed, and
 * resumed for the remaining N - k; also with augmentation and gradient
 * accumulation on. Tolerance: none (bitwise), with the same thread count in
 * both runs. Also: checkpoint checksum and file errors; K micro-batches of B
 * against one batch of K * B (tolerance below); a schedule lengthened on
 * resume keeps the lr continuous. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <cmocka.h>
#include "train_loop.h"
#include "train_ckpt.h"
#include "train_log.h"
#include "train_model.h"
#include "tokfile.h"
#include "token.h"
#include "error.h"

static char *tmpdir;

static int setup(void **state)
{
    (void)state;
    tmpdir = g_dir_make_tmp("continuo-train-XXXXXX", NULL);
    /* a token stream with some structure: documents of note on/off/shift triples */
    enum { n = 6000 };
    uint16_t *tok = malloc(n * sizeof *tok);
    uint32_t docs = 0, x = 1;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        if (i % 1000 == 0) {
            tok[i] = TOK_BOS;
            docs++;
        } else {
            int k = (x >> 16) % 3, p = 60 + (int)((x >> 20) % 12);
            tok[i] = (uint16_t)(k == 0 ? TOK_NOTE_ON + p : k == 1 ? TOK_NOTE_OFF + p : TOK_TIME_SHIFT + 1 + p % 20);
        }
    }
    char *tr = g_build_filename(tmpdir, "train.bin", NULL);
    char *va = g_build_filename(tmpdir, "val.bin", NULL);
    assert_true(tokfile_write(tr, tok, n, docs, NULL));
    assert_true(tokfile_write(va, tok + 3000, 2000, 2, NULL));
    g_free(tr);
    g_free(va);
    free(tok);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) print_message("could not remove %s\n", tmpdir);
    g_free(cmd);
    g_free(tmpdir);
    return 0;
}

static train_hparams_more more; /* what base_opts gives every run */

static train_opts base_opts(const char *out, char **paths)
{
    paths[0] = g_build_filename(tmpdir, "train.bin", NULL);
    paths[1] = g_build_filename(tmpdir, "val.bin", NULL);
    paths[2] = g_build_filename(tmpdir, out, NULL);
    train_opts o;
    memset(&o, 0, sizeof o);
    o.train_path = paths[0];
    o.val_path = paths[1];
    o.out_dir = paths[2];
    o.cfg = (model_config){.dim = 16, .n_layers = 2, .n_heads = 2, .hidden_dim = 32,
                           .vocab_size = TOK_VOCAB_SIZE, .seq_len = 32, .vocab_id = TOK_VOCAB_ID,
                           .tied = 0, .rope_theta = 10000.0f};
    o.hp = (train_hparams){.B = 4, .T = 24, .val_every = 5, .val_windows = 6, .seed = 42,
                           .optim = {.lr = 3e-3f, .lr_min_frac = 0.1f, .warmup = 4,
                                     .total_steps = 20, .beta1 = 0.9f, .beta2 = 0.95f,
                                     .eps = 1e-8f, .weight_decay = 0.1f, .grad_clip = 1.0f}};
    o.more = more;
    o.threads = 2;
    o.quiet = 1;
    return o;
}

static void free_paths(char **p)
{
    for (int i = 0; i < 3; i++) g_free(p[i]);
}

typedef struct {
    train_ckpt_header h;
    float *p, *m, *v;
} ckpt;

static void load_ckpt(const char *dir, ckpt *c)
{
    char *path = g_build_filename(dir, "ckpt.bin", NULL);
    train_ckpt_header h;
    assert_true(train_ckpt_read_header(path, &h, NULL));
    c->p = malloc(h.n_params * 4);
    c->m = malloc(h.n_params * 4);
    c->v = malloc(h.n_params * 4);
    GError *err = NULL;
    gboolean ok = train_ckpt_read(path, &c->h, c->p, c->m, c->v, &err);
    if (!ok) print_message("%s\n", err->message);
    assert_true(ok);
    g_free(path);
}

static void free_ckpt(ckpt *c)
{
    free(c->p);
    free(c->m);
    free(c->v);
}

static void resume_exact(const char *name_a, const char *name_b)
{
    char *pa[3], *pb[3];
    GError *err = NULL;
    /* A: 20 steps uninterrupted */
    train_opts a = base_opts(name_a, pa);
    assert_true(train_run(&a, &err));
    /* B: 8 steps, checkpoint, then a new run resumed from it to the end */
    train_opts b = base_opts(name_b, pb);
    b.stop_at = 8;
    assert_true(train_run(&b, &err));
    ckpt mid;
    load_ckpt(pb[2], &mid);
    assert_int_equal(mid.h.step, 8);
    free_ckpt(&mid);
    char *resume = g_build_filename(pb[2], "ckpt.bin", NULL);
    b.stop_at = 0;
    b.resume_path = resume;
    gboolean ok = train_run(&b, &err);
    if (!ok) print_message("%s\n", err->message);
    assert_true(ok);

    ckpt ca, cb;
    load_ckpt(pa[2], &ca);
    load_ckpt(pb[2], &cb);
    assert_int_equal(ca.h.step, 20);
    assert_int_equal(cb.h.step, 20);
    size_t n = ca.h.n_params;
    assert_memory_equal(ca.p, cb.p, n * 4);
    assert_memory_equal(ca.m, cb.m, n * 4);
    assert_memory_equal(ca.v, cb.v, n * 4);
    assert_memory_equal(&ca.h.rng, &cb.h.rng, sizeof ca.h.rng);
    assert_true(ca.h.best_val == cb.h.best_val && ca.h.best_step == cb.h.best_step);
    print_message("  20 steps == 8 + resume + 12: bitwise (%zu params); best val %.4f at %ld\n", n,
                  ca.h.best_val, (long)ca.h.best_step);
    /* it did learn something */
    assert_true(ca.h.best_val < logf((float)TOK_VOCAB_SIZE) - 0.5f);

    /* the logs agree step by step (losses; the timing columns differ) */
    char *la = g_build_filename(pa[2], "log.csv", NULL), *lb = g_build_filename(pb[2], "log.csv", NULL);
    GArray *ra = g_array_new(FALSE, FALSE, sizeof(train_log_row));
    GArray *rb = g_array_new(FALSE, FALSE, sizeof(train_log_row));
    assert_true(train_log_load(la, 1000, ra, NULL));
    assert_true(train_log_load(lb, 1000, rb, NULL));
    assert_int_equal(ra->len, 20);
    assert_int_equal(rb->len, 20);
    for (guint i = 0; i < ra->len; i++) {
        train_log_row *x = &g_array_index(ra, train_log_row, i), *y = &g_array_index(rb, train_log_row, i);
        assert_int_equal(x->step, (long)i + 1);
        assert_int_equal(y->step, (long)i + 1);
        assert_true(x->train_loss == y->train_loss);
        assert_true((isnan(x->val_loss) && isnan(y->val_loss)) || x->val_loss == y->val_loss);
    }
    /* the weights files of both runs are the same bytes, and readable as a model */
    char *ma = g_build_filename(pa[2], "model.bin", NULL), *mb = g_build_filename(pb[2], "model.bin", NULL);
    gchar *ba, *bb;
    gsize sa, sb;
    assert_true(g_file_get_contents(ma, &ba, &sa, NULL));
    assert_true(g_file_get_contents(mb, &bb, &sb, NULL));
    assert_int_equal(sa, sb);
    assert_memory_equal(ba, bb, sa);
    train_model tm;
    assert_true(train_model_new(&tm, &a.cfg, 1, 8, 1, NULL));
    assert_true(train_model_load_params(&tm, ma, NULL));
    assert_memory_equal(tm.params, ca.p, n * 4);
    train_model_free(&tm);
    char *svg = g_build_filename(pa[2], "curves.svg", NULL);
    assert_true(g_file_test(svg, G_FILE_TEST_EXISTS));

    g_free(svg);
    g_free(ba); g_free(bb); g_free(ma); g_free(mb);
    g_array_free(ra, TRUE); g_array_free(rb, TRUE);
    g_free(la); g_free(lb);
    free_ckpt(&ca);
    free_ckpt(&cb);
    g_free(resume);
    free_paths(pa);
    free_paths(pb);
}

static void test_resume_exact(void **state)
{
    (void)state;
    more = (train_hparams_more){0};
    resume_exact("a", "b");
}

static void test_resume_exact_aug_accum(void **state)
{
    (void)state;
    more = (train_hparams_more){.accum = 2, .transpose = 3, .stretch = 0.05f};
    resume_exact("a2", "b2");
    /* the recipe's extra fields travel in the checkpoint */
    ckpt c;
    char *dir = g_build_filename(tmpdir, "b2", NULL);
    load_ckpt(dir, &c);
    assert_int_equal(c.h.more.accum, 2);
    assert_int_equal(c.h.more.transpose, 3);
    assert_true(c.h.more.stretch == 0.05f);
    assert_int_equal(c.h.tokens_seen, 20 * 2 * 4 * 24);
    free_ckpt(&c);
    g_free(dir);
    more = (train_hparams_more){0};
}

/* K = 2 micro-batches of B = 4 against one batch of 8, same seed (so the same
 * windows): the sums differ only in float order. Tolerance, after 12 steps
 * with augmentation: logged losses within 1e-5 relative (the log keeps 6
 * decimals), parameters within 2e-5 absolute (the lr is 3e-3: under 1 % of
 * one step's change), AdamW first moments (which scale with the gradient, so
 * a sum not divided by K would be 2x off) within 1e-3 of their largest. */
static void test_accum_equals_big_batch(void **state)
{
    (void)state;
    char *pa[3], *pb[3];
    more = (train_hparams_more){.accum = 2, .transpose = 2, .stretch = 0.05f};
    train_opts a = base_opts("acc2", pa);
    more.accum = 1;
    train_opts b = base_opts("big8", pb);
    more = (train_hparams_more){0};
    a.stop_at = b.stop_at = 12;
    b.hp.B = 8;
    GError *err = NULL;
    assert_true(train_run(&a, &err));
    assert_true(train_run(&b, &err));
    ckpt ca, cb;
    load_ckpt(pa[2], &ca);
    load_ckpt(pb[2], &cb);
    assert_memory_equal(&ca.h.rng, &cb.h.rng, sizeof ca.h.rng); /* the same windows drawn */
    double worst = 0.0, moved = 0.0, worst_m = 0.0, max_m = 0.0;
    for (size_t i = 0; i < ca.h.n_params; i++) {
        double d = fabs((double)ca.p[i] - cb.p[i]), dm = fabs((double)ca.m[i] - cb.m[i]);
        if (d > worst) worst = d;
        if (dm > worst_m) worst_m = dm;
        if (fabs(cb.m[i]) > max_m) max_m = fabs(cb.m[i]);
    }
    char *la = g_build_filename(pa[2], "log.csv", NULL), *lb = g_build_filename(pb[2], "log.csv", NULL);
    GArray *ra = g_array_new(FALSE, FALSE, sizeof(train_log_row));
    GArray *rb = g_array_new(FALSE, FALSE, sizeof(train_log_row));
    assert_true(train_log_load(la, 1000, ra, NULL));
    assert_true(train_log_load(lb, 1000, rb, NULL));
    assert_int_equal(ra->len, 12);
    assert_int_equal(rb->len, 12);
    double worst_loss = 0.0;
    for (guint i = 0; i < ra->len; i++) {
        train_log_row *x = &g_array_index(ra, train_log_row, i), *y = &g_array_index(rb, train_log_row, i);
        double r = fabs(x->train_loss - y->train_loss) / y->train_loss;
        if (r > worst_loss) worst_loss = r;
        moved = fabs(x->lr);
    }
    print_message("  2 x 4 vs 8 rows, 12 steps: params differ by %.2e at most, AdamW m by %.2e "
                  "(largest %.2e), losses by %.2e relative (lr %.1e)\n", worst, worst_m, max_m,
                  worst_loss, moved);
    assert_true(worst <= 2e-5);
    assert_true(worst_m <= 1e-3 * max_m);
    assert_true(worst_loss <= 1e-5);
    g_array_free(ra, TRUE);
    g_array_free(rb, TRUE);
    g_free(la);
    g_free(lb);
    free_ckpt(&ca);
    free_ckpt(&cb);
    free_paths(pa);
    free_paths(pb);
}

/* A run of 20 steps stopped at 10 and resumed with the schedule lengthened to
 * 40 (train_lr_set_total, as continuo-train --steps does): the lr at step 10
 * is the one the 20-step schedule has there (2e-6 relative: the log's 6
 * digits; the plain 40-step schedule would give 30 % more), then it decays
 * to the floor at step 40; the restart travels in the checkpoint. */
static void test_lr_lengthened_on_resume(void **state)
{
    (void)state;
    char *pc[3];
    train_opts c = base_opts("len", pc);
    train_optim_cfg old = c.hp.optim;
    c.stop_at = 10;
    c.hp.val_every = 0;
    assert_true(train_run(&c, NULL));
    char *resume = g_build_filename(pc[2], "ckpt.bin", NULL);
    ckpt mid;
    load_ckpt(pc[2], &mid);
    c.hp = mid.h.hp;
    c.more = mid.h.more;
    free_ckpt(&mid);
    train_lr_set_total(&c.hp.optim, &c.more.lr_restart, 10, 40);
    c.resume_path = resume;
    c.stop_at = 0;
    GError *err = NULL;
    assert_true(train_run(&c, &err));
    char *l = g_build_filename(pc[2], "log.csv", NULL);
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(train_log_row));
    assert_true(train_log_load(l, 1000, rows, NULL));
    assert_int_equal(rows->len, 40);
    /* row s (1-based) logs the lr of 0-based step s - 1 */
    float at10 = g_array_index(rows, train_log_row, 10).lr, want = train_lr_at(&old, 10);
    float at9 = g_array_index(rows, train_log_row, 9).lr;
    print_message("  lr at step 9: %.6g, 10 (resumed, 40 steps): %.6g, 20-step schedule at 10: %.6g\n",
                  at9, at10, want);
    assert_true(fabsf(at10 - want) <= 2e-6f * want);
    for (guint i = 11; i < rows->len; i++)
        assert_true(g_array_index(rows, train_log_row, i).lr <= g_array_index(rows, train_log_row, i - 1).lr);
    float floor_lr = old.lr * old.lr_min_frac;
    float last = g_array_index(rows, train_log_row, 39).lr;
    /* 0-based step 39: 29 of the 30 steps from 10 to 40 along the cosine */
    double want39 = floor_lr + 0.5 * (1.0 + cos(M_PI * 29.0 / 30.0)) * (want - floor_lr);
    assert_true(fabs(last - want39) <= 2e-6 * want39);
    ckpt end;
    load_ckpt(pc[2], &end);
    assert_int_equal(end.h.more.lr_restart.from_step, 10);
    assert_int_equal(end.h.hp.optim.total_steps, 40);
    free_ckpt(&end);
    g_array_free(rows, TRUE);
    g_free(l);
    g_free(resume);
    free_paths(pc);
}

static void test_ckpt_corrupt(void **state)
{
    (void)state;
    char *pc[3];
    train_opts c = base_opts("c", pc);
    c.stop_at = 2;
    assert_true(train_run(&c, NULL));
    char *path = g_build_filename(pc[2], "ckpt.bin", NULL);
    gchar *buf;
    gsize len;
    assert_true(g_file_get_contents(path, &buf, &len, NULL));
    buf[len - 5] ^= 0x40; /* flip a bit in the AdamW moments */
    assert_true(g_file_set_contents(path, buf, (gssize)len, NULL));
    train_ckpt_header h;
    float *p = malloc(len), *m = malloc(len), *v = malloc(len);
    GError *err = NULL;
    assert_false(train_ckpt_read(path, &h, p, m, v, &err));
    assert_int_equal(err->code, CN_ERR_CHECKSUM);
    g_clear_error(&err);
    /* truncated */
    assert_true(g_file_set_contents(path, buf, (gssize)len - 100, NULL));
    assert_false(train_ckpt_read(path, &h, p, m, v, &err));
    assert_int_equal(err->code, CN_ERR_TRUNCATED);
    g_clear_error(&err);
    /* not a checkpoint */
    assert_true(g_file_set_contents(path, "hello, this is not a checkpoint at all", -1, NULL));
    assert_false(train_ckpt_read_header(path, &h, &err));
    g_clear_error(&err);
    free(p); free(m); free(v);
    g_free(buf);
    g_free(path);
    free_paths(pc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_exact),
        cmocka_unit_test(test_resume_exact_aug_accum),
        cmocka_unit_test(test_accum_equals_big_batch),
        cmocka_unit_test(test_lr_lengthened_on_resume),
        cmocka_unit_test(test_ckpt_corrupt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
