import Foundation

/// Runs a sweep's jobs over the ranks of a world: rank 0 coordinates, every rank (rank 0 too) runs jobs.
///
/// Rank 0 hands the next unfinished job in plan order to whichever rank asks, so costly and cheap jobs balance
/// themselves. A finished job's record is appended to `results.jsonl` and synced *before* its rank gets more work.
/// Rank 0 coordinates on a thread of its own, beside a worker on the calling thread, whenever MPI allows a
/// second thread to message (always in a world of one): the coordinator needs a few messages per job, each job
/// takes seconds to hours, so a dedicated rank 0 would leave one slot of every allocation idle — and `-np 2`
/// on two cores would train on one. It sleeps between polls rather than spinning, so it does not take a core
/// from the worker beside it. Without that thread support, rank 0 only coordinates.
public enum SweepScheduler {
    public struct Options: Sendable {
        /// Send the lines jobs log (per-epoch losses) to rank 0's progress output.
        public var forwardJobLogs: Bool
        /// How long a waiting coordinator or worker sleeps between polls.
        public var pollInterval: TimeInterval

        public init(forwardJobLogs: Bool = false, pollInterval: TimeInterval = 0.002) {
            self.forwardJobLogs = forwardJobLogs; self.pollInterval = pollInterval
        }
    }

    /// Called by every rank. Rank 0 passes the run directory (nil elsewhere) and gets the summary; the other
    /// ranks get nil once rank 0 has no more work for them. `makeRunner` runs once per working rank, on the calling
    /// thread, which then runs every job of that rank. `progress` (rank 0 only, from the coordinator's thread)
    /// receives the progress lines: jobs done/total, what each rank runs, elapsed time and ETA.
    public static func run<Runner: JobRunner>(on transport: any MessageTransport, directory: RunDirectory?,
                                              options: Options = Options(), makeRunner: () throws -> Runner,
                                              progress: @escaping @Sendable (String) -> Void) throws -> SweepSummary? {
        guard transport.rank == 0 else {
            precondition(directory == nil, "only rank 0 writes the run directory")
            try work(link: RemoteLink(transport: transport, pollInterval: options.pollInterval), rank: transport.rank,
                     forwardLogs: options.forwardJobLogs, makeRunner: makeRunner)
            return nil
        }
        guard let directory else { preconditionFailure("rank 0 needs the run directory") }
        let rankZeroWorks = transport.size == 1 || transport.allowsMessagingFromAnyThread
        let loopback = rankZeroWorks ? Loopback() : nil
        let coordinator = Coordinator(directory: directory, transport: transport, loopback: loopback,
                                      pollInterval: options.pollInterval, progress: progress)
        guard let loopback else { return try coordinator.runOrAbort() }

        let outcome = ResultBox()
        // The thread takes the coordinator and drops it before reporting, so the run directory (and its lock) is
        // released when this function returns, not whenever Foundation lets go of the thread's closure.
        let handoff = Handoff(coordinator)
        let thread = Thread {
            let result = Result { try handoff.take().runOrAbort() }
            if case .failure = result { loopback.postToWorker(try! JSONEncoder.sweep.encode(Assignment(job: nil))) }
            outcome.set(result)
        }
        thread.stackSize = 8 << 20
        thread.start()
        try work(link: loopback, rank: 0, forwardLogs: options.forwardJobLogs, makeRunner: makeRunner)
        return try outcome.wait().get()
    }

    /// A worker: asks for work, runs it, reports it, until told to stop.
    private static func work<Runner: JobRunner>(link: some CoordinatorLink, rank: Int, forwardLogs: Bool,
                                                makeRunner: () throws -> Runner) throws {
        let runner: Runner
        do { runner = try makeRunner() } catch {
            try link.tell(.unavailable(rank: rank, reason: "\(error)"))
            return
        }
        var report = WorkerReport.ready(rank: rank)
        while true {
            try link.tell(report)
            guard let job = try link.nextAssignment().job else { return }
            report = .finished(rank: rank, record: try runJob(job, runner: runner, rank: rank) { line in
                if forwardLogs { try? link.tell(.log(rank: rank, line: line)) }
            })
        }
    }

    /// Runs one job and turns whatever happens into its record: a thrown error or an unstorable outcome (NaN)
    /// becomes a failure, never the end of the sweep.
    static func runJob<Runner: JobRunner>(_ job: SweepJob, runner: Runner, rank: Int,
                                          log: (String) -> Void) throws -> JobRecord {
        ProcessResources.resetPeakResident()
        let start = DispatchTime.now().uptimeNanoseconds
        var outcome: JobOutcome?
        var failure: String?
        do {
            let result = try runner.run(job, log: log)
            if let defect = result.defect { failure = defect } else { outcome = result }
        } catch {
            failure = "\(error)"
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return JobRecord(job: job, status: outcome == nil ? .failed : .ok, outcome: outcome, error: failure, seconds: seconds,
                         peakResidentMegabytes: ProcessResources.peakResidentMegabytes() ?? 0, rank: rank)
    }
}

/// What rank 0 knows at the end of a sweep.
public struct SweepSummary: Sendable, CustomStringConvertible {
    public let totalJobs: Int
    /// Jobs that had finished in an earlier run of this directory and were skipped.
    public let finishedEarlier: Int
    /// Jobs run now (finished or failed).
    public let ran: Int
    /// The jobs that failed now, with their errors.
    public let failures: [JobRecord]
    /// Ranks that could not set up a runner, with why.
    public let unavailableRanks: [Int: String]
    public let seconds: Double

    /// True when every job of the plan has finished.
    public var isComplete: Bool { failures.isEmpty && finishedEarlier + ran == totalJobs }

    public var description: String {
        var lines = ["sweep: \(finishedEarlier + ran - failures.count)/\(totalJobs) jobs finished (\(ran) run now, "
                     + "\(finishedEarlier) earlier) in \(formatDuration(seconds))"]
        for (rank, reason) in unavailableRanks.sorted(by: { $0.key < $1.key }) {
            lines.append("  rank \(rank) ran no jobs: \(reason)")
        }
        if !failures.isEmpty {
            lines.append("  \(failures.count) job(s) failed (recorded in results.jsonl; --resume runs them again):")
            lines += failures.map { "  \($0.job.id): \($0.error ?? "unknown error")" }
        }
        return lines.joined(separator: "\n")
    }
}

// MARK: - Protocol between workers and the coordinator

/// What a worker tells the coordinator.
enum WorkerReport: Codable {
    /// Ready for a first job.
    case ready(rank: Int)
    /// Done with its job (finished or failed), ready for the next.
    case finished(rank: Int, record: JobRecord)
    /// A line its running job logged.
    case log(rank: Int, line: String)
    /// Cannot run jobs at all (its runner could not be made).
    case unavailable(rank: Int, reason: String)

    var rank: Int {
        switch self {
        case .ready(let rank), .finished(let rank, _), .log(let rank, _), .unavailable(let rank, _): rank
        }
    }
}

/// The coordinator's answer to `ready` or `finished`: the next job, or nil to stop.
struct Assignment: Codable {
    let job: SweepJob?
}

/// A worker's way to its coordinator: MPI messages, or in-process queues for rank 0's own worker. Both carry
/// the same JSON bytes, so a record is the same whichever rank produced it.
protocol CoordinatorLink {
    func tell(_ report: WorkerReport) throws
    func nextAssignment() throws -> Assignment
}

extension CoordinatorLink {
    static func decodeAssignment(_ bytes: [UInt8]) throws -> Assignment {
        do { return try JSONDecoder().decode(Assignment.self, from: Data(bytes)) } catch {
            throw SweepError.protocolViolation("unreadable assignment from rank 0: \(briefly(error))")
        }
    }
}

private struct RemoteLink: CoordinatorLink {
    let transport: any MessageTransport
    let pollInterval: TimeInterval

    func tell(_ report: WorkerReport) throws {
        try transport.send([UInt8](try JSONEncoder.sweep.encode(report)), to: 0, tag: SweepTag.toCoordinator)
    }

    func nextAssignment() throws -> Assignment {
        try Self.decodeAssignment(try transport.wait(from: 0, tag: SweepTag.toWorker, pollInterval: pollInterval).bytes)
    }
}

/// In-process queues between rank 0's worker (the calling thread) and its coordinator thread. The worker blocks
/// on a condition variable, the coordinator polls; neither spins.
final class Loopback: CoordinatorLink, @unchecked Sendable {
    private let condition = NSCondition()
    private var toCoordinator: [[UInt8]] = []
    private var toWorker: [[UInt8]] = []

    func tell(_ report: WorkerReport) throws {
        let bytes = [UInt8](try JSONEncoder.sweep.encode(report))
        condition.lock(); toCoordinator.append(bytes); condition.unlock()
    }

    func nextAssignment() throws -> Assignment {
        condition.lock()
        while toWorker.isEmpty { condition.wait() }
        let bytes = toWorker.removeFirst()
        condition.unlock()
        return try Self.decodeAssignment(bytes)
    }

    func takeForCoordinator() -> [UInt8]? {
        condition.lock(); defer { condition.unlock() }
        return toCoordinator.isEmpty ? nil : toCoordinator.removeFirst()
    }

    func postToWorker(_ bytes: Data) {
        condition.lock(); toWorker.append([UInt8](bytes)); condition.signal(); condition.unlock()
    }
}

/// Holds a value until one thread takes it.
private final class Handoff<Value>: @unchecked Sendable {
    private var value: Value?
    init(_ value: Value) { self.value = value }
    func take() -> Value {
        defer { value = nil }
        return value!
    }
}

/// Hands a value from one thread to another that waits for it.
private final class ResultBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<SweepSummary, Error>?

    func set(_ value: Result<SweepSummary, Error>) {
        condition.lock(); result = value; condition.signal(); condition.unlock()
    }

    func wait() -> Result<SweepSummary, Error> {
        condition.lock(); defer { condition.unlock() }
        while result == nil { condition.wait() }
        return result!
    }
}

// MARK: - The coordinator

/// Rank 0's bookkeeping: which jobs are left, which rank runs what, and the run directory. Lives on one thread.
private final class Coordinator: @unchecked Sendable {
    let directory: RunDirectory
    let transport: any MessageTransport
    let loopback: Loopback?
    let pollInterval: TimeInterval
    let progress: @Sendable (String) -> Void

    /// Unfinished jobs in plan order; `next` indexes the first not yet handed out.
    private let pending: [SweepJob]
    private var next = 0
    private var running: [Int: SweepJob] = [:]
    /// Ranks expected to ask for work, and those told to stop (or that cannot work).
    private let workers: Set<Int>
    private var stopped = Set<Int>()
    private var unavailable: [Int: String] = [:]
    private var failures: [JobRecord] = []
    private var completed = 0
    private let start = Date()

    init(directory: RunDirectory, transport: any MessageTransport, loopback: Loopback?, pollInterval: TimeInterval,
         progress: @escaping @Sendable (String) -> Void) {
        self.directory = directory; self.transport = transport; self.loopback = loopback
        self.pollInterval = pollInterval; self.progress = progress
        let finished = directory.finishedJobs
        pending = directory.plan.jobs.filter { !finished.contains($0.index) }
        workers = Set((loopback == nil ? 1 : 0)..<transport.size)
    }

    /// `run()`, but a failure while other ranks may still wait for an answer ends every rank (MPI_Abort), after
    /// saying why: those ranks could not be stopped otherwise, and no caller would get to print the error.
    func runOrAbort() throws -> SweepSummary {
        do { return try run() } catch {
            if workers.contains(where: { $0 != 0 && !stopped.contains($0) }) {
                progress("sweep: coordinator failed: \(error)")
                transport.abort(code: 1)
            }
            throw error
        }
    }

    func run() throws -> SweepSummary {
        let total = directory.plan.jobs.count
        progress("sweep: \(total) jobs, \(total - pending.count) finished earlier, \(pending.count) to run on \(transport.size) rank(s)"
                 + (loopback == nil ? "; rank 0 only coordinates (MPI gives no thread support for more)" : ""))
        while stopped.count < workers.count {
            var handled = false
            if let bytes = loopback?.takeForCoordinator() {
                try handle(bytes, from: 0)
                handled = true
            }
            if transport.size > 1, let message = try transport.poll(from: nil, tag: SweepTag.toCoordinator) {
                try handle(message.bytes, from: message.source)
                handled = true
            }
            if !handled { usleep(useconds_t(pollInterval * 1_000_000)) }
        }
        if next < pending.count {
            throw SweepError.noWorkers(pendingJobs: pending.count - next,
                                       reasons: unavailable.sorted { $0.key < $1.key }.map { "rank \($0.key): \($0.value)" })
        }
        return SweepSummary(totalJobs: total, finishedEarlier: total - pending.count, ran: completed, failures: failures,
                            unavailableRanks: unavailable, seconds: Date().timeIntervalSince(start))
    }

    private func handle(_ bytes: [UInt8], from sender: Int) throws {
        let report: WorkerReport
        do { report = try JSONDecoder().decode(WorkerReport.self, from: Data(bytes)) } catch {
            throw SweepError.protocolViolation("unreadable message from rank \(sender): \(briefly(error))")
        }
        guard report.rank == sender, workers.contains(sender), !stopped.contains(sender) else {
            throw SweepError.protocolViolation("unexpected message from rank \(sender)")
        }
        switch report {
        case .log(_, let line):
            progress("  rank \(sender) \(running[sender]?.id ?? "-"): \(line)")
        case .unavailable(_, let reason):
            unavailable[sender] = reason
            stopped.insert(sender)
            progress("sweep: rank \(sender) cannot run jobs: \(reason)")
        case .ready:
            try assignNext(to: sender)
        case .finished(_, let record):
            guard let job = running.removeValue(forKey: sender), job == record.job else {
                throw SweepError.protocolViolation("rank \(sender) reported \(record.job.id), which it was not running")
            }
            try directory.append(record)
            completed += 1
            if record.status == .failed { failures.append(record) }
            progress(completionLine(record))
            try assignNext(to: sender)
        }
    }

    private func assignNext(to rank: Int) throws {
        let job = next < pending.count ? pending[next] : nil
        if let job {
            next += 1
            running[rank] = job
            progress("  rank \(rank) starts \(job.id)")
        } else {
            stopped.insert(rank)
        }
        let bytes = try JSONEncoder.sweep.encode(Assignment(job: job))
        if rank == 0, let loopback { loopback.postToWorker(bytes) } else { try transport.send([UInt8](bytes), to: rank, tag: SweepTag.toWorker) }
    }

    private func completionLine(_ record: JobRecord) -> String {
        let total = directory.plan.jobs.count
        let done = total - pending.count + completed
        let elapsed = Date().timeIntervalSince(start)
        let remaining = pending.count - completed
        let eta = remaining == 0 ? "0s" : formatDuration(elapsed / Double(completed) * Double(remaining))
        let what = record.status == .ok ? "done" : "FAILED (\(record.error ?? "unknown error"))"
        let busy = running.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.id)" }
        return "[\(done)/\(total)] \(record.job.id) \(what) on rank \(record.rank) in \(formatDuration(record.seconds))"
            + " · elapsed \(formatDuration(elapsed)) · ETA \(eta)" + (busy.isEmpty ? "" : " · running: " + busy.joined(separator: ", "))
    }
}

/// `41.2s`, `3m12s`, `2h05m`.
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    if seconds < 60 { return String(format: "%.1fs", seconds) }
    let whole = Int(seconds.rounded())
    if whole < 3600 { return "\(whole / 60)m\(String(format: "%02d", whole % 60))s" }
    return "\(whole / 3600)h\(String(format: "%02d", whole % 3600 / 60))m"
}
