// OpenBLAS's CBLAS interface plus its thread-control extensions
// (openblas_set_num_threads, openblas_get_corename), found through pkg-config `openblas`.
#include <cblas.h>
