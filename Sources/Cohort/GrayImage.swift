/// A single-channel image (a CT slice) as Float intensities, row-major: `pixels[y * width + x]`.
/// Readers produce it (in HU for CT, raw values otherwise); windowing maps it to [0, 1]; preprocessing
/// turns it into CLIP's 3-channel pixel tensor.
public struct GrayImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var pixels: [Float]

    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(pixels.count == width * height, "image \(width)×\(height) needs \(width * height) pixels, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    public subscript(x: Int, y: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }
}
