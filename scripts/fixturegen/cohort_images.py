"""Tiny image fixtures for the Cohort readers, written by tools independent of ours (numpy, zlib, gzip, struct).

Writes Tests/CohortTests/Fixtures/images/:
- NIfTI-1/2 headers packed by hand from the standard's layout (nibabel is not needed),
- 16-bit PNGs encoded by hand with zlib (Pillow cannot write 16-bit RGB),
- NPY files saved by numpy itself, one per supported dtype plus the shapes and dtypes we must reject.
The formulas below are repeated in the Swift tests (ImageFixtures.swift); change both together.

Run alone: python3 scripts/fixturegen/cohort_images.py  (or import and call generate(repo_root)).
"""
import gzip
import os
import struct
import sys
import zlib

import numpy as np


# ----------------------------------------------------------------------------------------------- NIfTI

NIFTI_TYPES = {np.uint8: (2, 8), np.int16: (4, 16), np.int32: (8, 32), np.float32: (16, 32),
               np.float64: (64, 64), np.uint16: (512, 16)}


def nifti1(array_xyz, scl_slope=0.0, scl_inter=0.0):
    """NIfTI-1 single file (.nii): 348-byte header, 4-byte extension flag, data with x fastest."""
    datatype, bitpix = NIFTI_TYPES[array_xyz.dtype.type]
    dims = [array_xyz.ndim] + list(array_xyz.shape) + [1] * (7 - array_xyz.ndim)
    header = bytearray(348)
    struct.pack_into("<i", header, 0, 348)
    header[38] = ord("r")
    struct.pack_into("<8h", header, 40, *dims)
    struct.pack_into("<hhh", header, 70, datatype, bitpix, 0)
    struct.pack_into("<8f", header, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", header, 108, 352.0)                   # vox_offset
    struct.pack_into("<ff", header, 112, scl_slope, scl_inter)
    header[123] = 2 | 8                                          # mm, seconds
    header[344:348] = b"n+1\0"
    data = np.asarray(array_xyz).astype(array_xyz.dtype.newbyteorder("<")).tobytes(order="F")
    return bytes(header) + b"\0\0\0\0" + data


def nifti2(array_xyz, scl_slope=0.0, scl_inter=0.0):
    """NIfTI-2 single file (.nii): 540-byte header, 4-byte extension flag, data with x fastest."""
    datatype, bitpix = NIFTI_TYPES[array_xyz.dtype.type]
    dims = [array_xyz.ndim] + list(array_xyz.shape) + [1] * (7 - array_xyz.ndim)
    header = bytearray(540)
    struct.pack_into("<i", header, 0, 540)
    header[4:12] = b"n+2\0\r\n\x1a\n"
    struct.pack_into("<hh", header, 12, datatype, bitpix)
    struct.pack_into("<8q", header, 16, *dims)
    struct.pack_into("<8d", header, 104, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<q", header, 168, 544)                     # vox_offset
    struct.pack_into("<dd", header, 176, scl_slope, scl_inter)
    struct.pack_into("<i", header, 500, 2 | 8)                   # xyzt_units
    data = np.asarray(array_xyz).astype(array_xyz.dtype.newbyteorder("<")).tobytes(order="F")
    return bytes(header) + b"\0\0\0\0" + data


def grid(shape, formula):
    """An array indexed [i, j, k] (x, y, slice) filled by formula(i, j, k)."""
    i, j, k = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return formula(i, j, k)


# ----------------------------------------------------------------------------------------------- PNG

def png(samples_hw_c, bit_depth):
    """A PNG by hand: IHDR, one zlib IDAT (filter 0 on every row), IEND. samples: H×W×C, C = 1 (gray) or 3 (RGB)."""
    height, width, channels = samples_hw_c.shape
    color_type = {1: 0, 3: 2}[channels]
    big_endian = samples_hw_c.astype(">u2" if bit_depth == 16 else "u1")
    raw = b"".join(b"\0" + big_endian[y].tobytes() for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# ----------------------------------------------------------------------------------------------- generate

def generate(repo_root):
    out = os.path.join(repo_root, "Tests", "CohortTests", "Fixtures", "images")
    os.makedirs(out, exist_ok=True)

    def write(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    def write_gz(name, data):
        # mtime=0 so the bytes do not change from run to run
        write(name, gzip.compress(data, compresslevel=9, mtime=0))

    # CT volume 5×4×3, int16 stored s = i + 10 j + 100 k − 50, HU = 2 s − 1000 (scl_slope 2, scl_inter −1000).
    ct = grid((5, 4, 3), lambda i, j, k: i + 10 * j + 100 * k - 50).astype(np.int16)
    write_gz("ct_int16_scaled.nii.gz", nifti1(ct, scl_slope=2.0, scl_inter=-1000.0))
    # Its lesion mask, uint8: slice 0 one voxel (1,1); slice 1 x 1…3, y 2…3 (6 voxels, the largest); slice 2 x 0…1, y 0…1.
    mask = np.zeros((5, 4, 3), np.uint8)
    mask[1, 1, 0] = 1
    mask[1:4, 2:4, 1] = 1
    mask[0:2, 0:2, 2] = 1
    write_gz("mask_uint8.nii.gz", nifti1(mask))
    # One-slice mask (5×4) of slice 1's lesion, for a volume with a slice column.
    write("mask_slice_uint8.nii", nifti1(mask[:, :, 1].copy()))
    # NIfTI-2, float32 4×3×2, v = 0.5 i + j + 10 k, scl_slope 0 (= no scaling).
    write("volume_float32.nii", nifti2(grid((4, 3, 2), lambda i, j, k: 0.5 * i + j + 10 * k).astype(np.float32)))
    # NIfTI-1 uint16 2-D 3×2, v = 1000 i + j, no scaling: `none` divides by 65535.
    write("image_uint16.nii", nifti1(grid((3, 2, 1), lambda i, j, k: 1000 * i + j)[:, :, 0].astype(np.uint16)))
    # 4-D float32 2×2×2×2: must be rejected.
    write("volume_4d.nii", nifti1(np.zeros((2, 2, 2, 2), np.float32)))

    # 16-bit gray PNG 4×3 (W×H) of HU + 1024, HU = 100 x + 400 y − 1000 (row y, column x).
    hu = np.fromfunction(lambda y, x: 100 * x + 400 * y - 1000, (3, 4)).astype(np.int64)
    write("ct_hu1024.png", png((hu + 1024)[:, :, None], 16))
    # 16-bit RGB PNG 2×1: (R, G, B) = (65535, 0, 0) and (1000, 2000, 3000).
    write("rgb16.png", png(np.array([[[65535, 0, 0], [1000, 2000, 3000]]]), 16))

    # NPY by numpy: gray 2×3 (H×W), v = 3 y + x − 2 (uint8 gets v + 2, uint16 gets 1000 (v + 2)).
    base = np.arange(6).reshape(2, 3) - 2
    for dtype in ["<f4", "<f8", "<i2", "<i4"]:
        np.save(os.path.join(out, "gray_%s.npy" % dtype[1:]), base.astype(dtype))
    np.save(os.path.join(out, "gray_u1.npy"), (base + 2).astype(np.uint8))
    np.save(os.path.join(out, "gray_u2.npy"), ((base + 2) * 1000).astype("<u2"))
    # Model-ready pixels 3×2×2 float32, v = c + 0.25 (2 y + x) − 1, and the same as float64 (must be rejected there).
    pixels = np.fromfunction(lambda c, y, x: c + 0.25 * (2 * y + x) - 1, (3, 2, 2))
    np.save(os.path.join(out, "pixels_3x2x2.npy"), pixels.astype("<f4"))
    np.save(os.path.join(out, "pixels_3x2x2_f8.npy"), pixels.astype("<f8"))
    # Volume D×H×W = 2×2×3 float32, v = 100 k + 3 y + x.
    np.save(os.path.join(out, "volume_2x2x3.npy"), np.fromfunction(lambda k, y, x: 100 * k + 3 * y + x, (2, 2, 3)).astype("<f4"))
    # Rejected: 4-D, big-endian, complex, Fortran order.
    np.save(os.path.join(out, "array_4d.npy"), np.zeros((1, 3, 2, 2), "<f4"))
    np.save(os.path.join(out, "gray_big_endian.npy"), base.astype(">f4"))
    np.save(os.path.join(out, "gray_complex.npy"), base.astype("<c8"))
    np.save(os.path.join(out, "gray_fortran.npy"), np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))


if __name__ == "__main__":
    generate(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
