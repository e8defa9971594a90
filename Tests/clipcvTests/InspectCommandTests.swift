import Foundation
import XCTest

final class InspectCommandTests: XCTestCase {
    /// `<repo root>/../shared/fixtures/hf-clip-tiny0`, or the nearest ancestor's `shared/` (git worktrees sit deeper).
    static var sharedTiny0: URL {
        get throws {
            var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            while directory.path != "/" {
                directory.deleteLastPathComponent()
                let candidate = directory.appendingPathComponent("shared/fixtures/hf-clip-tiny0")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("config.json").path) { return candidate }
            }
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "shared/fixtures/hf-clip-tiny0 not found beside the repository root"])
        }
    }

    var directory: URL!
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-inspect-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try FileManager.default.removeItem(at: directory) }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testSharedFixture() throws {
        let model = try Self.sharedTiny0.path
        let result = try Executable.run(["inspect", "--model", model])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.contains("vision      2 layers, width 32, 2 heads, MLP 64 (quick_gelu), 24×24×3 images in 8×8 patches → 10 tokens"), result.output)
        XCTAssertTrue(result.output.contains("  total         1,625,409"), result.output)
        XCTAssertTrue(result.output.contains("problems    none"), result.output)

        let report = try json(try Executable.run(["inspect", "--model", model, "--json"]).output)
        let parameters = try XCTUnwrap(report["parameters"] as? [String: Int])
        // Counted from the safetensors file with Python.
        XCTAssertEqual(parameters, ["vision": 23_712, "text": 1_600_672, "projections": 1_024, "logit_scale": 1, "total": 1_625_409])
        XCTAssertEqual(report["stored_dtypes"] as? [String], ["F32"])
        XCTAssertEqual(report["config_dtype"] as? String, "float32")
        XCTAssertEqual((report["problems"] as? [String])?.count, 0)
        let architecture = try XCTUnwrap(report["architecture"] as? [String: Any])
        XCTAssertEqual(architecture["logit_scale"] as? Double ?? 0, 1.99584234, accuracy: 1e-6)
        let text = try XCTUnwrap(architecture["text"] as? [String: Any])
        XCTAssertEqual(text["pooling"] as? String, "first_eos")
        let files = try XCTUnwrap(report["files"] as? [[String: Any]])
        XCTAssertEqual(files.compactMap { $0["name"] as? String }, ["config.json", "model.safetensors", "vocab.json", "merges.txt"])
        XCTAssertEqual(files[1]["bytes"] as? Int, 6_510_348)
    }

    /// A config.json that disagrees with the weights (one more vision layer, another projection size) and no
    /// tokenizer: every problem is listed and the exit status is 1.
    func testProblemsAreListed() throws {
        let shared = try Self.sharedTiny0
        var config = try json(String(contentsOf: shared.appendingPathComponent("config.json"), encoding: .utf8))
        var vision = try XCTUnwrap(config["vision_config"] as? [String: Any])
        vision["num_hidden_layers"] = 3
        config["vision_config"] = vision
        config["projection_dim"] = 8
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("config.json"))
        try FileManager.default.createSymbolicLink(at: directory.appendingPathComponent("model.safetensors"),
                                                   withDestinationURL: shared.appendingPathComponent("model.safetensors"))

        let result = try Executable.run(["inspect", "--model", directory.path, "--json"])
        XCTAssertEqual(result.status, 1)
        let problems = try XCTUnwrap(try json(result.output)["problems"] as? [String])
        XCTAssertEqual(problems.filter { $0.hasPrefix("missing tensor 'vision_model.encoder.layers.2.") }.count, 16)
        XCTAssertTrue(problems.contains("missing tensor 'vision_model.encoder.layers.2.mlp.fc1.weight' (expected shape [64, 32])"))
        XCTAssertTrue(problems.contains("tensor 'visual_projection.weight' has shape [16, 32], config.json implies [8, 32]"))
        XCTAssertTrue(problems.contains("tensor 'text_projection.weight' has shape [16, 32], config.json implies [8, 32]"))
        XCTAssertTrue(problems.contains("tokenizer: \(directory.appendingPathComponent("vocab.json").path): missing"), "\(problems)")
        XCTAssertEqual(problems.count, 19)

        let text = try Executable.run(["inspect", "--model", directory.path])
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.output.contains("problems    19\n  missing tensor 'vision_model.encoder.layers.2.layer_norm1.weight' (expected shape [32])"), text.output)
    }

    func testUnreadableDirectoryIsAOneLineError() throws {
        let result = try Executable.run(["inspect", "--model", directory.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errors, "clipcv: inspect: \(directory.appendingPathComponent("config.json").path): cannot read the model configuration (missing)\n")
    }
}
