/// The Pillow resampling filters clipcv reproduces, numbered as Pillow (and `resample` in
/// `preprocessor_config.json`) numbers them.
public enum ResamplingFilter: Int, Sendable, CaseIterable {
    case bilinear = 2
    case bicubic = 3

    /// Half-width of the kernel at scale 1 (Pillow's `support`).
    var support: Double {
        switch self {
        case .bilinear: 1
        case .bicubic: 2
        }
    }

    /// The kernel, exactly as Pillow's `bilinear_filter` / `bicubic_filter` (cubic convolution with a = -0.5).
    func weight(_ distance: Double) -> Double {
        let x = abs(distance)
        switch self {
        case .bilinear:
            return x < 1 ? 1 - x : 0
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// The weights of one axis of a Pillow resize (`precompute_coeffs` in Pillow's Resample.c): output index `i`
/// reads inputs `starts[i] ..< starts[i] + counts[i]` with `weights[i * kernelWidth ...]`.
///
/// When shrinking, the kernel is stretched by the scale factor, so every input pixel contributes (antialiasing).
/// Only the outputs in `outputs` are computed: a center crop needs no others.
struct ResamplingAxis {
    let outputs: Range<Int>
    let kernelWidth: Int
    private(set) var starts: [Int] = []
    private(set) var counts: [Int] = []
    private(set) var weights: [Float] = []

    init(inputSize: Int, outputSize: Int, filter: ResamplingFilter, outputs: Range<Int>) {
        precondition(inputSize > 0 && outputSize > 0 && outputs.lowerBound >= 0 && outputs.upperBound <= outputSize)
        self.outputs = outputs
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        kernelWidth = Int(support.rounded(.up)) * 2 + 1
        starts.reserveCapacity(outputs.count)
        counts.reserveCapacity(outputs.count)
        weights = [Float](repeating: 0, count: outputs.count * kernelWidth)
        var kernel = [Double](repeating: 0, count: kernelWidth)
        for (row, output) in outputs.enumerated() {
            let center = (Double(output) + 0.5) * scale
            // Pillow rounds with (int)(v + 0.5), which truncates toward zero; negative starts clamp to 0 anyway.
            let first = max(Int(center - support + 0.5), 0)
            let count = min(Int(center + support + 0.5), inputSize) - first
            var total = 0.0
            for k in 0..<count {
                kernel[k] = filter.weight((Double(k + first) - center + 0.5) / filterScale)
                total += kernel[k]
            }
            for k in 0..<count {
                weights[row * kernelWidth + k] = Float(total != 0 ? kernel[k] / total : kernel[k])
            }
            starts.append(first)
            counts.append(count)
        }
    }

    /// The input indices any computed output reads.
    var inputs: Range<Int> {
        guard let first = starts.min() else { return 0..<0 }
        let last = zip(starts, counts).map { $0 + $1 }.max()!
        return first..<last
    }
}

extension GrayImage {
    /// Writes the window `rows × columns` (in output coordinates) of this image resized to `width × height` the way
    /// Pillow's `Image.resize((width, height), filter)` does, into `output` (row-major, `columns.count` wide).
    /// Window pixels outside the resized image are 0 (transformers' center crop pads with zeros).
    ///
    /// Separable convolution as Pillow: horizontal pass, then vertical pass, each clipped to [0, 1]. Pillow works
    /// on uint8 and rounds after each pass; this works in Float on values in [0, 1] (uint8 / 255), so results
    /// differ from Pillow's by at most about one uint8 step.
    func resample(width: Int, height: Int, filter: ResamplingFilter, rows: Range<Int>, columns: Range<Int>,
                  into output: UnsafeMutablePointer<Float>) {
        let outputWidth = columns.count
        output.update(repeating: 0, count: rows.count * outputWidth)
        let validRows = rows.clamped(to: 0..<height), validColumns = columns.clamped(to: 0..<width)
        guard !validRows.isEmpty, !validColumns.isEmpty else { return }
        let horizontal = ResamplingAxis(inputSize: self.width, outputSize: width, filter: filter, outputs: validColumns)
        let vertical = ResamplingAxis(inputSize: self.height, outputSize: height, filter: filter, outputs: validRows)
        let sourceRows = vertical.inputs
        let passWidth = validColumns.count

        withUnsafeTemporaryAllocation(of: Float.self, capacity: sourceRows.count * passWidth) { buffer in
            let intermediate = buffer.baseAddress!
            pixels.withUnsafeBufferPointer { source in
                horizontal.weights.withUnsafeBufferPointer { weights in
                    for (index, y) in sourceRows.enumerated() {
                        let inputRow = source.baseAddress! + y * self.width
                        let outputRow = intermediate + index * passWidth
                        for x in 0..<passWidth {
                            let start = horizontal.starts[x], kernel = weights.baseAddress! + x * horizontal.kernelWidth
                            var sum: Float = 0
                            for k in 0..<horizontal.counts[x] { sum += inputRow[start + k] * kernel[k] }
                            outputRow[x] = min(max(sum, 0), 1)
                        }
                    }
                }
            }
            vertical.weights.withUnsafeBufferPointer { weights in
                for (index, y) in validRows.enumerated() {
                    let outputRow = output + (y - rows.lowerBound) * outputWidth + (validColumns.lowerBound - columns.lowerBound)
                    let kernel = weights.baseAddress! + index * vertical.kernelWidth
                    for k in 0..<vertical.counts[index] {
                        let inputRow = intermediate + (vertical.starts[index] + k - sourceRows.lowerBound) * passWidth
                        let weight = kernel[k]
                        for x in 0..<passWidth { outputRow[x] += weight * inputRow[x] }
                    }
                    for x in 0..<passWidth { outputRow[x] = min(max(outputRow[x], 0), 1) }
                }
            }
        }
    }
}
