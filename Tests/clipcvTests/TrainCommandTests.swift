import Foundation
import XCTest

/// `clipcv train` and `clipcv predict` end to end against PEFT's training of the same tiny cohort.
final class TrainCommandTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("TrainingTests/Fixtures")
    static let data = fixtures.appendingPathComponent("train_tiny")
    static let classes = ["a CT scan of a tumor that responds to therapy", "a CT scan of a tumor that does not respond to therapy"]
    static let model = ["--model", "../../../CLIPTests/Fixtures/vitb16like", "--tokenizer", "../../../CLIPTests/Fixtures/tokenizer"]

    var output: URL!

    override func setUpWithError() throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: output) }

    func run(_ arguments: [String]) throws -> Executable.Result {
        try Executable.run(arguments, in: Self.data)
    }

    func scores(_ file: URL) throws -> [Double] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").dropFirst().map { Double($0.split(separator: ",")[2])! }
    }

    /// The README's command reproduces PEFT's per-step losses and final scores.
    func testTrainingReproducesPEFT() throws {
        let adapter = output.appendingPathComponent("adapter"), log = output.appendingPathComponent("log.jsonl")
        let trained = try run(["train"] + Self.model + ["--data", "manifest.csv", "--classes"] + Self.classes + [
            "--preprocessed", "--init-adapter", "adapter_initial", "--lora-dropout", "0", "--epochs", "2", "--batch-size", "4",
            "--lr", "0.001", "--weight-decay", "0.01", "--schedule", "constant", "--no-shuffle", "--no-augment",
            "--save-adapter", adapter.path, "--log", log.path])
        XCTAssertEqual(trained.status, 0, trained.errors)
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.data.appendingPathComponent("training_reference.json"))) as! [String: Any]
        let expectedLosses = (reference["losses_before_each_step"] as! [NSNumber]).map(\.doubleValue)
        let logged = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        XCTAssertEqual(logged.map { ($0["step"] as! NSNumber).intValue }, [1, 2, 3, 4])
        XCTAssertEqual(logged.map { ($0["epoch"] as! NSNumber).intValue }, [1, 1, 2, 2])
        for (entry, expected) in zip(logged, expectedLosses) {
            XCTAssertEqual((entry["loss"] as! NSNumber).doubleValue, expected, accuracy: 1e-5)
        }
        let predictions = output.appendingPathComponent("predictions.csv")
        let predicted = try run(["predict"] + Self.model + ["--adapter", adapter.path, "--data", "manifest.csv", "--classes"] + Self.classes +
                                ["--preprocessed", "--output", predictions.path])
        XCTAssertEqual(predicted.status, 0, predicted.errors)
        XCTAssertEqual(try String(contentsOf: predictions, encoding: .utf8).split(separator: "\n").first, "case_id,label,score")
        for (actual, expected) in zip(try scores(predictions), try scores(Self.data.appendingPathComponent("predictions.csv"))) {
            XCTAssertEqual(actual, expected, accuracy: 1e-5)
        }
    }

    /// The adapters whose loading into PEFT scripts/fixturegen/peft_loads_clipcv_adapters.py verified still come out the
    /// same: identical adapter_config.json, tensors and scores.
    func testAdapterFilesStayLoadableByPEFT() throws {
        for (name, placement, targets) in [("same_layers", "lowest:1", "q,v"), ("per_tower", "vision=layers:1,2;text=lowest:1", "q,v,o,fc1")] {
            let committed = Self.fixtures.appendingPathComponent("clipcv_adapters/\(name)")
            let adapter = output.appendingPathComponent(name)
            let trained = try run(["train"] + Self.model + ["--data", "manifest.csv", "--classes"] + Self.classes + [
                "--preprocessed", "--placement", placement, "--lora-targets", targets, "--lora-rank", "4", "--lora-alpha", "8",
                "--epochs", "2", "--batch-size", "4", "--lr", "0.01", "--no-shuffle", "--no-augment", "--seed", "3",
                "--save-adapter", adapter.path])
            XCTAssertEqual(trained.status, 0, trained.errors)
            let config = { (directory: URL) in
                try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("adapter_config.json"))) as! NSDictionary
            }
            XCTAssertEqual(try config(adapter), try config(committed), name)
            let predictions = output.appendingPathComponent("\(name).csv")
            let predicted = try run(["predict"] + Self.model + ["--adapter", adapter.path, "--data", "manifest.csv", "--classes"] + Self.classes +
                                    ["--preprocessed", "--output", predictions.path])
            XCTAssertEqual(predicted.status, 0, predicted.errors)
            for (actual, expected) in zip(try scores(predictions), try scores(committed.appendingPathComponent("predictions.csv"))) {
                XCTAssertEqual(actual, expected, accuracy: 1e-5, name)
            }
        }
    }

    func testBadPlacementShowsTheGrammar() throws {
        let result = try run(["train"] + Self.model + ["--data", "manifest.csv", "--classes"] + Self.classes +
                             ["--preprocessed", "--placement", "middle:3", "--save-adapter", output.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errors, "clipcv: train: bad placement 'middle:3': unknown rule 'middle'; expected none | all | lowest:K | highest:K | layers:i,j,… (both towers), or vision=RULE;text=RULE\n")
    }

    func testPlacementBeyondTheTowerIsRejected() throws {
        let result = try run(["train"] + Self.model + ["--data", "manifest.csv", "--classes"] + Self.classes +
                             ["--preprocessed", "--placement", "lowest:5", "--save-adapter", output.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.errors.hasPrefix("clipcv: train: bad placement 'lowest:5': vision tower has 3 layers, cannot take 5;"), result.errors)
    }

    func testInitAdapterConflictsWithPlacement() throws {
        let result = try run(["train"] + Self.model + ["--data", "manifest.csv", "--classes"] + Self.classes +
                             ["--preprocessed", "--init-adapter", "adapter_initial", "--placement", "all", "--save-adapter", output.path])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.errors.hasPrefix("clipcv: train: --placement conflicts with --init-adapter"), result.errors)
    }
}
