import BLASCore
import CLIP
import Foundation

/// What one cross-validation job does with its fold.
public enum JobMethod: Sendable {
    /// LoRA fine-tuning at a placement, then scoring the test cases.
    case fineTune(Placement)
    /// The class prompts scored by the frozen model: no training.
    case zeroShot
    /// Logistic regression on frozen image features of the training cases.
    case linearProbe
}

/// A job's out-of-fold scores (P(class 1), in test-case order) and its training curve.
public struct FoldResult: Sendable {
    public let scores: [Double]
    /// Mean training loss of each epoch (empty for the baselines).
    public let epochLosses: [Double]
}

extension Experiment {
    /// Trains on `train` and scores `test` (indices into the manifest). Every random choice comes from `seed`, so the
    /// result depends only on (method, cases, seed) — not on which rank runs it, or after which other job.
    public func run(_ method: JobMethod, train: [Int], test: [Int], seed: UInt64, log: (String) -> Void = { _ in }) throws -> FoldResult {
        let trainLabels = train.map { labels[$0] }
        switch method {
        case .fineTune(let placement):
            try placeAdapters(placement, seed: seed)
            let tuner = try fineTuner(trainLabels: trainLabels, seed: seed)
            var epochLosses: [Double] = [], epochSum = 0.0, epochSteps = 0
            let started = Date()
            try tuner.train(images, cases: train, labels: trainLabels) { record in
                if record.epoch > epochLosses.count + 1 {
                    epochLosses.append(epochSum / Double(epochSteps))
                    log("epoch \(epochLosses.count) loss \(String(format: "%.4f", epochLosses.last!)) (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
                    epochSum = 0; epochSteps = 0
                }
                epochSum += record.loss
                epochSteps += 1
            }
            epochLosses.append(epochSum / Double(max(epochSteps, 1)))
            log("epoch \(epochLosses.count) loss \(String(format: "%.4f", epochLosses.last!)) (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
            return FoldResult(scores: try scores(tuner, cases: test), epochLosses: epochLosses)
        case .zeroShot:
            try model.removeAdapters()
            return FoldResult(scores: try scores(try fineTuner(trainLabels: trainLabels, seed: seed), cases: test), epochLosses: [])
        case .linearProbe:
            let features = try frozenImageFeatures()
            let probe = try LinearProbe(features: train.map { features[$0] }, labels: trainLabels)
            return FoldResult(scores: test.map { probe.probability(features[$0]) }, epochLosses: [])
        }
    }
}
