import CZlib
import Foundation

/// Writes grayscale PNG files, 8- or 16-bit (stb_image_write, the project's PNG reader library, writes only 8-bit;
/// CT slices need 16). The format is small: signature, IHDR, one zlib-compressed IDAT, IEND; no metadata chunks,
/// so the same pixels always give the same bytes.
public enum PNGWriter {
    public static func write(gray8 pixels: [UInt8], width: Int, height: Int, to url: URL) throws {
        try write(samples: pixels, bytesPerSample: 1, width: width, height: height, to: url)
    }

    public static func write(gray16 pixels: [UInt16], width: Int, height: Int, to url: URL) throws {
        // PNG stores 16-bit samples big-endian.
        var bytes = [UInt8](repeating: 0, count: pixels.count * 2)
        for (i, value) in pixels.enumerated() {
            bytes[2 * i] = UInt8(value >> 8)
            bytes[2 * i + 1] = UInt8(value & 0xFF)
        }
        try write(samples: bytes, bytesPerSample: 2, width: width, height: height, to: url)
    }

    private static func write(samples: [UInt8], bytesPerSample: Int, width: Int, height: Int, to url: URL) throws {
        guard width > 0, height > 0, samples.count == width * height * bytesPerSample else {
            throw ImageWriteError(url, "a \(width)×\(height) gray image needs \(width * height) pixels, got \(samples.count / bytesPerSample)")
        }
        // Each scanline is preceded by its filter type; 0 (none) keeps the writer trivial.
        let rowBytes = width * bytesPerSample
        var scanlines = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        for y in 0..<height {
            scanlines.replaceSubrange((y * (rowBytes + 1) + 1)...(y * (rowBytes + 1) + rowBytes),
                                      with: samples[(y * rowBytes)..<((y + 1) * rowBytes)])
        }
        var header = Data()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [UInt8(8 * bytesPerSample), 0, 0, 0, 0])  // bit depth, gray, deflate, filter 0, no interlace

        var file = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        file.appendChunk("IHDR", header)
        file.appendChunk("IDAT", Data(try Deflate.compress(scanlines, container: .zlib, file: url)))
        file.appendChunk("IEND", Data())
        do { try file.write(to: url) } catch {
            throw ImageWriteError(url, "cannot be written (\(error.localizedDescription))")
        }
    }
}

/// An image or volume file that could not be written; the description names the file.
public struct ImageWriteError: Error, CustomStringConvertible {
    public let description: String
    init(_ file: URL, _ problem: String) {
        description = "\(file.path): \(problem)"
    }
}

/// zlib's deflate, into a zlib stream (PNG) or a gzip stream (`.nii.gz`; zlib writes no time stamp into it).
enum Deflate {
    enum Container {
        case zlib, gzip
        var windowBits: Int32 { self == .zlib ? 15 : 15 + 16 }
    }

    /// Level 1 (fastest): on noisy CT data higher levels save about 2% of the size at 5× the time.
    static func compress(_ bytes: [UInt8], container: Container, file: URL, level: Int32 = 1) throws -> [UInt8] {
        var stream = z_stream()
        guard clipcv_deflate_init(&stream, level, container.windowBits) == Z_OK else {
            throw ImageWriteError(file, "zlib could not start compressing")
        }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))))
        let status = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = output.baseAddress
                stream.avail_out = uInt(output.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw ImageWriteError(file, "zlib compression failed (status \(status))") }
        return Array(output.prefix(Int(stream.total_out)))
    }
}

private extension Data {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }

    /// Length, type, data, and the CRC-32 of type and data.
    mutating func appendChunk(_ type: String, _ data: Data) {
        appendBigEndian(UInt32(data.count))
        let typeAndData = Data(type.utf8) + data
        append(typeAndData)
        let crc = typeAndData.withUnsafeBytes { crc32(0, $0.bindMemory(to: Bytef.self).baseAddress, uInt($0.count)) }
        appendBigEndian(UInt32(crc))
    }
}
