import BLASCore
import Foundation
import XCTest
@testable import Sweep

/// An in-memory world of `size` ranks: each rank's transport queues messages for the others, as MPI would.
final class InMemoryWorld: @unchecked Sendable {
    let size: Int
    private let lock = NSLock()
    private var inboxes: [[Message]]

    init(size: Int) {
        self.size = size
        inboxes = Array(repeating: [], count: size)
    }

    func transport(rank: Int, allowsMessagingFromAnyThread: Bool = true) -> InMemoryTransport {
        InMemoryTransport(world: self, rank: rank, allowsMessagingFromAnyThread: allowsMessagingFromAnyThread)
    }

    fileprivate func deliver(_ message: Message, to destination: Int) {
        lock.lock(); inboxes[destination].append(message); lock.unlock()
    }

    /// The oldest matching message (MPI keeps order between a pair of ranks for a tag).
    fileprivate func take(for rank: Int, source: Int?, tag: Int?) -> Message? {
        lock.lock(); defer { lock.unlock() }
        guard let index = inboxes[rank].firstIndex(where: { (source == nil || $0.source == source) && (tag == nil || $0.tag == tag) }) else {
            return nil
        }
        return inboxes[rank].remove(at: index)
    }
}

final class InMemoryTransport: MessageTransport, @unchecked Sendable {
    let world: InMemoryWorld
    let rank: Int
    var size: Int { world.size }
    let allowsMessagingFromAnyThread: Bool

    init(world: InMemoryWorld, rank: Int, allowsMessagingFromAnyThread: Bool) {
        self.world = world; self.rank = rank; self.allowsMessagingFromAnyThread = allowsMessagingFromAnyThread
    }

    func send(_ bytes: [UInt8], to destination: Int, tag: Int) throws {
        world.deliver(Message(bytes: bytes, source: rank, tag: tag), to: destination)
    }

    func poll(from source: Int?, tag: Int?) throws -> Message? { world.take(for: rank, source: source, tag: tag) }

    func abort(code: Int32) -> Never { fatalError("abort(\(code)) in an in-memory world") }
}

/// A tiny cohort: 24 cases, 10 of class 1, test fold of case i = i % folds (a stand-in for the Cohort's folds).
struct FakeCohort {
    static let cases: [(id: String, label: Int)] = (0..<24).map { ("case-\(String(format: "%02d", $0))", $0 % 12 < 5 ? 1 : 0) }
}

/// Scores each test case from the job's seed (so results depend on (seed, placement, fold, repeat) only), with a
/// placement-dependent signal so placements differ; placements named `broken…` fail.
final class FakeRunner: JobRunner {
    let folds: Int
    init(folds: Int) { self.folds = folds }

    func run(_ job: SweepJob, log: (String) -> Void) throws -> JobOutcome {
        usleep(1000)  // a job takes a moment, so every rank of a test world gets some
        if job.placement.hasPrefix("broken") { throw FakeFailure(description: "image case-03.png is unreadable") }
        var generator = SeededGenerator(seed: job.seed, stream: "scores")
        let signal = job.placement.hasPrefix("lowest") ? 0.3 : job.kind == .zeroShot ? 0.0 : 0.1
        let scores = FakeCohort.cases.enumerated().filter { $0.offset % folds == job.fold }.map { _, item in
            CaseScore(caseID: item.id, label: item.label, score: generator.nextUniformDouble() * 0.4 + signal * Double(item.label) + 0.05)
        }
        let losses = (0..<3).map { 0.7 / Double($0 + 1) + generator.nextUniformDouble() * 1e-3 }
        for (epoch, loss) in losses.enumerated() { log("epoch \(epoch + 1) loss \(loss)") }
        return JobOutcome(scores: scores, epochLosses: job.kind == .zeroShot ? [] : losses)
    }
}

struct FakeFailure: Error, CustomStringConvertible { let description: String }

/// Collects progress lines from any thread.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    var all: [String] { lock.lock(); defer { lock.unlock() }; return stored }
    func append(_ line: String) { lock.lock(); stored.append(line); lock.unlock() }
}

func temporaryDirectory(_ name: String = #function) -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("clipcv-sweep-tests-\(getpid())-\(name.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.removeItem(at: url)
    return url
}

func makePlan(placements: [String] = ["lowest:2", "highest:1", "all"], folds: Int = 3, repetitions: Int = 2,
              seed: UInt64 = 7, settings: [String: JSONValue] = ["lr": .number(1e-3), "epochs": .number(3)]) throws -> SweepPlan {
    try SweepPlan(settings: settings, placements: placements, folds: folds, repetitions: repetitions, seed: seed,
                  cohortHash: "cohort-abc", checkpointHash: "ckpt-def", versions: ["clipcv": "test"],
                  notes: ["model": "/models/tiny"])
}

/// Runs a whole sweep on an in-memory world of `ranks` ranks; returns rank 0's summary and the progress lines.
@discardableResult
func runSweep(_ directory: RunDirectory, ranks: Int, rankZeroMessagingAllowed: Bool = true,
              unavailableRanks: Set<Int> = [], forwardLogs: Bool = false) throws -> (SweepSummary, [String]) {
    let world = InMemoryWorld(size: ranks)
    let folds = directory.plan.folds
    let lines = Lines()
    let options = SweepScheduler.Options(forwardJobLogs: forwardLogs, pollInterval: 0.0005)
    let done = DispatchGroup()
    let errors = Lines()
    for rank in 1..<max(ranks, 1) {
        done.enter()
        let transport = world.transport(rank: rank)
        let thread = Thread {
            do {
                _ = try SweepScheduler.run(on: transport, directory: nil, options: options, makeRunner: { () throws -> FakeRunner in
                    if unavailableRanks.contains(rank) { throw FakeFailure(description: "no model on this node") }
                    return FakeRunner(folds: folds)
                }, progress: { _ in })
            } catch { errors.append("rank \(rank): \(error)") }
            done.leave()
        }
        thread.start()
    }
    let summary = try SweepScheduler.run(on: world.transport(rank: 0, allowsMessagingFromAnyThread: rankZeroMessagingAllowed),
                                         directory: directory, options: options, makeRunner: { () throws -> FakeRunner in
        if unavailableRanks.contains(0) { throw FakeFailure(description: "no model on this node") }
        return FakeRunner(folds: folds)
    }, progress: lines.append)
    done.wait()
    XCTAssertEqual(errors.all, [])
    return (try XCTUnwrap(summary), lines.all)
}
