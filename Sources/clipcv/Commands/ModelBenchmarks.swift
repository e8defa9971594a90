import BLASCore
import CLIP
import Foundation
import Sweep
import Training

/// `bench encode` and `bench train`: a random-init CLIP built in memory (no checkpoint needed), timed per call.
enum ModelBenchmarks {
    struct EncodeReport: Encodable {
        let benchmark = "encode"
        let architecture: String
        let images: Int
        let prompts: Int
        let threads: Int
        let precision = GEMM.precision.rawValue
        let imagesS: Double
        let promptsS: Double
        let gflops: Double
        let sgemmGflops: Double
        let sgemmFraction: Double
        let peakRssMb: Double
    }

    struct TrainReport: Encodable {
        let benchmark = "train"
        let architecture: String
        let placement: String
        let loraTargets: String
        let loraRank: Int
        let batch: Int
        let threads: Int
        let precision = GEMM.precision.rawValue
        let frozenPrefixCache: Bool
        let stepS: Double
        let forwardS: Double
        let backwardS: Double
        let optimizerS: Double
        let gflops: Double
        let sgemmGflops: Double
        let sgemmFraction: Double
        let peakRssMb: Double
    }

    static func model(_ architecture: String) throws -> CLIPModel {
        let configuration = try CLIPConfiguration.preset(named: architecture)
        let weights = RandomWeights(seed: 1)
        return try CLIPModel(configuration: configuration, weights: weights.tensor)
    }

    static let prompts = ["a CT image of a tumour that responds to chemotherapy", "a CT image of a tumour that does not respond to chemotherapy"]

    static func promptIDs() -> [[Int]] {
        // Token ids of two clinical prompts: length matters for cost, not the ids (random weights).
        prompts.map { prompt in [Tokenizer.startOfText] + Array(repeating: 320, count: prompt.split(separator: " ").count + 1) + [Tokenizer.endOfText] }
    }

    static func pixels(batch: Int, size: Int) -> Tensor {
        let tensor = Tensor(zeros: [batch, 3, size, size])
        var generator = SeededGenerator(seed: 3)
        for i in 0..<tensor.count { tensor[i] = generator.nextNormal() }
        return tensor
    }

    static func encode(_ model: CLIPModel, architecture: String, images: Int, repeats: Int) throws -> EncodeReport {
        let input = pixels(batch: images, size: model.configuration.vision.imageSize)
        let ids = promptIDs()
        var none: SeededGenerator? = nil
        GEMM.resetFlopCount()
        let imageSeconds = try medianSeconds(repeats: repeats) { _ = try model.vision.forward(pixels: input, dropout: &none) }
        let flops = Double(GEMM.flopCount) / Double(repeats + 1)
        let promptSeconds = try medianSeconds(repeats: repeats) { _ = try model.text.forward(tokenIDs: ids, dropout: &none) }
        let sgemm = try sgemmRate()
        let achieved = flops / imageSeconds / 1e9
        return EncodeReport(architecture: architecture, images: images, prompts: ids.count, threads: BLASThreads.count,
                            imagesS: imageSeconds, promptsS: promptSeconds, gflops: achieved, sgemmGflops: sgemm,
                            sgemmFraction: achieved / sgemm, peakRssMb: ProcessResources.peakResidentMegabytes() ?? 0)
    }

    static func train(_ model: CLIPModel, architecture: String, placement: String, targets: [LoRATarget], rank: Int, batch: Int,
                      steps: Int, cache: Bool) throws -> TrainReport {
        let harness = try TrainingStep(model: model, placement: placement, targets: targets, rank: rank, batch: batch, cache: cache)
        var forward: [Double] = [], backward: [Double] = [], update: [Double] = [], flops: [Double] = []
        _ = try harness.run()  // warm-up step: buffers allocated, caches warm
        for _ in 0..<max(1, steps) {
            GEMM.resetFlopCount()
            let timing = try harness.run()
            forward.append(timing.forward); backward.append(timing.backward); update.append(timing.optimizer)
            flops.append(Double(GEMM.flopCount))
        }
        let stepTimes = zip(zip(forward, backward), update).map { $0.0 + $0.1 + $1 }
        let stepSeconds = median(stepTimes)
        let achieved = median(flops) / stepSeconds / 1e9
        let sgemm = try sgemmRate()
        return TrainReport(architecture: architecture, placement: placement, loraTargets: targets.map(\.rawValue).joined(separator: ","),
                           loraRank: rank, batch: batch, threads: BLASThreads.count, frozenPrefixCache: cache,
                           stepS: stepSeconds, forwardS: median(forward), backwardS: median(backward), optimizerS: median(update),
                           gflops: achieved, sgemmGflops: sgemm, sgemmFraction: achieved / sgemm,
                           peakRssMb: ProcessResources.peakResidentMegabytes() ?? 0)
    }

    /// One fold of a study-sized job: 182 cases, 5 folds (146 training cases), 30 epochs of batch 16, then the 36 test
    /// cases scored — estimated from the measured step and encode times.
    struct JobEstimate: Encodable {
        let benchmark = "job"
        let architecture: String
        let placement: String
        let precision = GEMM.precision.rawValue
        let threads: Int
        let cases = 182, trainCases = 146, testCases = 36, epochs = 30, batch = 16
        let steps: Int
        let stepS: Double
        let scoringS: Double
        let estimateS: Double
        let estimateMin: Double
        let sgemmFraction: Double
        let peakRssMb: Double
    }

    static func job(architecture: String, placement: String, targets: [LoRATarget], rank: Int, repeats: Int) throws -> JobEstimate {
        // One model for both measurements: building a random ViT-B/32 takes seconds. Encoding runs without adapters.
        let model = try model(architecture)
        let train = try train(model, architecture: architecture, placement: placement, targets: targets, rank: rank, batch: 16,
                              steps: repeats, cache: false)
        try model.removeAdapters()
        let encode = try encode(model, architecture: architecture, images: 16, repeats: repeats)
        let steps = (146 + 15) / 16 * 30
        let scoring = encode.imagesS * 36 / 16
        let estimate = train.stepS * Double(steps) + scoring
        return JobEstimate(architecture: architecture, placement: placement, threads: BLASThreads.count, steps: steps,
                           stepS: train.stepS, scoringS: scoring, estimateS: estimate, estimateMin: estimate / 60,
                           sgemmFraction: train.sgemmFraction, peakRssMb: ProcessResources.peakResidentMegabytes() ?? 0)
    }

    /// sgemm GFLOP/s on the training step's dominant shape (800×768×3072), measured in the same run.
    static func sgemmRate() throws -> Double {
        let shape = GEMMBenchmark.Shape(name: "fc1_forward", m: 800, n: 3072, k: 768)
        let a = GEMMBenchmark.randomTensor([shape.m, shape.k]), b = GEMMBenchmark.randomTensor([shape.k, shape.n])
        let c = Tensor(zeros: [shape.m, shape.n])
        let seconds = try medianSeconds(repeats: 5) { try GEMM.multiply(a, b, into: c) }
        return 2 * Double(shape.m * shape.n * shape.k) / seconds / 1e9
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}

/// One benchmark training step: adapters at a placement (B non-zero, as in the middle of training, so every backward
/// product does real work), the classifier over two prompts, AdamW, and a fixed batch of random pixels.
struct TrainingStep {
    let model: CLIPModel
    let classifier: PromptClassifier
    let optimizer: AdamW
    let input: ImageInput
    let labels: [Int]

    init(model: CLIPModel, placement: String, targets: [LoRATarget], rank: Int, batch: Int, cache: Bool) throws {
        var generator = SeededGenerator(seed: 5)
        try model.placeAdapters(try Placement(parsing: placement), settings: LoRASettings(rank: rank, alpha: Double(2 * rank), targets: targets),
                                generator: &generator)
        for (_, adapter) in model.adapters { for i in 0..<adapter.b.count { adapter.b[i] = generator.nextNormal() * 0.01 } }
        self.model = model
        classifier = try PromptClassifier(model: model, promptIDs: ModelBenchmarks.promptIDs())
        optimizer = AdamW(parameters: model.trainableParameters, settings: AdamWSettings())
        let pixels = ModelBenchmarks.pixels(batch: batch, size: model.configuration.vision.imageSize)
        if cache, let lowest = model.vision.encoder.lowestAdaptedLayer, lowest > 0 {
            input = .frozenPrefix(try model.vision.frozenPrefix(pixels: pixels, belowLayer: lowest), layer: lowest)
        } else {
            input = .pixels(pixels)
        }
        labels = (0..<batch).map { $0 % 2 }
    }

    /// Seconds of forward (with loss), backward and the optimizer update.
    func run() throws -> (forward: Double, backward: Double, optimizer: Double) {
        var dropout: SeededGenerator? = nil
        model.zeroGradients()
        let t0 = ModelBenchmarks.now()
        _ = try classifier.forward(input, dropout: &dropout)
        _ = try classifier.loss(labels: labels)
        let t1 = ModelBenchmarks.now()
        try classifier.backward(labels: labels)
        let t2 = ModelBenchmarks.now()
        try optimizer.step(gradients: model.parameterGradients, learningRate: 1e-4)
        let t3 = ModelBenchmarks.now()
        return (t1 - t0, t2 - t1, t3 - t2)
    }
}
