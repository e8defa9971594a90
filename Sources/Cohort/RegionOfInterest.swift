import Foundation

/// A pixel rectangle: columns `x..<x+width`, rows `y..<y+height`.
public struct PixelBox: Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// This box grown by `margin` pixels on every side, clamped to an image of `imageWidth`×`imageHeight`.
    public func expanded(by margin: Int, within imageWidth: Int, _ imageHeight: Int) -> PixelBox {
        let left = max(x - margin, 0), top = max(y - margin, 0)
        let right = min(x + width + margin, imageWidth), bottom = min(y + height + margin, imageHeight)
        return PixelBox(x: left, y: top, width: right - left, height: bottom - top)
    }
}

/// The lesion region of a case, from its mask (non-zero pixels are inside).
public enum RegionOfInterest {
    /// The slice with the most mask pixels (the lowest `k` on ties), or nil for an empty mask.
    public static func largestSlice(of mask: GrayVolume) -> Int? {
        let size = mask.width * mask.height
        var best: (slice: Int, area: Int)?
        for k in 0..<mask.depth {
            let area = mask.voxels[(k * size)..<((k + 1) * size)].reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            if area > 0, area > (best?.area ?? 0) { best = (k, area) }
        }
        return best?.slice
    }

    /// The smallest box holding every non-zero pixel, or nil when there is none.
    public static func boundingBox(of mask: GrayImage) -> PixelBox? {
        var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
        for y in 0..<mask.height {
            for x in 0..<mask.width where mask.pixels[y * mask.width + x] != 0 {
                minX = min(minX, x); maxX = max(maxX, x)
                minY = min(minY, y); maxY = max(maxY, y)
            }
        }
        guard maxX >= 0 else { return nil }
        return PixelBox(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)
    }

    /// The slice of `image` to use and the mask's bounding box on it (see `CaseImageReader` for the rules).
    static func locate(mask: GrayVolume, maskFile: URL, image: GrayVolume, imageFile: URL,
                       slice: Int?) throws -> (slice: Int, box: PixelBox) {
        guard mask.width == image.width, mask.height == image.height, mask.depth == image.depth || mask.depth == 1 else {
            throw ImageFileError(maskFile, "mask is \(mask.shapeText) but its image \(imageFile.lastPathComponent) is \(image.shapeText) (width × height × slices must match, or the mask be one slice)")
        }
        let k: Int
        if let slice {
            k = slice
        } else if mask.depth == image.depth {
            guard let largest = largestSlice(of: mask) else { throw ImageFileError(maskFile, "mask is empty (no non-zero voxel)") }
            k = largest
        } else {
            throw ImageFileError(maskFile, "is a one-slice mask for a volume of \(image.depth) slices: give a slice column to say which slice it outlines")
        }
        guard let box = boundingBox(of: mask.slice(mask.depth == 1 ? 0 : k)) else {
            throw ImageFileError(maskFile, "mask has no non-zero pixel on slice \(k)")
        }
        return (k, box)
    }
}

extension GrayImage {
    /// The pixels inside `box` (which must lie within the image).
    public func cropped(to box: PixelBox) -> GrayImage {
        precondition(box.x >= 0 && box.y >= 0 && box.width > 0 && box.height > 0 && box.x + box.width <= width && box.y + box.height <= height,
                     "crop box \(box) outside a \(width)×\(height) image")
        var pixels: [Float] = []
        pixels.reserveCapacity(box.width * box.height)
        for y in box.y..<(box.y + box.height) {
            pixels.append(contentsOf: self.pixels[(y * width + box.x)..<(y * width + box.x + box.width)])
        }
        return GrayImage(width: box.width, height: box.height, pixels: pixels)
    }
}
