// Intentionally empty: CNIfTI is a C target only so that include/znzlib.h reaches every client's header search
// path (see that file); SwiftPM requires a C target to have a source file. The library itself is libnifti2.
