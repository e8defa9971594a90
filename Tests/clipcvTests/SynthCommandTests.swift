import Foundation
import XCTest

final class SynthCommandTests: XCTestCase {
    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-synth-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    func synth(_ directory: URL, seed: Int, extra: [String] = []) throws -> Executable.Result {
        try Executable.run(["synth", "--out", directory.path, "--cases", "6", "--responders", "4", "--size", "32",
                            "--slices", "3", "--seed", "\(seed)"] + extra)
    }

    func testHelpSaysTheDataAreSynthetic() throws {
        let result = try Executable.run(["synth", "--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.output.hasPrefix("usage: clipcv synth --out DIR"), result.output)
        XCTAssertTrue(result.output.contains("SYNTHETIC"))
        XCTAssertTrue(result.output.contains("The data are synthetic"))
        XCTAssertTrue(result.output.contains("Label 1 = responder"))
    }

    func testSameSeedWritesByteIdenticalCohorts() throws {
        let first = try temporaryDirectory(), second = try temporaryDirectory(), other = try temporaryDirectory()
        let result = try synth(first, seed: 9)
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.contains(#""synthetic":true"#), result.output)
        XCTAssertTrue(result.output.contains(#""responders":4"#), result.output)
        XCTAssertEqual(try synth(second, seed: 9).status, 0)
        XCTAssertEqual(try synth(other, seed: 10).status, 0)

        let files = try FileManager.default.subpathsOfDirectory(atPath: first.path).sorted()
        XCTAssertEqual(files.count, 2 + 6 * 4 + 3)  // folders, 4 files per case, 2 manifests and README
        var differences = 0
        for file in files where file != "png" && file != "nifti" {
            let bytes = try Data(contentsOf: first.appendingPathComponent(file))
            XCTAssertEqual(bytes, try Data(contentsOf: second.appendingPathComponent(file)), file)
            if bytes != (try Data(contentsOf: other.appendingPathComponent(file))) { differences += 1 }
        }
        XCTAssertGreaterThanOrEqual(differences, 6 * 4, "another seed gives other images")

        let manifest = try String(contentsOf: first.appendingPathComponent("manifest.csv"), encoding: .utf8)
            .split(separator: "\n")
        XCTAssertEqual(manifest.count, 7)
        XCTAssertEqual(manifest.dropFirst().filter { $0.split(separator: ",")[1] == "1" }.count, 4)
    }

    func testPreviewIsWritten() throws {
        let directory = try temporaryDirectory()
        let preview = directory.appendingPathComponent("preview.png")
        XCTAssertEqual(try synth(directory, seed: 1, extra: ["--preview", preview.path]).status, 0)
        let bytes = try Data(contentsOf: preview)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: width 2 × 32, height 32, 8-bit gray.
        XCTAssertEqual(Array(bytes[16..<26]), [0, 0, 0, 64, 0, 0, 0, 32, 8, 0])
    }

    func testImpossibleCohortIsAUsageError() throws {
        let directory = try temporaryDirectory()
        let result = try Executable.run(["synth", "--out", directory.path, "--cases", "6", "--responders", "7"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.errors.hasPrefix("clipcv: synth: phantom: responders must lie between 0 and the number of cases (6), got 7\n"),
                      result.errors)
    }
}
