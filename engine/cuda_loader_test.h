/* cuda_loader_test.h — FOR TESTS AND TOOLS ONLY: the CUDA library's
 * per-kernel test table (kernels/cuda/cn_cuda_test.h), from the same library
 * cuda_loader_open loaded. Not part of the engine's production interface. */
#ifndef CONTINUO_CUDA_LOADER_TEST_H
#define CONTINUO_CUDA_LOADER_TEST_H

#include <glib.h>
#include "cuda/cn_cuda_test.h"

/* cuda_loader_open (the device initialised), then the test table; NULL and
 * one line in err (the loader's, or a missing / mismatched test table). */
const cn_cuda_test_api *cuda_loader_open_tests(GError **err);

#endif
