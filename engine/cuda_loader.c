/* cuda_loader.c — dlopen()s libcontinuo-cuda.so on first use and hands out
 * its function table (see cuda_loader.h for where it looks and the errors). */
#include <dlfcn.h>
#include <string.h>
#include <unistd.h>
#include "cuda_loader.h"
#include "cuda_loader_test.h"
#include "error.h"

#ifndef CONTINUO_LIBDIR
#define CONTINUO_LIBDIR "/usr/local/lib/continuo"
#endif

static GMutex lock;
static gboolean tried;
static const cn_cuda_api *table;
static char *loaded_path;
static void *handle;      /* the dlopen()ed library, once loaded */
static char *fail_msg; /* the one line, kept for every later call */

/* Candidate paths in search order (cuda_loader.h); a NULL-terminated vector. */
static char **candidates(void)
{
    GPtrArray *p = g_ptr_array_new();
    char *exe = g_file_read_link("/proc/self/exe", NULL);
    if (exe) {
        char *dir = g_path_get_dirname(exe);
        g_ptr_array_add(p, g_build_filename(dir, "..", "lib", CN_CUDA_LIB_NAME, NULL));
        g_free(dir);
        g_free(exe);
    }
    const char *env = g_getenv("CONTINUO_CUDA_LIB");
    if (env && *env) g_ptr_array_add(p, g_strdup(env));
    g_ptr_array_add(p, g_build_filename(CONTINUO_LIBDIR, CN_CUDA_LIB_NAME, NULL));
    g_ptr_array_add(p, NULL);
    return (char **)g_ptr_array_free(p, FALSE);
}

/* Loads and initialises; returns the table or sets fail_msg (without the
 * "--device cuda: " prefix). Called once, under the lock. */
static const cn_cuda_api *load(void)
{
    char **paths = candidates();
    const char *path = NULL;
    for (int i = 0; paths[i]; i++)
        if (g_file_test(paths[i], G_FILE_TEST_IS_REGULAR)) {
            path = paths[i];
            break;
        }
    if (!path) {
#ifdef CONTINUO_CUDA
        char *list = g_strjoinv(", ", paths);
        fail_msg = g_strdup_printf("%s not found (looked in %s)", CN_CUDA_LIB_NAME, list);
        g_free(list);
#else
        fail_msg = g_strdup("built without CUDA: nvcc was not found at build time (or make CUDA=0)");
#endif
        g_strfreev(paths);
        return NULL;
    }
    /* RTLD_LOCAL: the library's symbols stay its own; RTLD_NOW: a missing
     * libcudart/libcublas is reported here, not at the first call. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        fail_msg = g_strdup_printf("cannot load %s: %s", path, e ? e : "unknown dlopen error");
        g_strfreev(paths);
        return NULL;
    }
    cn_cuda_get_api_fn get = (cn_cuda_get_api_fn)dlsym(h, CN_CUDA_ENTRY);
    const cn_cuda_api *api = get ? get() : NULL;
    if (!api) {
        fail_msg = g_strdup_printf("%s: no %s entry (not a continuo CUDA library)", path,
                                   CN_CUDA_ENTRY);
    } else if (api->abi != CN_CUDA_ABI || api->size != sizeof(cn_cuda_api)) {
        fail_msg = g_strdup_printf("%s: ABI version %u (table %u bytes), this program needs %d "
                                   "(%zu bytes): rebuild", path, api->abi, api->size, CN_CUDA_ABI,
                                   sizeof(cn_cuda_api));
        api = NULL;
    } else if (api->init() != 0) {
        fail_msg = g_strdup(api->last_error());
        api = NULL;
    }
    if (!api) {
        /* the library stays loaded on a failed init: CUDA's runtime may have
         * registered handlers, and unloading it buys nothing */
        g_strfreev(paths);
        return NULL;
    }
    loaded_path = g_strdup(path);
    handle = h;
    g_strfreev(paths);
    return api;
}

const cn_cuda_api *cuda_loader_open(GError **err)
{
    g_mutex_lock(&lock);
    if (!tried) {
        table = load();
        tried = TRUE;
    }
    const cn_cuda_api *t = table;
    if (!t) {
        /* one line, whatever the library's message held */
        char *one = g_strdup(fail_msg ? fail_msg : "unknown error");
        g_strdelimit(one, "\r\n", ' ');
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED, "--device cuda: %s", one);
        g_free(one);
    }
    g_mutex_unlock(&lock);
    return t;
}

const char *cuda_loader_path(void)
{
    return loaded_path;
}

const cn_cuda_test_api *cuda_loader_open_tests(GError **err)
{
    if (!cuda_loader_open(err)) return NULL;
    cn_cuda_get_test_api_fn get = (cn_cuda_get_test_api_fn)dlsym(handle, CN_CUDA_TEST_ENTRY);
    const cn_cuda_test_api *t = get ? get() : NULL;
    if (!t || t->abi != CN_CUDA_TEST_ABI || t->size != sizeof(cn_cuda_test_api)) {
        g_set_error(err, CN_ERROR, CN_ERR_UNSUPPORTED,
                    "--device cuda: %s: no test table %s of ABI %d (rebuild)", loaded_path,
                    CN_CUDA_TEST_ENTRY, CN_CUDA_TEST_ABI);
        return NULL;
    }
    return t;
}
