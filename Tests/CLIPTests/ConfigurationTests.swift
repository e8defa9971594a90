import Foundation
import XCTest
@testable import CLIP

final class ConfigurationTests: XCTestCase {
    func parse(_ json: String) throws -> CLIPConfiguration {
        try CLIPConfiguration(jsonData: Data(json.utf8), file: "config.json")
    }

    func assertError(_ json: String, _ message: String, line: UInt = #line) {
        XCTAssertThrowsError(try parse(json), line: line) { XCTAssertEqual("\($0)", message, line: line) }
    }

    /// transformers 5 writes `dtype`; the shared fixture's config.json.
    func testTransformers5Config() throws {
        let config = try CLIPConfiguration.load(contentsOf: try FixturePaths.sharedTiny0.appendingPathComponent("config.json"))
        XCTAssertEqual(config.vision, VisionConfiguration(hiddenSize: 32, layerCount: 2, headCount: 2, intermediateSize: 64,
                                                          layerNormEpsilon: 1e-5, activation: .quickGELU,
                                                          imageSize: 24, patchSize: 8, channelCount: 3))
        XCTAssertEqual(config.text, TextConfiguration(hiddenSize: 32, layerCount: 2, headCount: 2, intermediateSize: 64,
                                                      layerNormEpsilon: 1e-5, activation: .quickGELU, vocabularySize: 49408,
                                                      maxPositions: 77, eosTokenID: 49407, bosTokenID: 49406, padTokenID: 1))
        XCTAssertEqual(config.projectionDimension, 16)
        XCTAssertEqual(config.dtype, "float32")
        XCTAssertEqual(config.logitScaleInitValue, 2.6592)
        XCTAssertEqual(config.vision.tokenCount, 10)
    }

    /// transformers 4.x: `torch_dtype`, null `*_config_dict`, early exports' eos 2 / bos 0, list-valued sizes.
    func testTransformers4Config() throws {
        let config = try parse("""
        {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 512, "torch_dtype": "float16",
         "text_config_dict": null, "vision_config_dict": null, "transformers_version": null,
         "text_config": {"hidden_size": 512, "eos_token_id": 2, "bos_token_id": 0, "hidden_act": "gelu",
                         "layer_norm_eps": 1e-06, "pad_token_id": null, "num_attention_heads": 8},
         "vision_config": {"image_size": [336, 336], "patch_size": 14, "hidden_size": 1024, "num_attention_heads": 16,
                           "num_hidden_layers": 24, "intermediate_size": 4096}}
        """)
        XCTAssertEqual(config.dtype, "float16")
        XCTAssertEqual(config.text.eosTokenID, 2)
        XCTAssertEqual(config.text.bosTokenID, 0)
        XCTAssertEqual(config.text.padTokenID, 1, "null takes the default")
        XCTAssertEqual(config.text.activation, .gelu)
        XCTAssertEqual(config.text.layerNormEpsilon, 1e-6)
        XCTAssertEqual(config.vision.imageSize, 336)
        XCTAssertEqual(config.vision.patchSize, 14)
        XCTAssertEqual(config.vision.tokenCount, 577)
        XCTAssertEqual(config.vision.layerCount, 24)
    }

    /// Absent keys take transformers' CLIPTextConfig / CLIPVisionConfig / CLIPConfig defaults (ViT-B/32).
    func testDefaults() throws {
        let config = try parse("{}")
        XCTAssertEqual(config, CLIPConfiguration())
        XCTAssertEqual(config.vision, VisionConfiguration(hiddenSize: 768, layerCount: 12, headCount: 12, intermediateSize: 3072,
                                                          layerNormEpsilon: 1e-5, activation: .quickGELU,
                                                          imageSize: 224, patchSize: 32, channelCount: 3))
        XCTAssertEqual(config.text, TextConfiguration(hiddenSize: 512, layerCount: 12, headCount: 8, intermediateSize: 2048,
                                                      layerNormEpsilon: 1e-5, activation: .quickGELU, vocabularySize: 49408,
                                                      maxPositions: 77, eosTokenID: 49407, bosTokenID: 49406, padTokenID: 1))
        XCTAssertEqual(config.projectionDimension, 512)
        XCTAssertEqual(config.dtype, "float32")
        XCTAssertEqual(config.logitScaleInitValue, 2.6592)
    }

    /// As in transformers, a non-null `text_config_dict` replaces `text_config` (absent keys → defaults).
    func testConfigDictReplacesConfig() throws {
        let config = try parse(#"{"text_config": {"hidden_size": 64, "num_attention_heads": 4}, "text_config_dict": {"hidden_size": 768, "num_attention_heads": 12}}"#)
        XCTAssertEqual(config.text.hiddenSize, 768)
        XCTAssertEqual(config.text.headCount, 12)
    }

    func testErrorsNameTheKey() {
        assertError(#"{"vision_config": {"hidden_act": "gelu_pytorch_tanh"}}"#,
                    "config.json: vision_config.hidden_act 'gelu_pytorch_tanh' is not supported (supported: quick_gelu, gelu)")
        assertError(#"{"text_config": {"hidden_size": 100, "num_attention_heads": 8}}"#,
                    "config.json: text_config.hidden_size 100 is not a multiple of num_attention_heads 8")
        assertError(#"{"text_config": {"num_hidden_layers": "twelve"}}"#, "config.json: text_config.num_hidden_layers must be an integer, found twelve")
        assertError(#"{"vision_config": {"patch_size": 0}}"#, "config.json: vision_config.patch_size must be a positive integer, found 0")
        assertError(#"{"vision_config": {"image_size": [224, 200]}}"#,
                    "config.json: vision_config.image_size must be a positive integer or a square [n, n] pair, found [224, 200]")
        assertError(#"{"text_config": [1, 2]}"#, "config.json: text_config must be an object, found [1, 2]")
        assertError(#"{"model_type": "siglip"}"#, "config.json: model_type 'siglip' is not a CLIPModel (expected 'clip')")
        assertError("[1, 2]", "config.json: not a JSON object")
        assertError("{\"projection_dim\": ", "config.json: not a JSON object")
    }

    func testMissingFile() {
        let url = URL(fileURLWithPath: "/nonexistent/clipcv/config.json")
        XCTAssertThrowsError(try CLIPConfiguration.load(contentsOf: url)) {
            XCTAssertEqual("\($0)", "/nonexistent/clipcv/config.json: cannot read the model configuration (missing)")
        }
    }

    /// jsonData() writes what transformers 5 writes (the fixture's config.json, bar `transformers_version`),
    /// and reads back to the same configuration.
    func testJSONDataRoundTripsAndMatchesTransformers() throws {
        let url = try FixturePaths.sharedTiny0.appendingPathComponent("config.json")
        let config = try CLIPConfiguration.load(contentsOf: url)
        let written = try config.jsonData()
        XCTAssertEqual(try CLIPConfiguration(jsonData: written), config)
        var original = try FixturePaths.json(url)
        original["transformers_version"] = nil
        let rewritten = try XCTUnwrap(JSONSerialization.jsonObject(with: written) as? [String: Any])
        XCTAssertEqual(NSDictionary(dictionary: rewritten), NSDictionary(dictionary: original))

        var custom = CLIPConfiguration()
        custom.vision.activation = .gelu
        custom.text.layerNormEpsilon = 1e-6
        custom.dtype = "bfloat16"
        custom.logitScaleInitValue = 4.6052
        XCTAssertEqual(try CLIPConfiguration(jsonData: custom.jsonData()), custom)
    }

    /// ViT-B/32 (the defaults), as counted from transformers' `CLIPModel(CLIPConfig()).state_dict()`.
    func testParameterCountsOfViTB32() {
        let counts = CLIPConfiguration().parameterCounts
        XCTAssertEqual(counts.vision, 87_456_000)
        XCTAssertEqual(counts.text, 63_165_952)
        XCTAssertEqual(counts.projections, 655_360)
        XCTAssertEqual(counts.logitScale, 1)
    }

    func testParameterShapesMatchTransformersStateDict() throws {
        let shared = try FixturePaths.sharedTiny0
        let config = try CLIPConfiguration.load(contentsOf: shared.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(contentsOf: shared.appendingPathComponent("model.safetensors"))
        let expected = config.parameterShapes
        XCTAssertEqual(expected.map(\.name).sorted(), file.names)
        for (name, shape) in expected { XCTAssertEqual(file.info(name)?.shape, shape, name) }
    }
}
