import Foundation
import XCTest

/// The built `clipcv` executable, run as a user would.
enum Executable {
    static var url: URL {
        // The test bundle sits in the build products directory beside the executable.
        var directory = Bundle.main.bundleURL
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("clipcv").path), directory.path != "/" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("clipcv")
    }

    struct Result { let status: Int32; let output: String; let errors: String }

    /// Runs `launcher + [clipcv] + arguments` (launcher e.g. mpirun and its flags) and collects its output.
    static func run(_ arguments: [String], launcher: [String] = [], in directory: URL? = nil) throws -> Result {
        let process = Process()
        if launcher.isEmpty {
            process.executableURL = url
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = launcher + [url.path] + arguments
        }
        if let directory { process.currentDirectoryURL = directory }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
                      errors: String(decoding: errorData, as: UTF8.self))
    }

    /// mpirun with what CI needs: root is allowed, and more ranks than cores.
    static func mpirun(ranks: Int) -> [String] {
        ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)"]
    }
}

final class CLITests: XCTestCase {
    func testHelpListsCommands() throws {
        let result = try Executable.run(["--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("bench"))
        XCTAssertTrue(result.output.contains("mpi-check"))
    }

    func testEveryCommandHasHelp() throws {
        let listing = try Executable.run(["--help"]).output
        let names = listing.split(separator: "\n").drop { !$0.hasPrefix("commands:") }.dropFirst()
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let result = try Executable.run([name, "--help"])
            XCTAssertEqual(result.status, 0, name)
            XCTAssertTrue(result.output.hasPrefix("usage: clipcv \(name)"), "\(name): \(result.output)")
        }
    }

    func testUnknownCommandIsAUsageError() throws {
        let result = try Executable.run(["frobnicate"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.errors.hasPrefix("clipcv: unknown command 'frobnicate'\nusage: "), result.errors)
    }

    func testUnknownOptionIsAUsageError() throws {
        let result = try Executable.run(["bench", "gemm", "--frobnicate"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.errors.split(separator: "\n").first, "clipcv: bench: unknown option '--frobnicate'")
        XCTAssertTrue(result.errors.contains("usage: clipcv bench BENCHMARK"))
    }

    func testMissingValueIsAUsageError() throws {
        let result = try Executable.run(["bench", "gemm", "--repeats"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.errors.hasPrefix("clipcv: bench: --repeats needs a value (N)"), result.errors)
    }

    func testMPISelfCheckAllreducesOverTwoRanks() throws {
        let result = try Executable.run(["mpi-check"], launcher: Executable.mpirun(ranks: 2))
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.contains(#""ranks":2"#), result.output)
        XCTAssertTrue(result.output.contains(#""allreduce_sum":3"#), result.output)
        XCTAssertTrue(result.output.contains(#""ok":true"#), result.output)
    }

    func testMPISelfCheckAloneIsAWorldOfOne() throws {
        let result = try Executable.run(["mpi-check"])
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertTrue(result.output.contains(#""ranks":1"#), result.output)
    }
}
