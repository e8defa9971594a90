// Debian's libstb (pkg-config `stb`): stb_image decodes PNG (8/16-bit) and JPEG; stb_image_write writes PNG.
// The implementations are compiled into libstb.so, so only declarations are included here.
#include <stb_image.h>
#include <stb_image_write.h>
