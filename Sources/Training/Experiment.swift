import BLASCore
import CLIP
import Cohort
import Foundation

/// What every job of a run shares: the frozen model, the class prompts, the cohort and its decoded images.
/// A job (placement, train cases, seed) then only places adapters, trains and scores — the same function of its
/// inputs whichever process runs it.
public final class Experiment: @unchecked Sendable {
    public let modelDirectory: URL
    public let model: CLIPModel
    public let classes: [String]
    public let promptIDs: [[Int]]
    public let manifest: Manifest
    public let configuration: FineTuningConfiguration
    /// Training draws (augmented when the configuration says so) and scoring draws (never augmented).
    public let images: CohortImages

    /// `tokenizerDirectory` holds vocab.json and merges.txt when they are not in the model directory.
    public init(modelDirectory: URL, tokenizerDirectory: URL? = nil, manifest manifestURL: URL, classes: [String],
                configuration: FineTuningConfiguration, requireLabels: Bool = true) throws {
        guard classes.count >= 2 else { throw ConfigurationError(description: "give at least two class prompts (--classes), got \(classes.count)") }
        self.modelDirectory = modelDirectory
        self.classes = classes
        GEMM.precision = configuration.precision  // process-wide: one run, one precision
        self.configuration = configuration
        model = try CLIPModel(checkpoint: try Checkpoint(directory: modelDirectory))
        let tokenizer = try Tokenizer(directory: tokenizerDirectory ?? modelDirectory)
        promptIDs = classes.map { tokenizer.encode($0) }
        manifest = try Manifest(contentsOf: manifestURL, classes: classes, requireLabels: requireLabels)
        let size = model.configuration.vision.imageSize
        let source: CohortImages.Source
        if configuration.preprocessed {
            source = .preprocessed
        } else {
            let preprocessor = try CLIPPreprocessor(modelDirectory: modelDirectory)
            let shape = preprocessor.outputShape(width: size, height: size)
            guard shape.suffix(2) == [size, size] else {
                throw ConfigurationError(description: "\(modelDirectory.path): preprocessing makes \(shape.suffix(2).map(String.init).joined(separator: "×")) images, the model expects \(size)×\(size)")
            }
            var reader = CaseImageReader()
            reader.window = try configuration.intensityWindow()
            reader.roiMargin = configuration.roiMargin
            source = .images(reader: reader, preprocessor: preprocessor,
                             augmentation: configuration.training.augment ? AugmentationSettings() : .none)
        }
        images = CohortImages(manifest: manifest, source: source, imageSize: size)
    }

    public var labels: [Int] { manifest.labels }

    /// Fresh adapters at `placement` (PEFT init from the job's seed), or those of `initialAdapter`.
    public func placeAdapters(_ placement: Placement, seed: UInt64, initialAdapter: PEFTAdapter? = nil) throws {
        if let initialAdapter {
            try model.apply(initialAdapter)
        } else {
            var generator = SeededGenerator(seed: seed, stream: "lora-init")
            try model.placeAdapters(placement, settings: configuration.lora, generator: &generator)
        }
    }

    /// A fine-tuner for the adapters now on the model, with the loss weighted for `trainLabels`.
    public func fineTuner(trainLabels: [Int], seed: UInt64) throws -> FineTuner {
        let weights = try configuration.classWeights.weights(labels: trainLabels, classes: classes.count)
        let classifier = try PromptClassifier(model: model, promptIDs: promptIDs, fixedScale: configuration.logitScale, classWeights: weights)
        return FineTuner(classifier: classifier, settings: configuration.training, seed: seed)
    }

    /// P(class 1) for `cases` with the model as it stands (adapters or none: the zero-shot baseline).
    public func scores(_ tuner: FineTuner, cases: [Int]) throws -> [Double] {
        try tuner.probabilities(images, cases: cases).map { $0[1] }
    }

    /// Frozen image features (projected embeddings, L2-normalized) of every case, for the linear-probe baseline;
    /// computed once per run (the base model does not change between folds).
    public func frozenImageFeatures() throws -> [[Double]] {
        if let cached = lock.withLock({ cachedFeatures }) { return cached }
        let features = try imageFeatures(cases: Array(manifest.cases.indices))
        lock.withLock { cachedFeatures = features }
        return features
    }

    private var cachedFeatures: [[Double]]?
    private let lock = NSLock()

    private func imageFeatures(cases: [Int]) throws -> [[Double]] {
        try model.removeAdapters()
        var none: SeededGenerator? = nil
        let size = images.imageSize
        var features: [[Double]] = []
        let batchSize = max(1, configuration.training.batchSize)
        let pixels = Tensor(zeros: [batchSize, 3, size, size])
        for start in stride(from: 0, to: cases.count, by: batchSize) {
            let members = Array(cases[start..<min(start + batchSize, cases.count)])
            let batch = try pixels.rows(0..<members.count)
            for (slot, index) in members.enumerated() { try images.writePixels(of: index, into: batch, slot: slot, augmentation: &none) }
            let embeds = try model.vision.forward(pixels: batch, dropout: &none)
            let normalized = Tensor(zeros: embeds.shape)
            try L2Normalize.forward(output: normalized, norms: Tensor(zeros: [members.count]), input: embeds)
            let width = normalized.lastDimension
            for row in 0..<members.count { features.append((0..<width).map { Double(normalized[row * width + $0]) }) }
        }
        return features
    }
}
