import BLASCore
import Foundation

/// transformers' `CLIPImageProcessor` for a grayscale image: gray replicated to RGB, resize (Pillow's
/// antialiased resampling), center crop, rescale, normalize, giving CLIP's pixel values `[3, height, width]`.
///
/// The input is a `GrayImage` with values in [0, 1], the scale of uint8 / 255 (CT slices after windowing).
/// transformers hands Pillow uint8 images and Pillow rounds to uint8 after each resampling pass; here everything
/// stays in Float, so pixel values agree with transformers' within about one uint8 step (2/255 is the tested bound)
/// and are exact when no resize happens.
///
/// For training, `write(_:into:at:)` fills image `n` of a batch tensor `[N, 3, height, width]` in place: nothing
/// model-sized is allocated per step, and without augmentation a cohort is preprocessed once and reused.
public struct CLIPPreprocessor: Sendable {
    public let configuration: PreprocessingConfiguration

    public init(configuration: PreprocessingConfiguration = .openAI) {
        self.configuration = configuration
    }

    /// The preprocessing of a checkpoint directory (its `preprocessor_config.json`, OpenAI's when absent).
    public init(modelDirectory: URL) throws {
        try self.init(configuration: PreprocessingConfiguration(modelDirectory: modelDirectory))
    }

    /// The size an image of `width × height` is resized to, rounded as transformers' `get_resize_output_image_size`
    /// (the long side is truncated toward zero).
    public func resizedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        switch configuration.resize {
        case nil:
            return (width, height)
        case .exact(let newHeight, let newWidth)?:
            return (newWidth, newHeight)
        case .shortestEdge(let edge)?:
            let short = min(width, height), long = max(width, height)
            guard short > 0 else { return (width, height) }  // an empty image; `write` rejects it
            let newLong = Int(Double(edge * long) / Double(short))
            return width <= height ? (edge, newLong) : (newLong, edge)
        }
    }

    /// The pixel-value shape `[3, height, width]` for an input of `width × height`.
    public func outputShape(width: Int, height: Int) -> [Int] {
        if let crop = configuration.centerCrop { return [3, crop.height, crop.width] }
        let resized = resizedSize(width: width, height: height)
        return [3, resized.height, resized.width]
    }

    /// The pixel values of one image as a new tensor `[3, height, width]`.
    public func pixelValues(_ image: GrayImage) throws -> Tensor {
        let shape = outputShape(width: image.width, height: image.height)
        let batch = Tensor(zeros: [1] + shape)
        try write(image, into: batch, at: 0)
        return try batch.reshaped(shape)
    }

    /// Writes the pixel values of `image` into `batch[index]`, `batch` being `[N, 3, height, width]`.
    public func write(_ image: GrayImage, into batch: Tensor, at index: Int) throws {
        guard image.width > 0, image.height > 0 else { throw ShapeError("preprocessing: image \(index) is empty (\(image.width)×\(image.height))") }
        let shape = outputShape(width: image.width, height: image.height)
        guard batch.shape.count == 4, Array(batch.shape.dropFirst()) == shape, (0..<batch.shape[0]).contains(index) else {
            throw ShapeError("preprocessing: batch tensor \(batch.shape) cannot take image \(index) of pixel shape \(shape)")
        }
        guard !batch.isReadOnly else { throw ShapeError("preprocessing: batch tensor is read-only") }
        let height = shape[1], width = shape[2], planeSize = height * width
        let red = batch.pointer + index * 3 * planeSize

        // Gray values into the red plane: resized and center-cropped in one pass (only the kept window is computed).
        let resized = resizedSize(width: image.width, height: image.height)
        // transformers' center crop: top = (H - h) // 2 (floor, also when padding a too-small image), same for left.
        let top = floorDivide(resized.height - height, 2), left = floorDivide(resized.width - width, 2)
        let rows = top..<(top + height), columns = left..<(left + width)
        if configuration.resize == nil {
            copyWindow(of: image, rows: rows, columns: columns, into: red)
        } else {
            image.resample(width: resized.width, height: resized.height, filter: configuration.resample,
                           rows: rows, columns: columns, into: red)
        }

        // Gray g stands for the uint8 value 255·g; each channel is (255·g·rescale − mean) / std = g·scale + shift.
        // Blue and green are derived from red before red itself is rewritten in place.
        let uint8Scale = 255 * (configuration.rescaleFactor ?? 1)
        for channel in [2, 1, 0] {
            let std = Double(configuration.std?[channel] ?? 1), mean = Double(configuration.mean?[channel] ?? 0)
            let scale = Float(uint8Scale / std), shift = Float(-mean / std)
            let plane = red + channel * planeSize
            for i in 0..<planeSize { plane[i] = red[i] * scale + shift }
        }
    }

    /// The window of an image that is not resized (zeros outside it).
    private func copyWindow(of image: GrayImage, rows: Range<Int>, columns: Range<Int>, into output: UnsafeMutablePointer<Float>) {
        output.update(repeating: 0, count: rows.count * columns.count)
        let validColumns = columns.clamped(to: 0..<image.width)
        guard !validColumns.isEmpty else { return }
        image.pixels.withUnsafeBufferPointer { pixels in
            for y in rows.clamped(to: 0..<image.height) {
                (output + (y - rows.lowerBound) * columns.count + (validColumns.lowerBound - columns.lowerBound))
                    .update(from: pixels.baseAddress! + y * image.width + validColumns.lowerBound, count: validColumns.count)
            }
        }
    }

    private func floorDivide(_ a: Int, _ b: Int) -> Int { Int((Double(a) / Double(b)).rounded(.down)) }
}
