import XCTest
@testable import Sweep

final class SweepConfigurationTests: XCTestCase {
    private let paper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/sweeps/paper.json")

    func testPaperProtocolPlansTheStudy() throws {
        let plan = try SweepConfiguration(contentsOf: paper).plan(cohortHash: "c", checkpointHash: "k")
        XCTAssertEqual(plan.placements, (1...12).map { "lowest:\($0)" } + (1...12).map { "highest:\($0)" } + ["all"])
        XCTAssertEqual(plan.folds, 5)
        XCTAssertEqual(plan.repetitions, 1)
        XCTAssertEqual(plan.jobs.count, 27 * 5)
        XCTAssertEqual(plan.notes["model"], "clip-vit-base-patch32")
        // Every other key is a `clipcv train` flag.
        XCTAssertEqual(Set(plan.settings.keys), ["lora-rank", "lora-alpha", "lora-dropout", "lora-targets", "epochs", "batch-size",
                                                  "lr", "weight-decay", "schedule", "warmup-steps", "class-weights", "logit-scale"])
        XCTAssertEqual(plan.settings["lr"], .number(2e-4))
    }

    func testFlagsOverrideTheFileAndMeanTheSame() throws {
        let file = try SweepConfiguration(contentsOf: paper)
        let flags: [String: JSONValue] = ["lr": JSONValue(flagValue: "2e-4"), "folds": JSONValue(flagValue: "3"),
                                          "data": JSONValue(flagValue: "cohort/manifest.csv"),
                                          "placements": .array([.string("all"), .string("layers:0,2,5")])]
        let plan = try file.merging(flags).plan(cohortHash: "c", checkpointHash: "k")
        XCTAssertEqual(plan.folds, 3)
        XCTAssertEqual(plan.placements, ["all", "layers:0,2,5"])
        XCTAssertEqual(plan.notes["data"], "cohort/manifest.csv")
        XCTAssertNil(plan.settings["data"])
        // The same value from a flag and from the file: nothing to refuse on resume.
        let fromFile = try file.plan(cohortHash: "c", checkpointHash: "k")
        XCTAssertEqual(plan.settings, fromFile.settings)
    }

    func testFlagValuesAreTyped() {
        XCTAssertEqual(JSONValue(flagValue: "30"), .number(30))
        XCTAssertEqual(JSONValue(flagValue: "-0.5"), .number(-0.5))
        XCTAssertEqual(JSONValue(flagValue: "true"), .bool(true))
        XCTAssertEqual(JSONValue(flagValue: "q,v"), .string("q,v"))
        XCTAssertEqual(JSONValue(flagValue: "cosine"), .string("cosine"))
        XCTAssertEqual(JSONValue(flagValue: "nan"), .string("nan"))
        XCTAssertEqual(JSONValue(flagValue: "inf"), .string("inf"))
    }

    func testBadConfigurationsNameTheKey() throws {
        XCTAssertThrowsError(try SweepConfiguration(["folds": .number(5)]).plan(cohortHash: "c", checkpointHash: "k")) {
            XCTAssertEqual("\($0)", "invalid sweep: no placements given (config key or flag 'placements')")
        }
        XCTAssertThrowsError(try SweepConfiguration(["placements": .string("all"), "folds": .string("five")]).plan(cohortHash: "c", checkpointHash: "k")) {
            XCTAssertEqual("\($0)", #"invalid sweep: 'folds' must be a whole number ≥ 0, got "five""#)
        }
        XCTAssertThrowsError(try SweepConfiguration(["placements": .array([.number(1)]), "folds": .number(5)]).plan(cohortHash: "c", checkpointHash: "k"))
        let notJSON = temporaryDirectory().appendingPathExtension("json")
        try Data("{lr: 1}".utf8).write(to: notJSON)
        XCTAssertThrowsError(try SweepConfiguration(contentsOf: notJSON)) { XCTAssertEqual("\($0)", "\(notJSON.path): not valid JSON") }
    }
}
