import Foundation
import XCTest

/// `clipcv folds` run as a user would.
final class FoldsCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-folds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: directory.appendingPathComponent("case.png"))
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(at: directory) }

    /// A manifest of `labels` (written as given: numbers or class names) whose images all point at one file.
    func manifest(_ labels: [String]) throws -> String {
        let rows = labels.enumerated().map { "P\($0.offset),\"\($0.element)\",case.png" }
        let url = directory.appendingPathComponent("manifest.csv")
        try Data((["case_id,label,image"] + rows).joined(separator: "\n").utf8).write(to: url)
        return url.path
    }

    /// The rows of a folds CSV as (case_id, label, repeat, fold).
    func rows(_ path: String) throws -> [(id: String, label: Int, repeat: Int, fold: Int)] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "case_id,label,repeat,fold")
        return lines.dropFirst().map { line in
            let fields = line.split(separator: ",").map(String.init)
            return (fields[0], Int(fields[1])!, Int(fields[2])!, Int(fields[3])!)
        }
    }

    func testWritesStratifiedRepeatedFoldsAndAFoldSummary() throws {
        let labels = (0..<37).map { $0 % 3 == 0 ? "0" : "1" }  // 13 of class 0, 24 of class 1
        let data = try manifest(labels)
        let output = directory.appendingPathComponent("folds.csv").path
        let arguments = ["folds", "--data", data, "--folds", "4", "--repeats", "2", "--seed", "11", "--output", output]
        let result = try Executable.run(arguments)
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(result.output, "", "progress goes to stderr only")

        let table = try rows(output)
        XCTAssertEqual(table.count, 37 * 2)
        for r in 0..<2 {
            let inRepeat = table.filter { $0.repeat == r }
            XCTAssertEqual(inRepeat.map(\.id), (0..<37).map { "P\($0)" }, "every case exactly once per repeat, manifest order")
            XCTAssertEqual(inRepeat.map(\.label), labels.map { Int($0)! })
            for fold in 0..<4 {
                for (label, total) in [(0, 13), (1, 24)] {
                    let count = inRepeat.filter { $0.fold == fold && $0.label == label }.count
                    XCTAssertLessThan(abs(Double(count) - Double(total) / 4), 1, "repeat \(r) fold \(fold) class \(label)")
                }
            }
        }
        XCTAssertNotEqual(table.filter { $0.repeat == 0 }.map(\.fold), table.filter { $0.repeat == 1 }.map(\.fold))

        let summary = result.errors.split(separator: "\n").filter { $0.hasPrefix("folds: repeat ") }.map(String.init)
        let expected = (0..<2).flatMap { r in
            (0..<4).map { fold in
                let test = table.filter { $0.repeat == r && $0.fold == fold }
                let zeros = test.filter { $0.label == 0 }.count
                return "folds: repeat \(r) fold \(fold): \(test.count) test (class 0: \(zeros), class 1: \(test.count - zeros)), \(37 - test.count) train"
            }
        }
        XCTAssertEqual(summary, expected)

        // Same seed, same file; another seed, other folds.
        let again = directory.appendingPathComponent("again.csv").path
        XCTAssertEqual(try Executable.run(arguments.dropLast() + [again]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: again)), try Data(contentsOf: URL(fileURLWithPath: output)))
        let other = directory.appendingPathComponent("other.csv").path
        XCTAssertEqual(try Executable.run(["folds", "--data", data, "--folds", "4", "--repeats", "2", "--seed", "12", "--output", other]).status, 0)
        XCTAssertNotEqual(try rows(other).map(\.fold), table.map(\.fold))
    }

    func testClassNamesMapByTheClassesOrder() throws {
        let data = try manifest(["a CT of a responder", "a CT of a non-responder", "a CT of a responder", "a CT of a non-responder"])
        let output = directory.appendingPathComponent("folds.csv").path
        let result = try Executable.run(["folds", "--data", data, "--folds", "2", "--seed", "1", "--output", output,
                                         "--classes", "a CT of a non-responder", "a CT of a responder"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(try rows(output).map(\.label), [1, 0, 1, 0])
    }

    func testTooFewCasesOfAClassIsAOneLineError() throws {
        let data = try manifest(["0", "0", "0", "0", "1", "1"])
        let result = try Executable.run(["folds", "--data", data, "--folds", "3", "--seed", "1",
                                         "--output", directory.appendingPathComponent("f.csv").path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errors, "clipcv: folds: \(data): cannot make 3 stratified folds: class 1 has only 2 cases (class 0: 4, class 1: 2)\n")
    }

    func testBadManifestAndBadArguments() throws {
        let data = try manifest(["0", "1", "maybe"])
        let output = directory.appendingPathComponent("f.csv").path
        let unknown = try Executable.run(["folds", "--data", data, "--folds", "2", "--seed", "1", "--output", output])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.errors.hasPrefix("clipcv: folds: \(data), row 3 (line 4): unknown label 'maybe'"), unknown.errors)

        let one = try Executable.run(["folds", "--data", data, "--folds", "1", "--seed", "1", "--output", output])
        XCTAssertEqual(one.status, 2)
        XCTAssertTrue(one.errors.hasPrefix("clipcv: folds: --folds must be at least 2\nusage: clipcv folds"), one.errors)
        let seed = try Executable.run(["folds", "--data", data, "--folds", "2", "--seed", "-3", "--output", output])
        XCTAssertEqual(seed.status, 2)
        XCTAssertTrue(seed.errors.hasPrefix("clipcv: folds: --seed must be an integer ≥ 0"), seed.errors)
        let missing = try Executable.run(["folds", "--data", data, "--folds", "2", "--output", output])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.errors.hasPrefix("clipcv: folds: missing required option --seed"), missing.errors)
    }
}
