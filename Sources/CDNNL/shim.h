// oneDNN (Debian's libdnnl-dev 2.6, no pkg-config file) for the bf16 matrix products of BLASCore.
// Debian builds it on the GNU OpenMP runtime, whose thread count is per calling thread and has no
// oneDNN setter: omp.h lives in GCC's private include directory, so the two functions are declared here.
#ifndef CLIPCV_CDNNL_SHIM_H
#define CLIPCV_CDNNL_SHIM_H
#include <dnnl.h>

void omp_set_num_threads(int count);
int omp_get_max_threads(void);
#endif
