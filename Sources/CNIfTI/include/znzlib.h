// Debian installs nifti2_io.h in /usr/include/nifti/ but it includes <znzlib.h> with angle brackets, expecting
// -I/usr/include/nifti, and the package ships no pkg-config file to say so. SwiftPM puts a C target's include/
// folder on the search path of every module that imports it, so this forwarder resolves that include for them all.
#include <nifti/znzlib.h>
