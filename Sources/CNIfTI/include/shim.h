// Debian's libnifti2-dev: nifti2_io reads NIfTI-1 and NIfTI-2 `.nii` / `.nii.gz` volumes (through znzlib/zlib).
#include <nifti/nifti2_io.h>
