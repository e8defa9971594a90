import BLASCore
import Foundation

/// A NumPy `.npy` array (format versions 1–3) read as Float values in C (row-major) order.
///
/// Supported dtypes: little-endian `<f4`, `<f8`, `<i2`, `<i4`, `<u2` and `|u1` (also written `<u1`). Fortran-order
/// arrays, big-endian and other dtypes are rejected with an error naming the file.
public struct NPYArray: Sendable, Equatable {
    public let shape: [Int]
    /// The dtype as written in the header, e.g. `<f4`.
    public let dtype: String
    public let values: [Float]

    public init(contentsOf url: URL) throws {
        try ImageFile.checkReadable(url)
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch {
            throw ImageFileError(url, "cannot be read (\(CSVTable.reason(error)))")
        }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"
        guard data.count >= 10, Array(data.prefix(6)) == magic else {
            throw ImageFileError(url, "is not an NPY file (missing the \\x93NUMPY magic)")
        }
        let bytes = [UInt8](data.prefix(12))  // magic, version, header length
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw ImageFileError(url, "is a truncated NPY file (header length missing)") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw ImageFileError(url, "has unsupported NPY format version \(major)")
        }
        guard data.count >= headerStart + headerLength,
              let header = String(bytes: data[headerStart..<(headerStart + headerLength)], encoding: .utf8) else {
            throw ImageFileError(url, "is a truncated NPY file (header cut short)")
        }
        let parsed = try Self.parseHeader(header, file: url)
        guard !parsed.fortranOrder else {
            throw ImageFileError(url, "is stored in Fortran order; save it in C order (np.ascontiguousarray)")
        }
        guard let type = Self.types[parsed.dtype] else {
            throw ImageFileError(url, "has unsupported dtype '\(parsed.dtype)' (expected <f4, <f8, <i2, <i4, <u2 or |u1)")
        }
        let expected = try parsed.shape.reduce(type.size) { product, dimension in
            let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw ImageFileError(url, "has an impossible NPY shape \(parsed.shape)") }
            return result
        }
        let count = expected / type.size
        let dataStart = headerStart + headerLength, found = data.count - dataStart
        guard found == expected else {
            throw ImageFileError(url, "has \(found) data bytes; shape \(parsed.shape) of \(parsed.dtype) needs \(expected)\(found < expected ? " (truncated)" : "")")
        }
        shape = parsed.shape
        dtype = parsed.dtype
        values = data.withUnsafeBytes { raw in type.convert(UnsafeRawBufferPointer(rebasing: raw[dataStart...]), count) }
    }

    /// A 3×H×W float32 array of model-ready pixel values (already resized and normalized, `--preprocessed`):
    /// returned as a `[3, H, W]` tensor exactly as stored, with no windowing or preprocessing.
    public static func pixelValues(contentsOf url: URL) throws -> Tensor {
        let array = try NPYArray(contentsOf: url)
        guard array.dtype == "<f4", array.shape.count == 3, array.shape[0] == 3 else {
            throw ImageFileError(url, "holds \(array.dtype) \(array.shapeText); expected float32 (<f4) 3×H×W model-ready pixel values")
        }
        return try Tensor(shape: array.shape, values: array.values)
    }

    var shapeText: String { shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: "×") }

    /// As a gray image (H×W) or volume (D×H×W, D slices). `none` windowing divides by 255 for `|u1` and 65535
    /// for `<u2` (their full range); other dtypes are taken as already scaled.
    func grayVolume(file url: URL) throws -> GrayVolume {
        let fullScale: Float = dtype.hasSuffix("u1") ? 255 : dtype == "<u2" ? 65535 : 1
        switch shape.count {
        case 2:
            return GrayVolume(width: shape[1], height: shape[0], depth: 1, voxels: values, encoding: .values(fullScale: fullScale))
        case 3:
            return GrayVolume(width: shape[2], height: shape[1], depth: shape[0], voxels: values, encoding: .values(fullScale: fullScale))
        default:
            throw ImageFileError(url, "has \(shape.count)-D shape \(shapeText); expected a gray H×W image or a D×H×W volume")
        }
    }

    private struct ElementType {
        let size: Int
        let convert: @Sendable (UnsafeRawBufferPointer, Int) -> [Float]
    }

    private static func element<T>(_: T.Type, _ toFloat: @escaping @Sendable (T) -> Float) -> ElementType {
        ElementType(size: MemoryLayout<T>.size) { raw, count in
            (0..<count).map { toFloat(raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
        }
    }

    /// Little-endian dtypes (the host is little-endian, as every platform Swift on Linux runs on).
    private static let types: [String: ElementType] = [
        "<f4": element(Float.self) { $0 },
        "<f8": element(Double.self) { Float($0) },
        "<i2": element(Int16.self) { Float($0) },
        "<i4": element(Int32.self) { Float($0) },
        "<u2": element(UInt16.self) { Float($0) },
        "|u1": element(UInt8.self) { Float($0) },
        "<u1": element(UInt8.self) { Float($0) },
    ]

    /// Parses the header dict, e.g. `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 224, 224), }`.
    private static func parseHeader(_ header: String, file url: URL) throws -> (dtype: String, fortranOrder: Bool, shape: [Int]) {
        func value(after key: String) -> Substring? {
            guard let range = header.range(of: "'\(key)':") else { return nil }
            return header[range.upperBound...].drop { $0 == " " }
        }
        let malformed = ImageFileError(url, "has a malformed NPY header: \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
        guard let descr = value(after: "descr"), descr.first == "'",
              let descrEnd = descr.dropFirst().firstIndex(of: "'"),
              let order = value(after: "fortran_order"),
              let shapeText = value(after: "shape"), shapeText.first == "(",
              let shapeEnd = shapeText.firstIndex(of: ")") else { throw malformed }
        let dtype = String(descr[descr.index(after: descr.startIndex)..<descrEnd])
        let fortranOrder: Bool
        if order.hasPrefix("True") { fortranOrder = true } else if order.hasPrefix("False") { fortranOrder = false } else { throw malformed }
        var shape: [Int] = []
        for part in shapeText[shapeText.index(after: shapeText.startIndex)..<shapeEnd].split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let dimension = Int(text), dimension >= 0 else { throw malformed }
            shape.append(dimension)
        }
        return (dtype, fortranOrder, shape)
    }
}
