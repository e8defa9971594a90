import Foundation
import XCTest

/// `clipcv sweep` under real mpirun: rank-count independence, kill -9 and resume, failing jobs, the report.
final class SweepCommandTests: XCTestCase {
    static let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-sweep-tests-\(getpid())")
    static let cohort = workspace.appendingPathComponent("demo/cohort/manifest.csv")
    static let model = workspace.appendingPathComponent("demo/model-demo")

    /// A tiny demo cohort and random-weight model, made once by `clipcv demo` itself (one short sweep).
    override class func setUp() {
        super.setUp()
        try? FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        let result = try! Executable.run(["demo", "--out", workspace.appendingPathComponent("demo").path, "--cases", "20", "--responders", "12",
                                          "--placements", "highest:1", "--folds", "2", "--epochs", "1"])
        precondition(result.status == 0, "demo failed: \(result.errors)")
    }

    override class func tearDown() {
        try? FileManager.default.removeItem(at: workspace)
        super.tearDown()
    }

    func sweepArguments(out: URL, epochs: Int = 2, lr: String = "0.002") -> [String] {
        ["sweep", "--model", Self.model.path, "--data", Self.cohort.path, "--classes", "responds", "does not respond",
         "--placements", "lowest:1", "highest:2", "vision=all;text=none", "--folds", "3", "--repeats", "2", "--epochs", "\(epochs)",
         "--batch-size", "8", "--lr", lr, "--lora-rank", "2", "--seed", "7", "--out", out.path]
    }

    func file(_ run: URL, _ name: String) throws -> String { try String(contentsOf: run.appendingPathComponent(name), encoding: .utf8) }

    func testPredictionsDoNotDependOnTheNumberOfRanks() throws {
        let alone = Self.workspace.appendingPathComponent("np1"), three = Self.workspace.appendingPathComponent("np3")
        let first = try Executable.run(sweepArguments(out: alone), launcher: Executable.mpirun(ranks: 1))
        XCTAssertEqual(first.status, 0, first.errors)
        let second = try Executable.run(sweepArguments(out: three), launcher: Executable.mpirun(ranks: 3))
        XCTAssertEqual(second.status, 0, second.errors)
        XCTAssertEqual(try file(alone, "predictions.csv"), try file(three, "predictions.csv"))
        XCTAssertEqual(try file(alone, "metrics.csv"), try file(three, "metrics.csv"))
        // 3 placements + 2 baselines, 3 folds × 2 repeats, 20 cases scored once per repeat.
        XCTAssertEqual(try file(alone, "predictions.csv").split(separator: "\n").count, 1 + 5 * 2 * 20)
        XCTAssertTrue(second.output.contains("| linear-probe (baseline) |"), second.output)
        for name in ["plan.json", "results.jsonl", "report.md", "report.json", "roc.svg", "auc_by_placement.svg"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: three.appendingPathComponent(name).path), name)
        }
        // `clipcv report` rebuilds the same files from results.jsonl alone.
        let predictions = try file(three, "predictions.csv"), metrics = try file(three, "metrics.csv")
        for name in ["predictions.csv", "metrics.csv", "report.md"] { try FileManager.default.removeItem(at: three.appendingPathComponent(name)) }
        let rebuilt = try Executable.run(["report", three.path])
        XCTAssertEqual(rebuilt.status, 0, rebuilt.errors)
        XCTAssertEqual(try file(three, "predictions.csv"), predictions)
        XCTAssertEqual(try file(three, "metrics.csv"), metrics)
        XCTAssertTrue(rebuilt.output.contains("| zero-shot (baseline) |"), rebuilt.output)
    }

    /// kill -9 of the whole MPI job in the middle, then --resume: the same predictions and metrics as a run never killed.
    func testKilledRunResumesToTheSameResult() throws {
        let reference = Self.workspace.appendingPathComponent("uninterrupted"), killed = Self.workspace.appendingPathComponent("killed")
        let uninterrupted = try Executable.run(sweepArguments(out: reference, epochs: 15), launcher: Executable.mpirun(ranks: 2))
        XCTAssertEqual(uninterrupted.status, 0, uninterrupted.errors)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")  // env execs mpirun: the same pid
        process.arguments = Executable.mpirun(ranks: 2) + [Executable.url.path] + sweepArguments(out: killed, epochs: 15)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let results = killed.appendingPathComponent("results.jsonl")
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let lines = (try? String(contentsOf: results, encoding: .utf8))?.split(separator: "\n").count ?? 0
            if lines >= 4 { break }
            usleep(20_000)
        }
        // SIGKILL to mpirun and its ranks at the same moment, as a node failure or `scancel -s KILL` would.
        for pid in [process.processIdentifier] + Self.children(of: process.processIdentifier) { kill(pid, SIGKILL) }
        process.waitUntilExit()
        let finishedBeforeKill = try file(killed, "results.jsonl").split(separator: "\n").count
        XCTAssertGreaterThanOrEqual(finishedBeforeKill, 4)
        XCTAssertLessThan(finishedBeforeKill, 30, "the run finished before it could be killed")

        let resumed = try Executable.run(sweepArguments(out: killed, epochs: 15) + ["--resume"], launcher: Executable.mpirun(ranks: 2))
        XCTAssertEqual(resumed.status, 0, resumed.errors)
        XCTAssertEqual(try file(killed, "predictions.csv"), try file(reference, "predictions.csv"))
        XCTAssertEqual(try file(killed, "metrics.csv"), try file(reference, "metrics.csv"))
    }

    /// Processes whose parent is `pid`, from /proc.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }
    }

    func testResumeRefusesADifferentPlan() throws {
        let run = Self.workspace.appendingPathComponent("changed")
        XCTAssertEqual(try Executable.run(sweepArguments(out: run, epochs: 1)).status, 0)
        let changed = try Executable.run(sweepArguments(out: run, epochs: 1, lr: "0.01") + ["--resume"])
        XCTAssertEqual(changed.status, 1)
        XCTAssertTrue(changed.errors.contains("cannot resume:") && changed.errors.contains("lr"), changed.errors)
    }

    /// A diverging learning rate makes every fine-tuning job fail with a NaN loss; the baselines still finish and are
    /// reported, the failures are recorded with their error, and the exit status says the sweep is incomplete.
    func testFailedJobsAreRecordedAndTheRestFinishes() throws {
        let run = Self.workspace.appendingPathComponent("failing")
        let result = try Executable.run(sweepArguments(out: run, epochs: 2, lr: "1e30"), launcher: Executable.mpirun(ranks: 2))
        XCTAssertEqual(result.status, 1)
        let records = try file(run, "results.jsonl").split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let failed = records.filter { $0["status"] as? String == "failed" }
        XCTAssertEqual(failed.count, 3 * 3 * 2)
        XCTAssertTrue(failed.allSatisfy { ($0["error"] as? String)?.contains("loss became") == true }, "\(failed.first ?? [:])")
        XCTAssertEqual(records.filter { $0["status"] as? String == "ok" }.count, 2 * 3 * 2)
        XCTAssertTrue(try file(run, "report.md").contains("| zero-shot (baseline) | 6/6 |"))
        XCTAssertTrue(result.errors.contains("failed"), result.errors)
    }
}
