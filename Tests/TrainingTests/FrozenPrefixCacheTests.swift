import BLASCore
import CLIP
import Foundation
import TestSupport
import XCTest
@testable import Training

/// Reusing the frozen layers' output across epochs must change nothing, bit for bit.
final class FrozenPrefixCacheTests: XCTestCase {
    func train(cache: Bool, placement: String) throws -> (losses: [Double], tensors: [[Float]], scores: [Double]) {
        let data = ReferenceFixture.testsDirectory.appendingPathComponent("TrainingTests/Fixtures/train_tiny")
        var configuration = FineTuningConfiguration()
        configuration.preprocessed = true
        configuration.lora = LoRASettings(rank: 2, alpha: 4, dropout: 0, targets: [.query, .value, .fc1])
        configuration.training.epochs = 3
        configuration.training.batchSize = 3
        configuration.training.learningRate = 1e-2
        configuration.training.augment = false
        configuration.training.frozenPrefixCache = cache
        let experiment = try Experiment(modelDirectory: LoRAParityTests.vitb16like,
                                        tokenizerDirectory: ReferenceFixture.testsDirectory.appendingPathComponent("CLIPTests/Fixtures/tokenizer"),
                                        manifest: data.appendingPathComponent("manifest.csv"),
                                        classes: ["a CT scan of a tumor that responds to therapy", "a CT scan of a tumor that does not respond to therapy"],
                                        configuration: configuration)
        try experiment.placeAdapters(try Placement(parsing: placement), seed: 9)
        let tuner = try experiment.fineTuner(trainLabels: experiment.labels, seed: 9)
        let cases = Array(0..<6)
        let records = try tuner.train(experiment.images, cases: cases, labels: cases.map { experiment.labels[$0] })
        return (records.map(\.loss), experiment.model.trainableParameters.map(\.values), try experiment.scores(tuner, cases: [6, 7]))
    }

    func testCachedAndUncachedTrainingAreIdentical() throws {
        for placement in ["vision=layers:2;text=lowest:1", "vision=none;text=all"] {
            let cached = try train(cache: true, placement: placement)
            let uncached = try train(cache: false, placement: placement)
            XCTAssertEqual(cached.losses, uncached.losses, placement)
            XCTAssertEqual(cached.tensors, uncached.tensors, placement)
            XCTAssertEqual(cached.scores, uncached.scores, placement)
            XCTAssertNotEqual(cached.losses.first, cached.losses.last, "\(placement): training changed nothing")
        }
    }
}
