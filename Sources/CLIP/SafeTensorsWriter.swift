import BLASCore
import Foundation

/// Writes Float32 tensors as a `.safetensors` file that Python's `safetensors` (and so PEFT and transformers) loads.
public enum SafeTensorsWriter {
    /// Writes `tensors` (F32, in the given order, contiguous) with `metadata` as `__metadata__` (left out when
    /// empty; transformers wants `["format": "pt"]` for model files). The header is padded with spaces to a
    /// multiple of 8 bytes, as the reference writer does, so every tensor stays aligned. The file is replaced
    /// atomically: readers see the old file or the complete new one.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String], to url: URL) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, tensor) in tensors {
            guard name != "__metadata__", header[name] == nil else {
                throw ModelFileError("\(url.path): tensor name '\(name)' is \(name == "__metadata__" ? "reserved" : "given twice")")
            }
            let byteCount = tensor.count * MemoryLayout<Float>.size
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + byteCount]] as [String: Any]
            offset += byteCount
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))

        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for (_, tensor) in tensors {
            file.append(UnsafeBufferPointer(start: tensor.pointer, count: tensor.count))
        }
        do { try file.write(to: url, options: .atomic) } catch {
            throw ModelFileError("\(url.path): cannot write safetensors file (\(error.localizedDescription))")
        }
    }
}
