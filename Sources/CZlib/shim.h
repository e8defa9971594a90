// Debian's zlib1g-dev: deflate for PNG image data (zlib stream) and `.nii.gz` volumes (gzip stream), plus crc32.
#include <zlib.h>

// deflateInit2 is a macro (it passes the library version and stream size); Swift cannot call macros.
static inline int clipcv_deflate_init(z_stream *stream, int level, int window_bits) {
    return deflateInit2(stream, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
}
