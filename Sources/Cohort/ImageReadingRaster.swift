internal import CStb
import Foundation

/// PNG and JPEG through Debian's stb_image: 8-bit files give `.display8Bit`, 16-bit PNGs (`stbi_is_16_bit`, read
/// with `stbi_load_16`) give `.offsetHounsfield16Bit`.
///
/// Color becomes gray by ITU-R 601-2 luma with Pillow's integer weights, `L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16`,
/// the same numbers as Pillow's `Image.convert("L")` for 8-bit files (and the same formula at 16 bits); a gray image
/// saved as RGB therefore reads back unchanged. Alpha is ignored.
enum RasterImage {
    static func read(_ url: URL) throws -> GrayVolume {
        try ImageFile.checkReadable(url)
        let path = url.path
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        let pixels: [Float]
        let encoding: IntensityEncoding
        if stbi_is_16_bit(path) != 0 {
            guard let data = stbi_load_16(path, &width, &height, &channels, 0) else { throw failure(url) }
            defer { stbi_image_free(data) }
            pixels = gray(UnsafeBufferPointer(start: data, count: Int(width) * Int(height) * Int(channels)), channels: Int(channels))
            encoding = .offsetHounsfield16Bit
        } else {
            guard let data = stbi_load(path, &width, &height, &channels, 0) else { throw failure(url) }
            defer { stbi_image_free(data) }
            pixels = gray(UnsafeBufferPointer(start: data, count: Int(width) * Int(height) * Int(channels)), channels: Int(channels))
            encoding = .display8Bit
        }
        return GrayVolume(width: Int(width), height: Int(height), depth: 1, voxels: pixels, encoding: encoding)
    }

    private static func failure(_ url: URL) -> ImageFileError {
        let reason = stbi_failure_reason().map { String(cString: $0) } ?? "unknown reason"
        return ImageFileError(url, "cannot be decoded as PNG/JPEG (stb_image: \(reason))")
    }

    /// Interleaved samples with `channels` per pixel (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) to one gray Float each.
    private static func gray<Sample: FixedWidthInteger & UnsignedInteger>(_ samples: UnsafeBufferPointer<Sample>,
                                                                           channels: Int) -> [Float] {
        let count = samples.count / channels
        switch channels {
        case 1, 2:
            return (0..<count).map { Float(samples[$0 * channels]) }
        default:
            return (0..<count).map { pixel in
                let r = UInt64(samples[pixel * channels]), g = UInt64(samples[pixel * channels + 1])
                let b = UInt64(samples[pixel * channels + 2])
                return Float((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16)
            }
        }
    }
}
