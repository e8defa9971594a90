import BLASCore
import Foundation
import XCTest
@testable import CLIP

final class CheckpointTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try temporaryDirectory("checkpoint") }
    override func tearDownWithError() throws { try FileManager.default.removeItem(at: directory) }

    /// A tiny configuration with different head counts per tower and a non-square-friendly patch ratio.
    static let tinyConfiguration = CLIPConfiguration(
        vision: VisionConfiguration(hiddenSize: 8, layerCount: 2, headCount: 2, intermediateSize: 12, imageSize: 12, patchSize: 4),
        text: TextConfiguration(hiddenSize: 6, layerCount: 1, headCount: 3, intermediateSize: 10, vocabularySize: 20, maxPositions: 7),
        projectionDimension: 5)

    /// Every parameter of `tinyConfiguration` with distinct values, so a mix-up between tensors shows.
    static func tinyParameters() throws -> [(name: String, tensor: Tensor)] {
        var start: Float = 0
        return try tinyConfiguration.parameterShapes.map { name, shape in
            let count = shape.reduce(1, *)
            defer { start += Float(count) }
            return (name, try Tensor(shape: shape, values: (0..<count).map { start + Float($0) }))
        }
    }

    func testSharedFixtureLoads() throws {
        let checkpoint = try Checkpoint(directory: try FixturePaths.sharedTiny0)
        let scale = try checkpoint.tensor("logit_scale", shape: [])
        XCTAssertEqual(scale.values, [1.99584234])
        XCTAssertTrue(scale.isReadOnly, "F32 weights stay in the mapping")
        XCTAssertEqual(checkpoint.configuration.vision.patchSize, 8)
        XCTAssertEqual(checkpoint.storedDTypes, ["F32"])
        XCTAssertEqual(checkpoint.tensorNames.count, checkpoint.configuration.parameterShapes.count)
        XCTAssertEqual(checkpoint.fileSizes.map(\.0), ["config.json", "model.safetensors"])
        XCTAssertEqual(checkpoint.fileSizes.map(\.1), [1121, 6_510_348])
        for (name, shape) in checkpoint.configuration.parameterShapes {
            XCTAssertEqual(try checkpoint.tensor(name, shape: shape).shape, shape)
        }
    }

    func testMissingAndMisshapenTensorsAreNamed() throws {
        let shared = try FixturePaths.sharedTiny0
        let checkpoint = try Checkpoint(directory: shared)
        let file = shared.appendingPathComponent("model.safetensors").path
        XCTAssertThrowsError(try checkpoint.tensor("text_model.encoder.layers.5.mlp.fc1.weight", shape: [64, 32])) {
            XCTAssertEqual("\($0)", "\(file): missing tensor 'text_model.encoder.layers.5.mlp.fc1.weight'")
        }
        XCTAssertThrowsError(try checkpoint.tensor("visual_projection.weight", shape: [32, 16])) {
            XCTAssertEqual("\($0)", "\(file): tensor 'visual_projection.weight' has shape [16, 32], expected [32, 16]")
        }
        XCTAssertThrowsError(try checkpoint.tensor("logit_scale", shape: [1])) {
            XCTAssertEqual("\($0)", "\(file): tensor 'logit_scale' has shape [], expected [1]")
        }
    }

    /// Two shards and an index, as `save_pretrained(max_shard_size=…)` writes them; extra buffers are ignored.
    func testShardedCheckpoint() throws {
        let parameters = try Self.tinyParameters()
        try Self.tinyConfiguration.jsonData().write(to: directory.appendingPathComponent("config.json"))
        let half = parameters.count / 2
        let shards = [("model-00001-of-00002.safetensors", Array(parameters[..<half])),
                      ("model-00002-of-00002.safetensors", Array(parameters[half...]))]
        var weightMap: [String: String] = [:]
        for (shard, tensors) in shards {
            try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent(shard))
            for (name, _) in tensors { weightMap[name] = shard }
        }
        let index = try JSONSerialization.data(withJSONObject: ["metadata": ["total_size": 0], "weight_map": weightMap])
        try index.write(to: directory.appendingPathComponent("model.safetensors.index.json"))

        let checkpoint = try Checkpoint(directory: directory)
        XCTAssertEqual(checkpoint.configuration, Self.tinyConfiguration)
        for (name, tensor) in parameters {
            XCTAssertEqual(try checkpoint.tensor(name, shape: tensor.shape).values, tensor.values, name)
        }
        XCTAssertEqual(checkpoint.tensorNames, parameters.map(\.name).sorted())
        XCTAssertEqual(checkpoint.fileSizes.map(\.0), ["config.json", "model.safetensors.index.json"] + shards.map(\.0))
        XCTAssertEqual(checkpoint.storedDTypes, ["F32"])

        // An index that lists a tensor its shard lacks.
        weightMap["text_model.embeddings.token_embedding.weight"] = shards[0].0
        try JSONSerialization.data(withJSONObject: ["weight_map": weightMap]).write(to: directory.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertThrowsError(try Checkpoint(directory: directory)) {
            XCTAssertEqual("\($0)", "\(directory.appendingPathComponent(shards[0].0).path): missing tensor 'text_model.embeddings.token_embedding.weight' (listed for this shard in model.safetensors.index.json)")
        }
    }

    /// Old exports store `position_ids` (I64) buffers: they are neither used nor counted as a weight dtype.
    func testIgnoredBuffers() throws {
        try Self.tinyConfiguration.jsonData().write(to: directory.appendingPathComponent("config.json"))
        let url = directory.appendingPathComponent("model.safetensors")
        try SafeTensorsWriter.write(try Self.tinyParameters(), metadata: [:], to: url)
        // Append an I64 buffer [1, 7] after the F32 data, as transformers 4.2x exports did.
        let written = try Data(contentsOf: url)
        let headerLength = Int(written.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try XCTUnwrap(JSONSerialization.jsonObject(with: written[8..<(8 + headerLength)]) as? [String: Any])
        let dataLength = written.count - 8 - headerLength
        header["text_model.embeddings.position_ids"] = ["dtype": "I64", "shape": [1, 7], "data_offsets": [dataLength, dataLength + 56]]
        let headerText = String(decoding: try JSONSerialization.data(withJSONObject: header), as: UTF8.self)
        try rawSafeTensors(header: headerText, data: Array(written[(8 + headerLength)...]) + (0..<7).flatMap { withUnsafeBytes(of: Int64($0).littleEndian, Array.init) })
            .write(to: url)

        let checkpoint = try Checkpoint(directory: directory)
        XCTAssertEqual(checkpoint.info("text_model.embeddings.position_ids")?.dtype, "I64")
        XCTAssertEqual(checkpoint.storedDTypes, ["F32"])
        XCTAssertEqual(checkpoint.problems, [])
        let logitScale = try XCTUnwrap(try Self.tinyParameters().last)
        XCTAssertEqual(logitScale.name, "logit_scale")
        XCTAssertEqual(try checkpoint.tensor("logit_scale", shape: []).values, logitScale.tensor.values, "data before the buffer unchanged")
    }

    func testProblemsAgainstTheConfiguration() throws {
        try Self.tinyConfiguration.jsonData().write(to: directory.appendingPathComponent("config.json"))
        var parameters = try Self.tinyParameters().filter { $0.name != "text_model.final_layer_norm.bias" }
        parameters[0] = ("vision_model.embeddings.class_embedding", Tensor(zeros: [9]))
        parameters.append(("extra.weight", Tensor(zeros: [2])))
        try SafeTensorsWriter.write(parameters, metadata: [:], to: directory.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(try Checkpoint(directory: directory).problems, [
            "tensor 'vision_model.embeddings.class_embedding' has shape [9], config.json implies [8]",
            "missing tensor 'text_model.final_layer_norm.bias' (expected shape [6])",
            "unexpected tensor 'extra.weight' (not part of CLIPModel; ignored)",
        ])
    }

    func testMissingWeightsAndConfig() throws {
        XCTAssertThrowsError(try Checkpoint(directory: directory)) {
            XCTAssertEqual("\($0)", "\(directory.appendingPathComponent("config.json").path): cannot read the model configuration (missing)")
        }
        try Self.tinyConfiguration.jsonData().write(to: directory.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try Checkpoint(directory: directory)) {
            XCTAssertEqual("\($0)", "\(directory.path): no model.safetensors or model.safetensors.index.json")
        }
        try Data([0]).write(to: directory.appendingPathComponent("pytorch_model.bin"))
        XCTAssertThrowsError(try Checkpoint(directory: directory)) {
            XCTAssertEqual("\($0)", "\(directory.path): no model.safetensors or model.safetensors.index.json (pytorch_model.bin is not read: save the model with safe_serialization=True)")
        }
    }
}
