/* cn_cuda.cu — the CUDA library's front door: the one exported function
 * (cn_cuda_get_api) that returns the table of cn_cuda.h, the error line
 * behind last_error(), and device initialisation (init, device_info, sync).
 * The table's other entries are filled by the files that own them:
 * cn_cuda_train_fill (train_model.cu) and, when decode.cu is linked in,
 * cn_cuda_decode_fill. (The tests' table is train_tests.cu's own.) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "cn_cuda_internal.cuh"

/* ---- errors -------------------------------------------------------------- */

static __thread char err_line[512];

int cn_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_line, sizeof err_line, fmt, ap);
    va_end(ap);
    /* one line, whatever a CUDA message held */
    for (char *p = err_line; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return -1;
}

const char *cn_last_error(void)
{
    return err_line[0] ? err_line : "no error";
}

/* ---- device -------------------------------------------------------------- */

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_done;
static cublasHandle_t blas;

static int init_locked(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess)
        return cn_set_error("no usable GPU (cudaGetDeviceCount: %s, error %d)",
                            cudaGetErrorString(e), (int)e);
    if (n <= 0) return cn_set_error("no usable GPU (cudaGetDeviceCount: 0 devices)");
    CN_CU(cudaSetDevice(0));
    CN_CU(cudaFree(0)); /* makes the context now, so its errors are init's */
    CN_BLAS(cublasCreate(&blas));
    /* Plain FP32 sgemm by default (the CPU reference's arithmetic);
     * CONTINUO_CUDA_TF32=1 allows TF32 tensor cores for the matmuls. */
    const char *tf32 = getenv("CONTINUO_CUDA_TF32");
    cublasMath_t mode = tf32 && strcmp(tf32, "1") == 0 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                        : CUBLAS_DEFAULT_MATH;
    CN_BLAS(cublasSetMathMode(blas, mode));
    init_done = 1;
    return 0;
}

int cn_init(void)
{
    pthread_mutex_lock(&init_lock);
    int rc = init_done ? 0 : init_locked();
    pthread_mutex_unlock(&init_lock);
    return rc;
}

int cn_require_init(void)
{
    if (!init_done) return cn_set_error("cuda backend: init() was not called or failed");
    return 0;
}

cublasHandle_t cn_blas(void)
{
    return blas;
}

static int device_info(cn_cuda_device_info *out)
{
    CN_TRY(cn_require_init());
    memset(out, 0, sizeof *out);
    cudaDeviceProp p;
    CN_CU(cudaGetDeviceProperties(&p, 0));
    snprintf(out->name, sizeof out->name, "%s", p.name);
    out->sm_count = p.multiProcessorCount;
    out->cc_major = p.major;
    out->cc_minor = p.minor;
    CN_CU(cudaMemGetInfo(&out->mem_free, &out->mem_total));
    CN_CU(cudaRuntimeGetVersion(&out->runtime_version));
    CN_CU(cudaDriverGetVersion(&out->driver_version));
    return 0;
}

static int sync_device(void)
{
    CN_TRY(cn_require_init());
    CN_CU(cudaDeviceSynchronize());
    CN_CU(cudaGetLastError());
    return 0;
}

/* ---- the table ----------------------------------------------------------- */

static cn_cuda_api api;
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

static void api_build(void)
{
    api.abi = CN_CUDA_ABI;
    api.size = sizeof(cn_cuda_api);
    api.last_error = cn_last_error;
    api.init = cn_init;
    api.device_info = device_info;
    api.sync = sync_device;
    cn_cuda_train_fill(&api);
    if (cn_cuda_decode_fill) cn_cuda_decode_fill(&api);
}

extern "C" __attribute__((visibility("default"))) const cn_cuda_api *cn_cuda_get_api(void)
{
    pthread_once(&api_once, api_build);
    return &api;
}
