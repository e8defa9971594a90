import BLASCore
import CLIP
import Foundation
import TestSupport
import XCTest
@testable import Training

/// Finite differences through the whole LoRA model: pixels → both towers → cosine logits → cross-entropy.
final class WholeModelGradientTests: XCTestCase {
    /// A tiny CLIP whose towers differ (width, heads, depth, activation) so that no shape mix-up can hide.
    static func tinyModel(activation: Activation = .quickGELU) throws -> CLIPModel {
        let configuration = CLIPConfiguration(
            vision: VisionConfiguration(hiddenSize: 16, layerCount: 3, headCount: 2, intermediateSize: 24, activation: activation,
                                        imageSize: 12, patchSize: 4),
            text: TextConfiguration(hiddenSize: 12, layerCount: 2, headCount: 3, intermediateSize: 20, activation: activation,
                                    vocabularySize: 49408, maxPositions: 77),
            projectionDimension: 8)
        return try CLIPModel(configuration: configuration, weights: RandomWeights(seed: 11, perturbNorms: true).tensor)
    }

    func check(placement: String, targets: [LoRATarget], activation: Activation, classWeights: [Float]?, fixedScale: Float?) throws {
        let model = try Self.tinyModel(activation: activation)
        var generator = SeededGenerator(seed: 12)
        try model.placeAdapters(try Placement(parsing: placement), settings: LoRASettings(rank: 2, alpha: 3, targets: targets), generator: &generator)
        // PEFT starts B at zero, which makes dA vanish; non-zero B exercises both gradients.
        for (_, adapter) in model.adapters { for i in 0..<adapter.b.count { adapter.b[i] = generator.nextNormal() * 0.3 } }
        let prompts = [[49406, 320, 1125, 49407], [49406, 320, 1125, 539, 2870, 49407], [49406, 1929, 49407]]
        let classifier = try PromptClassifier(model: model, promptIDs: prompts, fixedScale: fixedScale, classWeights: classWeights)
        let pixels = randomTensor([3, 3, 12, 12], seed: 13, scale: 1.5)
        let labels = [2, 0, 1]
        var none: SeededGenerator? = nil
        func loss() throws -> Double {
            _ = try classifier.forward(.pixels(pixels), dropout: &none)
            return Double(try classifier.loss(labels: labels))
        }
        _ = try loss()
        model.zeroGradients()
        try classifier.backward(labels: labels)
        XCTAssertFalse(model.adapters.isEmpty)
        let inputs = model.adapters.flatMap { name, adapter in
            [("\(placement) \(name) lora_A", adapter.a, adapter.aGradient), ("\(placement) \(name) lora_B", adapter.b, adapter.bGradient)]
        }
        try assertGradientsMatch(inputs: inputs, step: 1e-2, tolerance: 1e-3, loss: loss)
    }

    func testAttentionAndMLPAdaptersInBothTowers() throws {
        try check(placement: "vision=layers:1,2;text=lowest:1", targets: LoRATarget.allCases, activation: .quickGELU,
                  classWeights: nil, fixedScale: nil)
    }

    func testExactGELUWithClassWeightsAndFixedScale() throws {
        try check(placement: "highest:1", targets: [.query, .value, .fc2], activation: .gelu,
                  classWeights: [0.5, 2, 1], fixedScale: 10)
    }
}
