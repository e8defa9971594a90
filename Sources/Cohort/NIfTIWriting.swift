import Foundation

/// A voxel type clipcv writes into NIfTI-1 files, with its NIfTI datatype code.
public protocol NIfTIVoxel: FixedWidthInteger {
    static var niftiDatatype: Int16 { get }
}
extension Int16: NIfTIVoxel { public static var niftiDatatype: Int16 { 4 } }  // DT_INT16
extension UInt8: NIfTIVoxel { public static var niftiDatatype: Int16 { 2 } }  // DT_UINT8

/// Writes NIfTI-1 volumes: `.nii`, or gzip-compressed when the name ends in `.gz`. The 348-byte header is laid out
/// field by field as nifti1.h defines it (little-endian), followed by 4 zero extension bytes and the voxels.
public enum NIfTIWriter {
    /// Writes a `width × height × depth` volume, x fastest (`voxels[x + width·(y + height·z)]`), voxel size
    /// `spacing` in mm. Row y = 0 is the top of the image (anterior) and column x = 0 its left (the patient's
    /// right), as in a radiological display; the affine says so (x → patient left, y → posterior, z → superior).
    public static func write<Voxel: NIfTIVoxel>(_ voxels: [Voxel], width: Int, height: Int, depth: Int,
                                                spacing: (x: Float, y: Float, z: Float), description: String = "",
                                                to url: URL) throws {
        guard voxels.count == width * height * depth, width > 0, height > 0, depth > 0,
              max(width, height, depth) <= Int(Int16.max) else {
            throw ImageWriteError(url, "a \(width)×\(height)×\(depth) volume needs \(width * height * depth) voxels, got \(voxels.count)")
        }
        // Orientation diag(-dx, -dy, dz) in RAS (a 180° turn about z: quaternion b = c = 0, d = 1), centered on 0.
        let offset = (x: Float(width - 1) / 2 * spacing.x, y: Float(height - 1) / 2 * spacing.y,
                      z: -Float(depth - 1) / 2 * spacing.z)
        var header = HeaderBytes()
        header.put(Int32(348), at: 0)  // sizeof_hdr
        for (i, size) in [3, width, height, depth, 1, 1, 1, 1].enumerated() { header.put(Int16(size), at: 40 + 2 * i) }  // dim
        header.put(Voxel.niftiDatatype, at: 70)
        header.put(Int16(Voxel.bitWidth), at: 72)  // bitpix
        for (i, value) in [1, spacing.x, spacing.y, spacing.z].enumerated() { header.put(value, at: 76 + 4 * i) }  // pixdim, [0] = qfac
        header.put(Float(352), at: 108)  // vox_offset
        header.put(Float(1), at: 112)  // scl_slope
        header.put(Float(0), at: 116)  // scl_inter
        header.bytes[123] = 2  // xyzt_units: NIFTI_UNITS_MM
        header.put(text: description, at: 148, length: 80)  // descrip
        header.put(Int16(1), at: 252)  // qform_code: NIFTI_XFORM_SCANNER_ANAT
        header.put(Int16(1), at: 254)  // sform_code
        for (i, value) in [0, 0, 1, offset.x, offset.y, offset.z].enumerated() { header.put(value, at: 256 + 4 * i) }  // quatern_b…qoffset_z
        let rows: [[Float]] = [[-spacing.x, 0, 0, offset.x], [0, -spacing.y, 0, offset.y], [0, 0, spacing.z, offset.z]]
        for (row, values) in rows.enumerated() {
            for (i, value) in values.enumerated() { header.put(value, at: 280 + 16 * row + 4 * i) }  // srow_x, srow_y, srow_z
        }
        header.put(text: "n+1", at: 344, length: 4)  // magic: header and data in one file

        var bytes = header.bytes + [0, 0, 0, 0]  // no header extensions
        voxels.map(\.littleEndian).withUnsafeBytes { bytes += $0 }
        if url.pathExtension == "gz" { bytes = try Deflate.compress(bytes, container: .gzip, file: url) }
        do { try Data(bytes).write(to: url) } catch {
            throw ImageWriteError(url, "cannot be written (\(error.localizedDescription))")
        }
    }

    /// The 348 header bytes, written little-endian at nifti1.h's field offsets.
    private struct HeaderBytes {
        var bytes = [UInt8](repeating: 0, count: 348)

        mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<(offset + $0.count), with: $0) }
        }
        mutating func put(_ value: Float, at offset: Int) { put(value.bitPattern, at: offset) }
        /// NUL-padded text, truncated to leave at least one NUL.
        mutating func put(text: String, at offset: Int, length: Int) {
            for (i, byte) in text.utf8.prefix(length - 1).enumerated() { bytes[offset + i] = byte }
        }
    }
}
