import BLASCore
import Foundation

/// The random changes made to a training image before CLIP preprocessing. `AugmentationSettings()` holds mild
/// defaults for CT slices; `.none` turns everything off (`--no-augment`).
public struct AugmentationSettings: Equatable, Sendable {
    /// Random resized crop: the fraction of the image area kept (uniform in this range) …
    public var cropScale: ClosedRange<Float>
    /// … and how much the crop's width-to-height ratio may differ from the image's (log-uniform in this range).
    /// The crop is stretched back to the image's size.
    public var cropAspectRatio: ClosedRange<Float>
    public var horizontalFlipProbability: Float
    public var verticalFlipProbability: Float
    /// Rotation about the crop's center, uniform in ± this many degrees; bilinear, edges extended.
    public var maxRotationDegrees: Float
    /// Brightness: a shift uniform in ± this (on the [0, 1] intensity scale).
    public var brightness: Float
    /// Contrast: a factor uniform in 1 ± this, about the image's mean intensity.
    public var contrast: Float

    public init(cropScale: ClosedRange<Float> = 0.8...1, cropAspectRatio: ClosedRange<Float> = 0.9...(1 / 0.9),
                horizontalFlipProbability: Float = 0.5, verticalFlipProbability: Float = 0.5,
                maxRotationDegrees: Float = 10, brightness: Float = 0.05, contrast: Float = 0.1) {
        precondition(cropScale.lowerBound > 0 && cropScale.upperBound <= 1, "crop scale must lie in (0, 1]")
        precondition(cropAspectRatio.lowerBound > 0, "crop aspect ratio must be positive")
        precondition((0...1).contains(horizontalFlipProbability) && (0...1).contains(verticalFlipProbability),
                     "flip probabilities must lie in [0, 1]")
        precondition(maxRotationDegrees >= 0 && brightness >= 0 && contrast >= 0 && contrast < 1,
                     "rotation, brightness and contrast ranges must be non-negative (contrast < 1)")
        self.cropScale = cropScale
        self.cropAspectRatio = cropAspectRatio
        self.horizontalFlipProbability = horizontalFlipProbability
        self.verticalFlipProbability = verticalFlipProbability
        self.maxRotationDegrees = maxRotationDegrees
        self.brightness = brightness
        self.contrast = contrast
    }

    /// Everything off: images pass unchanged and no random numbers are drawn.
    public static let none = AugmentationSettings(cropScale: 1...1, cropAspectRatio: 1...1, horizontalFlipProbability: 0,
                                                  verticalFlipProbability: 0, maxRotationDegrees: 0, brightness: 0, contrast: 0)

    /// True when no setting changes an image.
    public var isIdentity: Bool { self == .none }
}

extension GrayImage {
    /// This image (values in [0, 1]) randomly cropped, flipped, rotated and jittered as `settings` allow; the
    /// result has the same size, values in [0, 1]. The same generator state always gives the same image.
    public func augmented(_ settings: AugmentationSettings, using generator: inout SeededGenerator) -> GrayImage {
        var output = self
        augment(settings, into: &output, using: &generator)
        return output
    }

    /// As `augmented(_:using:)`, writing into `output` (resized to this image's size if needed) so a training loop
    /// can reuse one buffer.
    public func augment(_ settings: AugmentationSettings, into output: inout GrayImage, using generator: inout SeededGenerator) {
        if output.width != width || output.height != height {
            output = GrayImage(width: width, height: height, pixels: [Float](repeating: 0, count: width * height))
        }
        guard !settings.isIdentity else {
            output.pixels = pixels
            return
        }
        // Every draw happens in this order whatever the settings, so one setting never shifts another's randomness.
        func uniform(_ range: ClosedRange<Float>) -> Float {
            range.lowerBound + (range.upperBound - range.lowerBound) * generator.nextUniform()
        }
        let area = uniform(settings.cropScale)
        let aspect = exp(uniform(log(settings.cropAspectRatio.lowerBound)...log(settings.cropAspectRatio.upperBound)))
        // Crop size and center as fractions of the image.
        let cropWidth = min((area * aspect).squareRoot(), 1), cropHeight = min((area / aspect).squareRoot(), 1)
        let centerX = cropWidth / 2 + (1 - cropWidth) * generator.nextUniform()
        let centerY = cropHeight / 2 + (1 - cropHeight) * generator.nextUniform()
        let flipX: Float = generator.nextUniform() < settings.horizontalFlipProbability ? -1 : 1
        let flipY: Float = generator.nextUniform() < settings.verticalFlipProbability ? -1 : 1
        let angle = uniform(-settings.maxRotationDegrees...settings.maxRotationDegrees) * .pi / 180
        let contrast = 1 + uniform(-settings.contrast...settings.contrast)
        let brightness = uniform(-settings.brightness...settings.brightness)

        // Inverse map, output pixel center → source position (pixel k spans [k, k + 1)): flip about the center,
        // scale into the crop, rotate, move to the crop center. Affine, so it is a·x + b·y + c per coordinate.
        let w = Float(width), h = Float(height), cosine = cos(angle), sine = sin(angle)
        // Output pixels → source pixels before rotation (the crop spans cropWidth·w source pixels over w output pixels);
        // the rotation then acts on square source pixels.
        let scaleX = flipX * cropWidth, scaleY = flipY * cropHeight
        let ax = cosine * scaleX, bx = -sine * scaleY
        let ay = sine * scaleX, by = cosine * scaleY
        let sourceCenterX = centerX * w, sourceCenterY = centerY * h
        let maxX = width - 1, maxY = height - 1
        var sum: Float = 0
        pixels.withUnsafeBufferPointer { source in
            output.pixels.withUnsafeMutableBufferPointer { target in
                for y in 0..<height {
                    let dy = Float(y) + 0.5 - h / 2
                    for x in 0..<width {
                        let dx = Float(x) + 0.5 - w / 2
                        // Bilinear sample at the source position, edges extended.
                        let sx = sourceCenterX + ax * dx + bx * dy - 0.5, sy = sourceCenterY + ay * dx + by * dy - 0.5
                        let fx = sx.rounded(.down), fy = sy.rounded(.down)
                        let tx = sx - fx, ty = sy - fy
                        let x0 = min(max(Int(fx), 0), maxX), x1 = min(max(Int(fx) + 1, 0), maxX)
                        let y0 = min(max(Int(fy), 0), maxY), y1 = min(max(Int(fy) + 1, 0), maxY)
                        let top = source[y0 * width + x0] * (1 - tx) + source[y0 * width + x1] * tx
                        let bottom = source[y1 * width + x0] * (1 - tx) + source[y1 * width + x1] * tx
                        let value = top * (1 - ty) + bottom * ty
                        target[y * width + x] = value
                        sum += value
                    }
                }
                // Intensity jitter about the mean, kept in [0, 1].
                let mean = sum / Float(target.count)
                for i in target.indices {
                    target[i] = min(max((target[i] - mean) * contrast + mean + brightness, 0), 1)
                }
            }
        }
    }
}
