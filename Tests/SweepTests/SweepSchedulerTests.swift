import XCTest
@testable import Sweep

final class SweepSchedulerTests: XCTestCase {
    /// What must not depend on the rank count: each job's record minus where and how fast it ran.
    private func results(_ url: URL, _ plan: SweepPlan) throws -> [String] {
        let latest = RunDirectory.latest(try RunDirectory.readRecords(in: url, plan: plan))
        return try latest.keys.sorted().map { index in
            let record = latest[index]!
            let stripped = JobRecord(job: record.job, status: record.status, outcome: record.outcome, error: record.error,
                                     seconds: 0, peakResidentMegabytes: 0, rank: 0)
            return String(decoding: try JSONEncoder.sweep.encode(stripped), as: UTF8.self)
        }
    }

    func testWorldOfOneRunsEveryJobInPlanOrder() throws {
        let url = temporaryDirectory()
        let plan = try makePlan()
        let (summary, lines) = try runSweep(try RunDirectory(url: url, plan: plan, resume: false), ranks: 1)
        XCTAssertTrue(summary.isComplete)
        XCTAssertEqual(summary.ran, plan.jobs.count)
        let records = try RunDirectory.readRecords(in: url, plan: plan)
        XCTAssertEqual(records.map(\.job.index), Array(plan.jobs.indices), "one rank runs the jobs in plan order")
        XCTAssertTrue(records.allSatisfy { $0.status == .ok && $0.rank == 0 && $0.seconds >= 0 })
        XCTAssertEqual(records[0].outcome?.scores.count, 8)
        XCTAssertEqual(records[0].outcome?.epochLosses.count, 3)
        XCTAssertTrue(lines[0].hasPrefix("sweep: 30 jobs, 0 finished earlier, 30 to run on 1 rank(s)"), lines[0])
        XCTAssertTrue(lines.contains { $0.hasPrefix("[30/30] linear-probe|r1|f2 done on rank 0 in ") && $0.contains("ETA 0s") })
    }

    func testResultsDoNotDependOnTheNumberOfRanks() throws {
        let plan = try makePlan()
        var outputs: [[String]] = []
        for ranks in [1, 3, 4] {
            let url = temporaryDirectory("ranks\(ranks)")
            let (summary, _) = try runSweep(try RunDirectory(url: url, plan: plan, resume: false), ranks: ranks)
            XCTAssertTrue(summary.isComplete)
            let records = try RunDirectory.readRecords(in: url, plan: plan)
            XCTAssertEqual(records.count, plan.jobs.count, "every job ran exactly once with \(ranks) ranks")
            if ranks > 1 { XCTAssertGreaterThan(Set(records.map(\.rank)).count, 1, "work was spread over the ranks") }
            outputs.append(try results(url, plan))
        }
        XCTAssertEqual(outputs[0], outputs[1])
        XCTAssertEqual(outputs[0], outputs[2])
    }

    func testMoreRanksThanJobs() throws {
        let url = temporaryDirectory()
        let plan = try makePlan(placements: ["all"], folds: 2, repetitions: 1)
        let (summary, _) = try runSweep(try RunDirectory(url: url, plan: plan, resume: false), ranks: 9)
        XCTAssertTrue(summary.isComplete)
        XCTAssertEqual(try RunDirectory.readRecords(in: url, plan: plan).count, 6)
    }

    func testRankZeroOnlyCoordinatesWithoutThreadSupport() throws {
        let url = temporaryDirectory()
        let plan = try makePlan()
        let (summary, lines) = try runSweep(try RunDirectory(url: url, plan: plan, resume: false), ranks: 3,
                                            rankZeroMessagingAllowed: false)
        XCTAssertTrue(summary.isComplete)
        XCTAssertFalse(try RunDirectory.readRecords(in: url, plan: plan).contains { $0.rank == 0 })
        XCTAssertTrue(lines[0].hasSuffix("rank 0 only coordinates (MPI gives no thread support for more)"))
    }

    func testFailedJobsAreRecordedAndTheOthersFinish() throws {
        let url = temporaryDirectory()
        let plan = try makePlan(placements: ["all", "broken:1"], folds: 2, repetitions: 1)
        let (summary, lines) = try runSweep(try RunDirectory(url: url, plan: plan, resume: false), ranks: 2)
        XCTAssertFalse(summary.isComplete)
        XCTAssertEqual(summary.failures.map(\.job.id), ["broken:1|r0|f0", "broken:1|r0|f1"])
        XCTAssertEqual(summary.failures.first?.error, "image case-03.png is unreadable")
        XCTAssertTrue(summary.description.contains("broken:1|r0|f0: image case-03.png is unreadable"), summary.description)
        XCTAssertTrue(lines.contains { $0.contains("broken:1|r0|f1 FAILED (image case-03.png is unreadable)") })
        let records = try RunDirectory.readRecords(in: url, plan: plan)
        XCTAssertEqual(records.filter { $0.status == .ok }.count, 6)

        // On resume only the failed jobs run again (and fail again: the fake failure is deterministic).
        let resumed = try RunDirectory(url: url, plan: plan, resume: true)
        let (again, _) = try runSweep(resumed, ranks: 1)
        XCTAssertEqual(again.finishedEarlier, 6)
        XCTAssertEqual(again.ran, 2)
    }

    func testNonFiniteScoresBecomeFailures() throws {
        struct NaNRunner: JobRunner {
            func run(_ job: SweepJob, log: (String) -> Void) throws -> JobOutcome {
                JobOutcome(scores: [CaseScore(caseID: "x", label: 1, score: .nan)], epochLosses: [0.5])
            }
        }
        let plan = try makePlan()
        let record = try SweepScheduler.runJob(plan.jobs[0], runner: NaNRunner(), rank: 3) { _ in }
        XCTAssertEqual(record.status, .failed)
        XCTAssertEqual(record.error, "score of case x is nan")
        XCTAssertEqual(record.rank, 3)
    }

    func testInterruptedSweepResumesToTheSameResults() throws {
        let plan = try makePlan()
        let whole = temporaryDirectory("whole")
        try runSweep(try RunDirectory(url: whole, plan: plan, resume: false), ranks: 2)

        // Interrupted: the first 11 records made it to disk, the 12th was torn by the kill.
        let cut = temporaryDirectory("cut")
        try FileManager.default.createDirectory(at: cut, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: whole.appendingPathComponent("plan.json"), to: cut.appendingPathComponent("plan.json"))
        let lines = try Data(contentsOf: whole.appendingPathComponent("results.jsonl")).split(separator: 0x0A)
        let kept = lines.prefix(11).map { Data($0) + Data([0x0A]) }.reduce(Data(), +) + Data(lines[11].prefix(40))
        try kept.write(to: cut.appendingPathComponent("results.jsonl"))

        let (summary, _) = try runSweep(try RunDirectory(url: cut, plan: plan, resume: true), ranks: 3)
        XCTAssertEqual(summary.finishedEarlier, 11)
        XCTAssertEqual(summary.ran, plan.jobs.count - 11)
        XCTAssertEqual(try results(cut, plan), try results(whole, plan))
    }

    func testUnavailableRankIsReportedAndOthersCarryOn() throws {
        let url = temporaryDirectory()
        let plan = try makePlan(folds: 2, repetitions: 1)
        let (summary, lines) = try runSweep(try RunDirectory(url: url, plan: plan, resume: false), ranks: 3, unavailableRanks: [1])
        XCTAssertTrue(summary.isComplete)
        XCTAssertEqual(summary.unavailableRanks, [1: "no model on this node"])
        XCTAssertTrue(lines.contains("sweep: rank 1 cannot run jobs: no model on this node"))
        XCTAssertFalse(try RunDirectory.readRecords(in: url, plan: plan).contains { $0.rank == 1 })
    }

    func testNoWorkingRankIsAnError() throws {
        let plan = try makePlan(folds: 2, repetitions: 1)
        XCTAssertThrowsError(try runSweep(try RunDirectory(url: temporaryDirectory(), plan: plan, resume: false), ranks: 2,
                                          unavailableRanks: [0, 1])) { error in
            XCTAssertEqual("\(error)", "no rank can run jobs (10 left to run): rank 0: no model on this node; rank 1: no model on this node")
        }
    }

    func testJobLogsReachRankZeroWhenForwarded() throws {
        let plan = try makePlan(placements: ["all"], folds: 2, repetitions: 1)
        let (_, lines) = try runSweep(try RunDirectory(url: temporaryDirectory(), plan: plan, resume: false), ranks: 2, forwardLogs: true)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  rank 1 ") && $0.contains(": epoch 3 loss ") }
                      || lines.contains { $0.hasPrefix("  rank 0 ") && $0.contains(": epoch 3 loss ") })
        XCTAssertEqual(lines.filter { $0.contains(": epoch 1 loss ") }.count, 6)
        let (_, quiet) = try runSweep(try RunDirectory(url: temporaryDirectory(), plan: plan, resume: false), ranks: 2)
        XCTAssertFalse(quiet.contains { $0.contains("epoch") })
    }

    func testShareFromRankZero() throws {
        let world = InMemoryWorld(size: 3)
        let group = DispatchGroup()
        let received = Lines()
        for rank in 1..<3 {
            group.enter()
            let transport = world.transport(rank: rank)
            Thread {
                do { received.append("\(rank): " + (try transport.shareFromRankZero { () -> String in fatalError("rank 0 only") })) }
                catch { received.append("\(rank) failed: \(error)") }
                group.leave()
            }.start()
        }
        XCTAssertEqual(try world.transport(rank: 0).shareFromRankZero { "the plan" }, "the plan")
        group.wait()
        XCTAssertEqual(received.all.sorted(), ["1: the plan", "2: the plan"])

        // A failure on rank 0 reaches every rank.
        let failing = InMemoryWorld(size: 2)
        let worker = failing.transport(rank: 1)
        XCTAssertThrowsError(try failing.transport(rank: 0).shareFromRankZero { () throws -> Int in throw SweepError.directoryInUse("runs/x") })
        XCTAssertThrowsError(try worker.shareFromRankZero { () -> Int in 0 }) { error in
            XCTAssertEqual("\(error)", "rank 0 failed: runs/x already holds a sweep (plan.json); pass --resume to continue it, or choose a new --out")
        }
    }

    func testDurationFormat() {
        XCTAssertEqual(formatDuration(41.25), "41.2s")
        XCTAssertEqual(formatDuration(192), "3m12s")
        XCTAssertEqual(formatDuration(7500), "2h05m")
    }
}
