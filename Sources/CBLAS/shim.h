// OpenBLAS's CBLAS interface plus its thread-control extensions
// (openblas_set_num_threads, openblas_get_corename, openblas_setaffinity), found through pkg-config `openblas`,
// and thread binding through the CPU-set macros Swift cannot import.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cblas.h>
#include <pthread.h>
#include <sched.h>

/// Binds the calling thread to one CPU; returns 0 on success.
static inline int clipcv_bind_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/// Binds OpenBLAS thread `index` (0 ..< threads − 1 are its workers, threads − 1 the caller) to one CPU.
static inline int clipcv_bind_openblas_thread(int index, int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return openblas_setaffinity(index, sizeof(set), &set);
}
