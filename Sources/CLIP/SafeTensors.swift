import BLASCore
import Foundation

/// A `.safetensors` file, memory-mapped read-only.
///
/// Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
/// `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`, then the data,
/// offsets relative to its start. The mapping is `MAP_SHARED`, so every process on a node that opens the same
/// checkpoint shares one copy in the page cache; F32 tensors are views into it, never copies.
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    /// Every tensor name in the file, sorted.
    public let names: [String]
    /// The string entries of `__metadata__` (e.g. `format: pt`).
    public let metadata: [String: String]

    private struct Entry {
        let dtype: String
        let shape: [Int]
        /// Byte offset from the start of the file, and length.
        let start: Int
        let byteCount: Int
    }
    private let entries: [String: Entry]
    private let mapping: UnsafeRawPointer
    private let mappedLength: Int

    /// The dtypes `tensor(_:)` reads (as Float32).
    public static let readableDTypes = ["F32", "F16", "BF16"]

    /// Element sizes of the dtypes the format defines; offsets of these are checked against the shape.
    private static let elementSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
    ]

    public init(contentsOf url: URL) throws {
        self.url = url
        let path = url.path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw ModelFileError("\(path): cannot open safetensors file (\(missingOrUnreadable(url)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ModelFileError("\(path): cannot read safetensors file") }
        let fileSize = Int(status.st_size)
        guard fileSize >= 8 else {
            throw ModelFileError("\(path): truncated safetensors file (\(fileSize) bytes, shorter than its 8-byte header length)")
        }
        guard let base = mmap(nil, fileSize, PROT_READ, MAP_SHARED, descriptor, 0), base != MAP_FAILED else {
            throw ModelFileError("\(path): cannot memory-map safetensors file (errno \(errno))")
        }
        mapping = UnsafeRawPointer(base)
        mappedLength = fileSize
        do {
            (entries, metadata) = try Self.parseHeader(mapping, fileSize: fileSize, path: path)
        } catch {
            munmap(base, fileSize)
            throw error
        }
        names = entries.keys.sorted()
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: mapping), mappedLength) }

    /// Stored dtype (as the file spells it, e.g. "F32", "BF16") and shape of `name`, or nil when absent.
    public func info(_ name: String) -> (dtype: String, shape: [Int])? {
        entries[name].map { ($0.dtype, $0.shape) }
    }

    /// The tensor `name` as Float32. F32 is a read-only view of the mapping (copied only in the rare case that its
    /// bytes are not 4-byte aligned); F16 and BF16 are converted on every call into a new tensor that owns its memory.
    public func tensor(_ name: String) throws -> Tensor {
        guard let entry = entries[name] else { throw ModelFileError("\(url.path): missing tensor '\(name)'") }
        let source = mapping + entry.start
        let count = entry.shape.reduce(1, *)
        switch entry.dtype {
        case "F32":
            if entry.start % MemoryLayout<Float>.alignment == 0 {
                let floats = UnsafeMutablePointer(mutating: source.assumingMemoryBound(to: Float.self))
                return Tensor(viewing: floats, shape: entry.shape, owner: self, readOnly: true)
            }
            let copy = Tensor(zeros: entry.shape)
            UnsafeMutableRawPointer(copy.pointer).copyMemory(from: source, byteCount: entry.byteCount)
            return copy
        case "F16":
            let result = Tensor(zeros: entry.shape)
            for i in 0..<count { result.pointer[i] = Self.halfToFloat(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            return result
        case "BF16":
            let result = Tensor(zeros: entry.shape)
            for i in 0..<count {
                let bits = UInt32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
                result.pointer[i] = Float(bitPattern: bits)
            }
            return result
        default:
            throw ModelFileError("\(url.path): unsupported dtype \(entry.dtype) for tensor '\(name)' (readable: \(Self.readableDTypes.joined(separator: ", ")))")
        }
    }

    /// IEEE binary16 → binary32, exact for every value (subnormals, infinities and NaN payloads included).
    static func halfToFloat(_ half: UInt16) -> Float {
        let sign: UInt32 = UInt32(half & 0x8000) << 16
        let exponent = UInt32(half >> 10) & 0x1f
        let mantissa = UInt32(half) & 0x3ff
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 0x1f:
            return Float(bitPattern: sign | 0x7f80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }

    private static func parseHeader(_ base: UnsafeRawPointer, fileSize: Int, path: String) throws
        -> (entries: [String: Entry], metadata: [String: String]) {
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(fileSize - 8) else {
            throw ModelFileError("\(path): truncated safetensors file (header of \(headerLength) bytes, file has \(fileSize))")
        }
        let dataStart = 8 + Int(headerLength)
        let headerBytes = Data(bytes: base + 8, count: Int(headerLength))
        func garbled(_ why: String) -> ModelFileError { ModelFileError("\(path): garbled safetensors header (\(why))") }
        guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any] else {
            throw garbled("not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                // A string map by the format; anything else in it is not ours to interpret.
                for (key, item) in value as? [String: Any] ?? [:] { if let text = item as? String { metadata[key] = text } }
                continue
            }
            guard let fields = value as? [String: Any], let dtype = fields["dtype"] as? String,
                  let shapeValues = fields["shape"] as? [Any], let offsetValues = fields["data_offsets"] as? [Any] else {
                throw garbled("tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            let shape = shapeValues.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }
            let offsets = offsetValues.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }
            guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }),
                  offsets.count == 2, offsets.count == offsetValues.count, 0 <= offsets[0], offsets[0] <= offsets[1] else {
                throw garbled("tensor '\(name)' has shape \(shapeValues) and data_offsets \(offsetValues)")
            }
            let byteCount = offsets[1] - offsets[0]
            if let size = elementSizes[dtype], shape.reduce(1, *) * size != byteCount {
                throw garbled("tensor '\(name)' of dtype \(dtype) and shape \(shape) needs \(shape.reduce(1, *) * size) bytes, data_offsets give \(byteCount)")
            }
            guard dataStart + offsets[1] <= fileSize else {
                throw ModelFileError("\(path): truncated safetensors file (tensor '\(name)' ends at byte \(dataStart + offsets[1]), file has \(fileSize))")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, start: dataStart + offsets[0], byteCount: byteCount)
        }
        return (entries, metadata)
    }
}
