import BLASCore
import Foundation
import TestSupport
import XCTest
@testable import CLIP

/// The towers are the same function as transformers' CLIPModel: reference outputs within 1e-4 relative.
final class ForwardParityTests: XCTestCase {
    static let tolerance = 1e-4

    /// Checks every reference output of one fixture directory; returns the worst relative error per output.
    @discardableResult
    func checkForward(_ directory: URL) throws -> [String: Double] {
        let fixture = try ReferenceFixture(directory: directory)
        let model = try CLIPModel(checkpoint: try Checkpoint(directory: directory))
        let pixels = try fixture.tensor("pixel_values")
        let ids = (fixture.value("input_ids") as! [[NSNumber]]).map { $0.map(\.intValue) }
        var none: SeededGenerator? = nil
        let imageEmbeds = try model.vision.forward(pixels: pixels, dropout: &none)
        let imagePooled = try model.vision.lastPooled(batch: pixels.shape[0]).values
        let textEmbeds = try model.text.forward(tokenIDs: ids, dropout: &none)
        let outputs = try EmbeddingOutputs(imageEmbeds: imageEmbeds, textEmbeds: textEmbeds, logitScale: model.logitScale)
        XCTAssertEqual(ids.map(model.text.poolIndex), (fixture.value("eot_index") as! [NSNumber]).map(\.intValue))
        var errors: [String: Double] = [:]
        let checks: [(String, [Float])] = [
            ("image_pooled", imagePooled), ("image_embeds", imageEmbeds.values),
            ("image_embeds_normalized", outputs.imageEmbedsNormalized.values),
            ("text_pooled", model.text.lastPooled.values), ("text_embeds", textEmbeds.values),
            ("text_embeds_normalized", outputs.textEmbedsNormalized.values),
            ("logits_per_image", outputs.logitsPerImage.values),
        ]
        for (key, actual) in checks {
            let error = relativeError(actual, fixture.array(key).values)
            errors[key] = error
            XCTAssertLessThanOrEqual(error, Self.tolerance, "\(directory.lastPathComponent) \(key)")
        }
        print("forward parity \(directory.lastPathComponent): \(errors.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.2e", $0.value))" }.joined(separator: ", "))")
        return errors
    }

    func testSharedTinyFixture() throws {
        try checkForward(ReferenceFixture.sharedTiny)
    }

    /// ViT-B/16-like patch/image ratio, different widths and heads per tower, F16 weights, a truncated prompt.
    func testViTB16LikeFixture() throws {
        try checkForward(ReferenceFixture.testsDirectory.appendingPathComponent("CLIPTests/Fixtures/vitb16like"))
    }

    /// Exact GELU, per-tower layer-norm eps, transformers 4.x config spelling and the legacy argmax pooling (eos id 2).
    func testGELUArgmaxFixture() throws {
        try checkForward(ReferenceFixture.testsDirectory.appendingPathComponent("CLIPTests/Fixtures/gelu_argmax"))
    }

    /// Layer by layer for image 0 and prompt 0, so a failure points at the layer that differs.
    func testSharedTinyLayerTraces() throws {
        let fixture = try ReferenceFixture(directory: ReferenceFixture.sharedTiny)
        let model = try CLIPModel(checkpoint: try Checkpoint(directory: ReferenceFixture.sharedTiny))
        let pixels = try fixture.tensor("pixel_values").rows(0..<1)
        let input = try model.vision.encoderInput(pixels: pixels)
        XCTAssertLessThanOrEqual(relativeError(input.values, fixture.array("trace.vision_image0.encoder_input").values), Self.tolerance)
        let layerOutputs = fixture.value("trace.vision_image0.layer_outputs") as! [Any]
        for layer in 0..<layerOutputs.count {
            let prefix = try model.vision.encoder.forwardPrefix(try model.vision.encoderInput(pixels: pixels), layerCount: layer + 1)
            // The last layer computes the class token alone (all the pooling reads): compare that row.
            let expected = ReferenceFixture.flatten(layerOutputs[layer]).values
            if layer == layerOutputs.count - 1 { XCTAssertEqual(prefix.shape, [1, 1, model.configuration.vision.hiddenSize]) }
            XCTAssertLessThanOrEqual(relativeError(prefix.values, Array(expected.prefix(prefix.count))), Self.tolerance, "vision layer \(layer)")
        }
    }
}
