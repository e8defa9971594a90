import BLASCore
import CLIP
import Foundation
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

    static func encode(architecture: String, images: Int, repeats: Int) throws -> EncodeReport {
        let model = try model(architecture)
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
                            sgemmFraction: achieved / sgemm, peakRssMb: peakResidentMegabytes())
    }

    static func train(architecture: String, placement: String, targets: [LoRATarget], rank: Int, batch: Int, steps: Int,
                      cache: Bool) throws -> TrainReport {
        let model = try model(architecture)
        var generator = SeededGenerator(seed: 5)
        try model.placeAdapters(try Placement(parsing: placement), settings: LoRASettings(rank: rank, alpha: Double(2 * rank), targets: targets), generator: &generator)
        // Non-zero B so every backward product does real work, as in the middle of training.
        for (_, adapter) in model.adapters { for i in 0..<adapter.b.count { adapter.b[i] = generator.nextNormal() * 0.01 } }
        let classifier = try PromptClassifier(model: model, promptIDs: promptIDs())
        let optimizer = AdamW(parameters: model.trainableParameters, settings: AdamWSettings())
        let input = pixels(batch: batch, size: model.configuration.vision.imageSize)
        let labels = (0..<batch).map { $0 % 2 }
        var vision: ImageInput = .pixels(input)
        if cache, let lowest = model.vision.encoder.lowestAdaptedLayer, lowest > 0 {
            vision = .frozenPrefix(try model.vision.frozenPrefix(pixels: input, belowLayer: lowest), layer: lowest)
        }
        var dropout: SeededGenerator? = nil
        var forward: [Double] = [], backward: [Double] = [], update: [Double] = [], flops: [Double] = []
        for step in 0..<(steps + 1) {
            GEMM.resetFlopCount()
            model.zeroGradients()
            let t0 = now()
            _ = try classifier.forward(vision, dropout: &dropout)
            _ = try classifier.loss(labels: labels)
            let t1 = now()
            try classifier.backward(labels: labels)
            let t2 = now()
            try optimizer.step(gradients: model.parameterGradients, learningRate: 1e-4)
            let t3 = now()
            guard step > 0 else { continue }  // warm-up step: buffers allocated, caches warm
            forward.append(t1 - t0); backward.append(t2 - t1); update.append(t3 - t2)
            flops.append(Double(GEMM.flopCount))
        }
        let stepTimes = zip(zip(forward, backward), update).map { $0.0 + $0.1 + $1 }
        let stepSeconds = median(stepTimes)
        let achieved = median(flops) / stepSeconds / 1e9
        let sgemm = try sgemmRate()
        return TrainReport(architecture: architecture, placement: placement, loraTargets: targets.map(\.rawValue).joined(separator: ","),
                           loraRank: rank, batch: batch, threads: BLASThreads.count, frozenPrefixCache: cache,
                           stepS: stepSeconds, forwardS: median(forward), backwardS: median(backward), optimizerS: median(update),
                           gflops: achieved, sgemmGflops: sgemm, sgemmFraction: achieved / sgemm, peakRssMb: peakResidentMegabytes())
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

/// Peak resident set size of this process (VmHWM), in MB.
func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kilobytes = Double(line.split(separator: " ")[1]) else { return 0 }
    return kilobytes / 1024
}
