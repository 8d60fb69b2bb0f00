/* cpu_dispatch.c — picks the decode kernel variant at run time.
 *
 * Preference order, fastest first, as measured with `continuo-bench model`
 * on the 2-core AMD EPYC (Zen 5) development machine, shipped shape, float32
 * weights, one whole decode step at context 0 (kernel_*_decode_f32_pos0,
 * medians of three runs on a machine shared with a training run):
 *   avx512 0.37 ms, avx2 0.55 ms, blas (OpenBLAS sgemv) 0.74 ms, portable 2.6 ms.
 * With bfloat16 weights (the default) avx512 takes 0.13-0.17 ms.
 * CONTINUO_KERNEL=name overrides (for benchmarks and bisecting). */
#include <stdlib.h>
#include <string.h>
#include "kernels.h"
#include "cpu_variants.h"

static const kern_cpu *const variants[] = {
    &kern_cpu_portable, &kern_cpu_avx2, &kern_cpu_avx512, &kern_cpu_blas,
};
static const kern_cpu *const preference[] = {
    &kern_cpu_avx512, &kern_cpu_avx2, &kern_cpu_blas, &kern_cpu_portable,
};

const kern_cpu *const *kern_cpu_variants(int *n)
{
    *n = (int)(sizeof variants / sizeof variants[0]);
    return variants;
}

const kern_cpu *kern_cpu_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (!strcmp(variants[i]->name, name)) return variants[i]->supported() ? variants[i] : NULL;
    return NULL;
}

const kern_cpu *kern_cpu_default(void)
{
    const char *env = getenv("CONTINUO_KERNEL");
    if (env && *env) {
        const kern_cpu *k = kern_cpu_by_name(env);
        if (k) return k;
    }
    for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++)
        if (preference[i]->supported()) return preference[i];
    return &kern_cpu_portable;
}
