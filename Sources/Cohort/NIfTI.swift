internal import CNIfTI
import Foundation

/// NIfTI-1 and NIfTI-2 volumes (`.nii`, `.nii.gz`) through Debian's nifti2_io.
///
/// The voxel array is taken as stored: `i` (x) fastest, then `j` (y), then the slice `k`; the qform/sform
/// orientation is not applied. Integer and float datatypes of 8 to 64 bits become Float, then
/// `value · scl_slope + scl_inter` when `scl_slope` is non-zero (zero means "no scaling", as the standard says).
/// Only 2-D and 3-D data is accepted: a 4-D file (several volumes) is an error rather than a silent first volume.
enum NIfTIVolume {
    /// nifti2_io keeps its options (the debug level) in globals: one reader at a time.
    private static let lock = NSLock()

    static func read(_ url: URL) throws -> GrayVolume {
        try ImageFile.checkReadable(url)
        lock.lock()
        defer { lock.unlock() }
        nifti_set_debug_level(0)  // its own messages would go to stderr; our errors say what went wrong

        guard let image = nifti_image_read(url.path, 0) else {
            throw ImageFileError(url, "is not a readable NIfTI-1/2 file (bad, truncated or compressed-corrupt header)")
        }
        defer { nifti_image_free(image) }
        let header = image.pointee
        let extraDimensions = [header.nt, header.nu, header.nv, header.nw].map { max($0, 1) }
        guard extraDimensions.allSatisfy({ $0 == 1 }) else {
            let shape = [header.nx, header.ny, header.nz, header.nt, header.nu, header.nv, header.nw].prefix(Int(header.ndim))
            throw ImageFileError(url, "has \(header.ndim)-D data (\(shape.map(String.init).joined(separator: "×"))); expected a 2-D image or a 3-D volume")
        }
        let datatype = String(cString: nifti_datatype_string(header.datatype))
        guard let convert = converter(for: header.datatype) else {
            throw ImageFileError(url, "has unsupported NIfTI datatype \(datatype) (expected an integer or float type)")
        }
        let width = Int(max(header.nx, 1)), height = Int(max(header.ny, 1)), depth = Int(max(header.nz, 1))
        let count = width * height * depth
        guard nifti_image_load(image) == 0, let data = image.pointee.data else {
            throw ImageFileError(url, "is truncated or unreadable: the header promises \(width)×\(height)×\(depth) \(datatype) voxels")
        }
        var voxels = convert(UnsafeRawPointer(data), count)

        let slope = header.scl_slope, intercept = header.scl_inter
        let scaled = slope != 0 && slope.isFinite && !(slope == 1 && intercept == 0)
        if scaled {
            for index in voxels.indices { voxels[index] = Float(Double(voxels[index]) * slope + intercept) }
        }
        let fullScale: Float = scaled ? 1 : (header.datatype == DT_UINT8 ? 255 : header.datatype == DT_UINT16 ? 65535 : 1)
        return GrayVolume(width: width, height: height, depth: depth, voxels: voxels, encoding: .values(fullScale: fullScale))
    }

    /// Reads `count` native-endian values of the datatype (nifti2_io has already byte-swapped them) as Float.
    private static func converter(for datatype: Int32) -> ((UnsafeRawPointer, Int) -> [Float])? {
        func load<T: BinaryInteger>(_: T.Type) -> (UnsafeRawPointer, Int) -> [Float] {
            { raw, count in UnsafeBufferPointer(start: raw.assumingMemoryBound(to: T.self), count: count).map { Float($0) } }
        }
        switch datatype {
        case DT_UINT8: return load(UInt8.self)
        case DT_INT8: return load(Int8.self)
        case DT_INT16: return load(Int16.self)
        case DT_UINT16: return load(UInt16.self)
        case DT_INT32: return load(Int32.self)
        case DT_UINT32: return load(UInt32.self)
        case DT_INT64: return load(Int64.self)
        case DT_UINT64: return load(UInt64.self)
        case DT_FLOAT32: return { raw, count in Array(UnsafeBufferPointer(start: raw.assumingMemoryBound(to: Float.self), count: count)) }
        case DT_FLOAT64: return { raw, count in UnsafeBufferPointer(start: raw.assumingMemoryBound(to: Double.self), count: count).map { Float($0) } }
        default: return nil
        }
    }
}
