// Open MPI through pkg-config `ompi-c`. Open MPI's handles are macros over addresses of
// global structs (e.g. `#define MPI_COMM_WORLD OMPI_PREDEFINED_GLOBAL(MPI_Comm, ompi_mpi_comm_world)`),
// which Swift cannot import; these inline functions hand them to Swift.
#ifndef CLIPCV_CMPI_SHIM_H
#define CLIPCV_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm clipcv_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Comm clipcv_mpi_comm_null(void) { return MPI_COMM_NULL; }

static inline MPI_Datatype clipcv_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype clipcv_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype clipcv_mpi_int(void) { return MPI_INT; }
static inline MPI_Datatype clipcv_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype clipcv_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype clipcv_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype clipcv_mpi_char(void) { return MPI_CHAR; }

static inline MPI_Op clipcv_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op clipcv_mpi_max(void) { return MPI_MAX; }
static inline MPI_Op clipcv_mpi_min(void) { return MPI_MIN; }
static inline MPI_Op clipcv_mpi_bor(void) { return MPI_BOR; }

static inline MPI_Status *clipcv_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int clipcv_mpi_any_source(void) { return MPI_ANY_SOURCE; }
static inline int clipcv_mpi_any_tag(void) { return MPI_ANY_TAG; }
static inline int clipcv_mpi_comm_type_shared(void) { return MPI_COMM_TYPE_SHARED; }
static inline MPI_Info clipcv_mpi_info_null(void) { return MPI_INFO_NULL; }
static inline int clipcv_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int clipcv_mpi_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static inline int clipcv_mpi_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }

#endif
