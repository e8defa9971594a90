import BLASCore
import CLIP
import Foundation
import TestSupport
import XCTest
@testable import Training

/// The same training as PEFT: loss, every LoRA gradient and AdamW trajectories (constant lr; cosine with warmup and
/// gradient clipping) against transformers + PEFT.
final class LoRAParityTests: XCTestCase {
    struct Measured { var loss = 0.0, gradient = 0.0, stepLoss = 0.0, finalTensor = 0.0 }

    static let vitb16like = ReferenceFixture.testsDirectory.appendingPathComponent("CLIPTests/Fixtures/vitb16like")

    /// Runs one LoRA case (`lora_reference.json` + adapters in `caseDirectory`) on the model in `modelDirectory`.
    @discardableResult
    func checkLoRA(model modelDirectory: URL, case caseDirectory: URL? = nil) throws -> Measured {
        let caseDirectory = caseDirectory ?? modelDirectory
        let lora = try ReferenceFixture(directory: caseDirectory, file: "lora_reference.json")
        let pixels = try ReferenceFixture(directory: modelDirectory).tensor("pixel_values")  // "same as reference.json"
        let ids = (lora.value("input_ids") as! [[NSNumber]]).map { $0.map(\.intValue) }
        let labels = (lora.value("labels") as! [NSNumber]).map(\.intValue)
        let loss = lora.reference["loss"] as? [String: Any]
        let classWeights = (loss?["class_weights"] as? [NSNumber])?.map(\.floatValue)
        let fixedScale = (loss?["fixed_logit_scale"] as? NSNumber)?.floatValue
        let adamw = lora.value("adamw") as! [String: Any]
        func number(_ key: String) -> Double { (adamw[key] as! NSNumber).doubleValue }
        let optimizerSettings = AdamWSettings(beta1: number("beta1"), beta2: number("beta2"), epsilon: number("eps"), weightDecay: number("weight_decay"))
        // 1e-5 absolute; relative above a loss of 1 (≈ 14 with a fixed scale of 100, where logits of ±100 make fp32
        // rounding alone move the loss by ~2e-5 — the fixture's fp32-vs-fp64 notes).
        let stepTolerance = { (expected: Double) in 1e-5 * max(1, abs(expected)) }

        func freshClassifier() throws -> PromptClassifier {
            let model = try CLIPModel(checkpoint: try Checkpoint(directory: modelDirectory))
            try model.apply(try PEFTAdapter(directory: caseDirectory.appendingPathComponent("adapter_initial")))
            return try PromptClassifier(model: model, promptIDs: ids, fixedScale: fixedScale, classWeights: classWeights)
        }
        var none: SeededGenerator? = nil
        var measured = Measured()

        // Initial loss and gradients.
        let classifier = try freshClassifier()
        let model = classifier.model
        _ = try classifier.forward(.pixels(pixels), dropout: &none)
        let initialLoss = Double(try classifier.loss(labels: labels))
        let expectedLoss = (lora.value("initial.loss") as! NSNumber).doubleValue
        measured.loss = abs(initialLoss - expectedLoss) / abs(expectedLoss)
        XCTAssertLessThanOrEqual(measured.loss, 1e-4, "initial loss \(initialLoss) vs \(expectedLoss)")
        model.zeroGradients()
        try classifier.backward(labels: labels)
        let grads = lora.value("grads") as! [String: Any]
        XCTAssertEqual(grads.count, model.adapters.count * 2, "every LoRA tensor has a reference gradient")
        for (name, adapter) in model.adapters {
            for (suffix, gradient) in [("lora_A.weight", adapter.aGradient), ("lora_B.weight", adapter.bGradient)] {
                let expected = ReferenceFixture.flatten((grads["\(name).\(suffix)"] as! [String: Any])["values"]!)
                let error = relativeError(gradient.values, expected.values)
                measured.gradient = max(measured.gradient, error)
                XCTAssertLessThanOrEqual(error, 1e-4, "gradient of \(name).\(suffix)")
            }
        }

        // Trajectories: 5 full-batch AdamW steps, constant lr; then (where recorded) cosine with warmup + clipping.
        var trajectories: [(losses: [Double], learningRates: [Double], clip: Double?, final: String)] = []
        let steps = (lora.value("losses_before_each_step") as! [NSNumber]).map(\.doubleValue)
        trajectories.append((steps, Array(repeating: number("lr"), count: steps.count), nil, "adapter_final"))
        if let cosine = lora.reference["cosine_clip"] as? [String: Any] {
            trajectories.append(((cosine["losses_before_each_step"] as! [NSNumber]).map(\.doubleValue),
                                 (cosine["lrs"] as! [NSNumber]).map(\.doubleValue), (cosine["max_grad_norm"] as! NSNumber).doubleValue,
                                 "adapter_final_cosine"))
        }
        for trajectory in trajectories {
            let classifier = try freshClassifier()
            let model = classifier.model
            let optimizer = AdamW(parameters: model.trainableParameters, settings: optimizerSettings)
            for (expected, lr) in zip(trajectory.losses, trajectory.learningRates) {
                model.zeroGradients()
                _ = try classifier.forward(.pixels(pixels), dropout: &none)
                let stepLoss = Double(try classifier.loss(labels: labels))
                measured.stepLoss = max(measured.stepLoss, abs(stepLoss - expected))
                XCTAssertLessThanOrEqual(abs(stepLoss - expected), stepTolerance(expected), "\(trajectory.final) step loss")
                try classifier.backward(labels: labels)
                if let maxNorm = trajectory.clip { clipGradientNorm(model.parameterGradients, maxNorm: maxNorm) }
                try optimizer.step(gradients: model.parameterGradients, learningRate: lr)
            }
            let final = try PEFTAdapter(directory: caseDirectory.appendingPathComponent(trajectory.final))
            for (name, adapter) in model.adapters {
                let expected = final.tensors[name]!
                for (actual, reference) in [(adapter.a, expected.a), (adapter.b, expected.b)] {
                    let difference = zip(actual.values, reference.values).map { Double(abs($0 - $1)) }.max()!
                    measured.finalTensor = max(measured.finalTensor, difference)
                    XCTAssertLessThanOrEqual(difference, 1e-3, "\(trajectory.final) \(name)")
                }
            }
        }
        print("LoRA parity \(caseDirectory.path.split(separator: "/").suffix(2).joined(separator: "/")): loss rel \(String(format: "%.2e", measured.loss)), grad rel \(String(format: "%.2e", measured.gradient)), step loss abs \(String(format: "%.2e", measured.stepLoss)), final tensor abs \(String(format: "%.2e", measured.finalTensor))")
        return measured
    }

    func testSharedTinyFixture() throws {
        try checkLoRA(model: ReferenceFixture.sharedTiny)
    }

    /// Different layers per tower, all six targets, F16 base weights.
    func testAllTargetsDifferentLayersPerTower() throws {
        try checkLoRA(model: Self.vitb16like)
    }

    /// rsLoRA scaling (alpha/√r), balanced class weights, PEFT's regex form of target_modules.
    func testRSLoRAWithClassWeights() throws {
        try checkLoRA(model: Self.vitb16like, case: Self.vitb16like.appendingPathComponent("lora_rslora_weighted"))
    }

    /// CLIP-LoRA's fixed logit scale of 100.
    func testFixedLogitScale() throws {
        try checkLoRA(model: Self.vitb16like, case: Self.vitb16like.appendingPathComponent("lora_scale100"))
    }

    /// The fixtures all clip (coefficient < 1); a small gradient must pass unchanged, a large one be scaled to the norm.
    func testClippingLeavesSmallGradientsAlone() throws {
        let small = try Tensor(shape: [2], values: [0.3, 0.4])
        XCTAssertEqual(clipGradientNorm([small], maxNorm: 1), 0.5, accuracy: 1e-7)
        XCTAssertEqual(small.values, [0.3, 0.4])
        let large = try Tensor(shape: [2], values: [3, 4])
        clipGradientNorm([large], maxNorm: 1)
        XCTAssertEqual(large[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(large[1], 0.8, accuracy: 1e-6)
    }
}
