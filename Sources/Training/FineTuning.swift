import BLASCore
import CLIP
import Foundation

/// Images of one job's cases, written straight into batch tensors (no per-step allocation).
public protocol CaseImages {
    var count: Int { get }
    /// Side of the square model-ready image.
    var imageSize: Int { get }
    /// Writes case `index`'s model-ready pixels `[3, S, S]` into item `slot` of `batch [B, 3, S, S]`. With an
    /// `augmentation` generator, a random augmentation drawn from it is applied first (training only).
    func writePixels(of index: Int, into batch: Tensor, slot: Int, augmentation: inout SeededGenerator?) throws
}

/// Hyperparameters of one fine-tuning run.
public struct TrainingSettings: Codable, Equatable, Sendable {
    public var epochs = 30
    public var batchSize = 16
    public var learningRate = 1e-4
    public var schedule = LearningRateSchedule.cosine
    public var warmupSteps = 0
    public var gradientClipNorm: Double? = nil
    public var optimizer = AdamWSettings()
    public var shuffle = true
    public var augment = true
    /// Reuse the output of the frozen vision layers below the lowest adapter across epochs (only without
    /// augmentation, where it is the same every epoch; results are bit-identical either way).
    public var frozenPrefixCache = true

    public init() {}
}

/// One optimizer step: the batch's mean loss before the update, and the learning rate used.
public struct StepRecord: Codable, Equatable, Sendable {
    public let step: Int
    public let epoch: Int
    public let loss: Double
    public let lr: Double
}

/// A training failure that names the step (e.g. a NaN loss).
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
}

/// Fine-tunes the adapters of a classifier's model on some cases, and scores others.
///
/// All randomness comes from `seed` through named streams (shuffle order per epoch, augmentation, dropout), so a
/// job gives the same result wherever and whenever it runs.
public final class FineTuner {
    public let classifier: PromptClassifier
    public let settings: TrainingSettings
    public let seed: UInt64
    private let optimizer: AdamW

    public init(classifier: PromptClassifier, settings: TrainingSettings, seed: UInt64) {
        self.classifier = classifier
        self.settings = settings
        self.seed = seed
        optimizer = AdamW(parameters: classifier.model.trainableParameters, settings: settings.optimizer)
    }

    private var model: CLIPModel { classifier.model }

    /// Trains on `cases` of `images` with `labels` (label i = class prompt i); reports each step to `onStep`.
    @discardableResult
    public func train(_ images: CaseImages, cases: [Int], labels: [Int], onStep: (StepRecord) -> Void = { _ in }) throws -> [StepRecord] {
        try require(cases.count == labels.count, "train: \(cases.count) cases but \(labels.count) labels")
        try require(!cases.isEmpty, "train: no training cases")
        try require(settings.epochs >= 1 && settings.batchSize >= 1, "train: epochs and batch size must be at least 1")
        let batchCapacity = min(settings.batchSize, cases.count)
        let size = images.imageSize
        let pixels = Tensor(zeros: [batchCapacity, 3, size, size])
        let stepsPerEpoch = (cases.count + settings.batchSize - 1) / settings.batchSize
        let totalSteps = stepsPerEpoch * settings.epochs
        var augmentation: SeededGenerator? = settings.augment ? SeededGenerator(seed: seed, stream: "augment") : nil
        var dropout: SeededGenerator? = SeededGenerator(seed: seed, stream: "dropout")
        let cache = settings.frozenPrefixCache && !settings.augment ? FrozenPrefixCache(model: model) : nil
        var records: [StepRecord] = []
        for epoch in 1...settings.epochs {
            var order = Array(cases.indices)
            if settings.shuffle {
                var shuffler = SeededGenerator(seed: seed, stream: "shuffle", "epoch=\(epoch)")
                order.shuffle(using: &shuffler)
            }
            for start in stride(from: 0, to: order.count, by: settings.batchSize) {
                let members = Array(order[start..<min(start + settings.batchSize, order.count)])
                let batch = try pixels.rows(0..<members.count)
                let input = try imageInput(images, cases: members.map { cases[$0] }, pixels: batch, cache: cache, augmentation: &augmentation)
                let batchLabels = members.map { labels[$0] }
                model.zeroGradients()
                _ = try classifier.forward(input, dropout: &dropout)
                let loss = Double(try classifier.loss(labels: batchLabels))
                let step = records.count + 1
                guard loss.isFinite else {
                    throw TrainingError(description: "loss became \(loss) at step \(step) (epoch \(epoch)); lower the learning rate")
                }
                try classifier.backward(labels: batchLabels)
                if let maxNorm = settings.gradientClipNorm { clipGradientNorm(model.parameterGradients, maxNorm: maxNorm) }
                let lr = settings.schedule.learningRate(base: settings.learningRate, step: step, warmupSteps: settings.warmupSteps, totalSteps: totalSteps)
                try optimizer.step(gradients: model.parameterGradients, learningRate: lr)
                let record = StepRecord(step: step, epoch: epoch, loss: loss, lr: lr)
                records.append(record)
                onStep(record)
            }
        }
        return records
    }

    /// Class probabilities `[case][class]` of `cases`, without dropout or augmentation.
    public func probabilities(_ images: CaseImages, cases: [Int]) throws -> [[Double]] {
        let size = images.imageSize, capacity = max(1, min(settings.batchSize, cases.count))
        let pixels = Tensor(zeros: [capacity, 3, size, size])
        var none: SeededGenerator? = nil
        var result: [[Double]] = []
        for start in stride(from: 0, to: cases.count, by: capacity) {
            let members = Array(cases[start..<min(start + capacity, cases.count)])
            let batch = try pixels.rows(0..<members.count)
            for (slot, index) in members.enumerated() { try images.writePixels(of: index, into: batch, slot: slot, augmentation: &none) }
            let probabilities = try classifier.forward(.pixels(batch), dropout: &none)
            let classes = probabilities.lastDimension
            for row in 0..<members.count {
                result.append((0..<classes).map { Double(probabilities[row * classes + $0]) })
            }
        }
        return result
    }

    /// The batch's vision input: pixels, or (with the cache) the frozen layers' output, computed at first sight of a case.
    private func imageInput(_ images: CaseImages, cases: [Int], pixels: Tensor, cache: FrozenPrefixCache?,
                            augmentation: inout SeededGenerator?) throws -> ImageInput {
        guard let cache, cache.layer > 0 else {
            for (slot, index) in cases.enumerated() { try images.writePixels(of: index, into: pixels, slot: slot, augmentation: &augmentation) }
            return .pixels(pixels)
        }
        let missing = cases.enumerated().filter { !cache.contains($0.element) }
        if !missing.isEmpty {
            let fresh = try pixels.rows(0..<missing.count)
            for (slot, item) in missing.enumerated() { try images.writePixels(of: item.element, into: fresh, slot: slot, augmentation: &augmentation) }
            let hidden = try model.vision.frozenPrefix(pixels: fresh, belowLayer: cache.layer)
            for (row, item) in missing.enumerated() { try cache.store(try hidden.rows(row..<row + 1), for: item.element) }
        }
        return .frozenPrefix(try cache.batch(cases), layer: cache.layer)
    }
}

/// Outputs of the frozen vision layers below the lowest adapted one, per case. Without augmentation they are the
/// same every epoch, so they are computed once; layers at and above the adapters run every step.
final class FrozenPrefixCache {
    let layer: Int
    private var stored: [Int: Tensor] = [:]
    private var batchBuffer: Tensor?

    init(model: CLIPModel) {
        layer = model.vision.encoder.lowestAdaptedLayer ?? model.vision.encoder.layers.count
    }

    func contains(_ index: Int) -> Bool { stored[index] != nil }

    func store(_ hidden: Tensor, for index: Int) throws { stored[index] = hidden.clone() }

    /// The cached rows of `cases`, gathered into one `[B, T, C]` buffer (`[B, 1, C]` past the last layer).
    func batch(_ cases: [Int]) throws -> Tensor {
        let itemShape = Array(stored[cases[0]]!.shape.dropFirst())
        if batchBuffer == nil || batchBuffer!.shape[0] < cases.count { batchBuffer = Tensor(zeros: [cases.count] + itemShape) }
        let batch = try batchBuffer!.rows(0..<cases.count)
        for (row, index) in cases.enumerated() { try batch.rows(row..<row + 1).copy(from: stored[index]!) }
        return batch
    }
}
