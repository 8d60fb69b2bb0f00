/* cuda_loader.h — finds the optional CUDA backend at run time.
 *
 * No program links CUDA: the CUDA code is its own shared object,
 * libcontinuo-cuda.so (built from kernels/cuda/ when nvcc is found), and this
 * loader dlopen()s it on first use and returns its table of functions
 * (kernels/cuda/cn_cuda.h). So every binary starts on a machine without a
 * driver, and `--device cuda` there is one clear line, not a crash.
 *
 * Where it looks, first hit wins:
 *   1. <directory of the executable>/../lib/libcontinuo-cuda.so
 *      (build/lib when run from build/bin or build/tests)
 *   2. $CONTINUO_CUDA_LIB (a path to the .so)
 *   3. the install directory, $(PREFIX)/lib/continuo/libcontinuo-cuda.so
 * Not real-time safe (dlopen, device initialisation). Thread-safe: the first
 * call does the work, later calls return the same table or the same error. */
#ifndef CONTINUO_CUDA_LOADER_H
#define CONTINUO_CUDA_LOADER_H

#include <glib.h>
#include "cuda/cn_cuda.h"

/* The backend's table with the device initialised (api->init() done), or
 * NULL and ONE line in err (CN_ERROR / CN_ERR_UNSUPPORTED), one of:
 *   "--device cuda: built without CUDA: nvcc was not found at build time (or make CUDA=0)"
 *   "--device cuda: libcontinuo-cuda.so not found (looked in A, B)"
 *   "--device cuda: cannot load PATH: <dlerror>"
 *   "--device cuda: PATH: ABI version X, this program needs Y (rebuild)"
 *   "--device cuda: no usable GPU (cudaGetDeviceCount: <CUDA's text>, error <n>)" */
const cn_cuda_api *cuda_loader_open(GError **err);

/* The path of the .so that was loaded (NULL before a successful open). */
const char *cuda_loader_path(void);

#endif
