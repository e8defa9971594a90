import XCTest
@testable import Sweep

final class RunDirectoryTests: XCTestCase {
    private func record(_ job: SweepJob, failed: Bool = false) -> JobRecord {
        JobRecord(job: job, status: failed ? .failed : .ok,
                  outcome: failed ? nil : JobOutcome(scores: [CaseScore(caseID: "a,\"b\"", label: 1, score: 0.1 + 0.2),
                                                            CaseScore(caseID: "c", label: 0, score: 1e-300)],
                                                     epochLosses: [0.6931471805599453, .leastNonzeroMagnitude]),
                  error: failed ? "loss of epoch 2 is nan" : nil, seconds: 1.5, peakResidentMegabytes: 812.25, rank: 2)
    }

    func testAppendedRecordsReadBackExactly() throws {
        let url = temporaryDirectory()
        let plan = try makePlan()
        let directory = try RunDirectory(url: url, plan: plan, resume: false)
        let records = [record(plan.jobs[0]), record(plan.jobs[3], failed: true)]
        for item in records { try directory.append(item) }
        XCTAssertEqual(try RunDirectory.readRecords(in: url, plan: plan), records)
        XCTAssertEqual(try RunDirectory.readPlan(in: url), plan)

        let lines = try String(contentsOf: url.appendingPathComponent("results.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix(#"{"epoch_losses":[0.6931471805599453,5e-324],"fold":0,"id":"lowest:2|r0|f0","index":0,"#), String(lines[0]))
        XCTAssertTrue(lines[1].contains(#""error":"loss of epoch 2 is nan""#))
        XCTAssertTrue(lines[1].contains(#""status":"failed""#))
    }

    func testResumeSkipsFinishedJobsAndRunsFailedOnesAgain() throws {
        let url = temporaryDirectory()
        let plan = try makePlan()
        do {
            let directory = try RunDirectory(url: url, plan: plan, resume: false)
            try directory.append(record(plan.jobs[0]))
            try directory.append(record(plan.jobs[1], failed: true))
            try directory.append(record(plan.jobs[2], failed: true))
            try directory.append(record(plan.jobs[2]))
        }
        let resumed = try RunDirectory(url: url, plan: plan, resume: true)
        XCTAssertEqual(resumed.records.count, 4)
        XCTAssertEqual(resumed.finishedJobs, [0, 2])
        XCTAssertEqual(resumed.latestRecords[1]?.status, .failed)
    }

    func testTornLastLineIsDroppedAndAppendingContinuesCleanly() throws {
        let url = temporaryDirectory()
        let plan = try makePlan()
        do {
            let directory = try RunDirectory(url: url, plan: plan, resume: false)
            try directory.append(record(plan.jobs[0]))
        }
        // A kill -9 in the middle of a write leaves part of a line.
        let results = url.appendingPathComponent("results.jsonl")
        let handle = try FileHandle(forWritingTo: results)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"epoch_losses":[0.5],"fold":1,"id":"lowest"#.utf8))
        try handle.close()

        XCTAssertEqual(try RunDirectory.readRecords(in: url, plan: plan).count, 1, "readers skip the torn line")
        let resumed = try RunDirectory(url: url, plan: plan, resume: true)
        XCTAssertEqual(resumed.finishedJobs, [0])
        try resumed.append(record(plan.jobs[1]))
        XCTAssertEqual(try RunDirectory.readRecords(in: url, plan: plan).map(\.job.index), [0, 1])
    }

    func testMalformedCompleteLineNamesItsLine() throws {
        let url = temporaryDirectory()
        let plan = try makePlan()
        do { try RunDirectory(url: url, plan: plan, resume: false).append(record(plan.jobs[0])) }
        let results = url.appendingPathComponent("results.jsonl")
        try (try Data(contentsOf: results) + Data("{\"oops\":1}\n".utf8)).write(to: results)
        XCTAssertThrowsError(try RunDirectory(url: url, plan: plan, resume: true)) { error in
            XCTAssertEqual("\(error)", "\(results.path):2: not a job record: missing key 'index'")
        }
    }

    func testRecordOfAnotherPlanIsRefused() throws {
        let url = temporaryDirectory()
        let plan = try makePlan()
        let other = try makePlan(seed: 99)
        do { try RunDirectory(url: url, plan: plan, resume: false).append(record(other.jobs[0])) }
        XCTAssertThrowsError(try RunDirectory.readRecords(in: url, plan: plan)) { error in
            XCTAssertTrue("\(error)".hasSuffix("job lowest:2|r0|f0 is not in plan.json"), "\(error)")
        }
    }

    func testResumeWithDifferentPlanIsRefusedNamingTheKey() throws {
        let url = temporaryDirectory()
        _ = try RunDirectory(url: url, plan: try makePlan(), resume: false)
        let changed = try makePlan(settings: ["lr": .number(1e-3), "epochs": .number(30)])
        XCTAssertThrowsError(try RunDirectory(url: url, plan: changed, resume: true)) { error in
            XCTAssertEqual("\(error)", "cannot resume: \(url.path)/plan.json has settings.epochs = 3, this run has 30; "
                           + "resume with the same settings or use a new --out")
        }
    }

    func testNewSweepRefusesAnOccupiedDirectory() throws {
        let url = temporaryDirectory()
        _ = try RunDirectory(url: url, plan: try makePlan(), resume: false)
        XCTAssertThrowsError(try RunDirectory(url: url, plan: try makePlan(), resume: false)) { error in
            XCTAssertEqual(error as? SweepError, .directoryInUse(url.path))
        }
        XCTAssertNoThrow(try RunDirectory(url: temporaryDirectory(), plan: try makePlan(), resume: true),
                         "--resume on a new directory starts the sweep")
    }

    func testOneWriterAtATime() throws {
        let url = temporaryDirectory()
        let plan = try makePlan()
        do {
            let first = try RunDirectory(url: url, plan: plan, resume: false)
            XCTAssertThrowsError(try RunDirectory(url: url, plan: plan, resume: true)) { error in
                XCTAssertEqual("\(error)", "\(url.path)/results.jsonl: another sweep is writing to this run directory; wait until it ends")
            }
            try first.append(JobRecord(job: plan.jobs[0], status: .failed, outcome: nil, error: "x", seconds: 0, peakResidentMegabytes: 0, rank: 0))
        }
        XCTAssertNoThrow(try RunDirectory(url: url, plan: plan, resume: true), "the lock ends with its directory")
    }

    func testAtomicWriteLeavesNoTemporaryFile() throws {
        let url = temporaryDirectory()
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let file = url.appendingPathComponent("report.md")
        try RunDirectory.writeAtomically(Data("one".utf8), to: file)
        try RunDirectory.writeAtomically(Data("two".utf8), to: file)
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "two")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: url.path), ["report.md"])
    }
}
