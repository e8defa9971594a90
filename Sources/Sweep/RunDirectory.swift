import Foundation

/// The run directory, written by rank 0 alone: `plan.json`, the append-only `results.jsonl`, and the report.
///
/// Every record is one line written with one `write` and made durable with `fsync` before the scheduler hands
/// out more work, so a crash (even `kill -9`) loses at most the line being written. That torn last line is
/// dropped when the directory is opened again; failed jobs are run again on `--resume` (their earlier failure
/// stays in the file; the latest record of a job is the one that counts).
public final class RunDirectory: @unchecked Sendable {
    public static let planFile = "plan.json"
    public static let resultsFile = "results.jsonl"

    public let url: URL
    public let plan: SweepPlan
    /// Records read on opening plus those appended since, in file order.
    public private(set) var records: [JobRecord]
    private let descriptor: Int32

    /// Creates the directory for `plan`, or with `resume` continues the sweep stored there. Refuses a directory
    /// that already holds a sweep unless `resume`, and a stored plan that differs from `plan`.
    public init(url: URL, plan: SweepPlan, resume: Bool) throws {
        self.url = url
        self.plan = plan
        let planURL = url.appendingPathComponent(RunDirectory.planFile)
        let resultsURL = url.appendingPathComponent(RunDirectory.resultsFile)
        let manager = FileManager.default
        do { try manager.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw SweepError.io(file: url.path, reason: "cannot create the run directory (\(error.localizedDescription))")
        }
        if let stored = manager.contents(atPath: planURL.path) {
            guard resume else { throw SweepError.directoryInUse(url.path) }
            if let difference = try plan.firstDifference(fromStored: stored) {
                throw SweepError.planMismatch(file: planURL.path, key: difference.key, stored: difference.stored,
                                              current: difference.current)
            }
        } else {
            if manager.fileExists(atPath: resultsURL.path) {
                throw SweepError.io(file: resultsURL.path, reason: "results without a plan.json beside them; choose a new --out")
            }
            try RunDirectory.writeAtomically(try plan.encoded(), to: planURL)
        }
        descriptor = open(resultsURL.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SweepError.io(file: resultsURL.path, reason: "cannot open for appending (\(String(cString: strerror(errno))))") }
        // One writer at a time: a sweep resumed while an orphaned rank 0 of the killed run still appends would
        // interleave lines. (File systems without locks are accepted: the check is a safeguard, not the design.)
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK {
            close(descriptor)
            throw SweepError.io(file: resultsURL.path, reason: "another sweep is writing to this run directory; wait until it ends")
        }
        do {
            records = try RunDirectory.readRecords(at: resultsURL, plan: plan, truncatingTornLine: true)
            try RunDirectory.syncDirectory(url)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// The latest record of each job, by job index.
    public var latestRecords: [Int: JobRecord] { RunDirectory.latest(records) }

    /// Indices of the jobs whose latest record finished; `--resume` skips them.
    public var finishedJobs: Set<Int> { Set(latestRecords.values.filter { $0.status == .ok }.map(\.job.index)) }

    /// Appends `record` as one line and returns only once it is on disk.
    public func append(_ record: JobRecord) throws {
        var line = try JSONEncoder.sweep.encode(record)
        line.append(0x0A)
        let path = url.appendingPathComponent(RunDirectory.resultsFile).path
        guard RunDirectory.writeAll(line, to: descriptor) else {
            throw SweepError.io(file: path, reason: "write failed (\(String(cString: strerror(errno))))")
        }
        guard fsync(descriptor) == 0 else { throw SweepError.io(file: path, reason: "fsync failed (\(String(cString: strerror(errno))))") }
        records.append(record)
    }

    /// The plan stored in a run directory.
    public static func readPlan(in directory: URL) throws -> SweepPlan {
        let file = directory.appendingPathComponent(planFile)
        guard let data = FileManager.default.contents(atPath: file.path) else { throw SweepError.io(file: file.path, reason: "no such file") }
        do { return try JSONDecoder().decode(SweepPlan.self, from: data) } catch {
            throw SweepError.io(file: file.path, reason: "not a sweep plan (\(briefly(error)))")
        }
    }

    /// The records of a run directory's results.jsonl without changing it (a torn last line is skipped).
    public static func readRecords(in directory: URL, plan: SweepPlan) throws -> [JobRecord] {
        try readRecords(at: directory.appendingPathComponent(resultsFile), plan: plan, truncatingTornLine: false)
    }

    /// The latest of each job's records, by job index.
    static func latest(_ records: [JobRecord]) -> [Int: JobRecord] {
        var latest: [Int: JobRecord] = [:]
        for record in records { latest[record.job.index] = record }
        return latest
    }

    private static func readRecords(at file: URL, plan: SweepPlan, truncatingTornLine: Bool) throws -> [JobRecord] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        // Whatever follows the last newline was being written when the run died.
        let torn = lines.removeLast()
        if !torn.isEmpty && truncatingTornLine {
            guard truncate(file.path, off_t(data.count - torn.count)) == 0 else {
                throw SweepError.io(file: file.path, reason: "cannot drop the torn last line (\(String(cString: strerror(errno))))")
            }
        }
        let decoder = JSONDecoder()
        var records: [JobRecord] = []
        for (number, line) in lines.enumerated() where !line.isEmpty {
            let record: JobRecord
            do { record = try decoder.decode(JobRecord.self, from: Data(line)) } catch {
                throw SweepError.malformedResults(file: file.path, line: number + 1, reason: briefly(error))
            }
            guard plan.jobs.indices.contains(record.job.index), plan.jobs[record.job.index] == record.job else {
                throw SweepError.malformedResults(file: file.path, line: number + 1, reason: "job \(record.job.id) is not in plan.json")
            }
            records.append(record)
        }
        return records
    }

    /// Writes `data` to a temporary file beside `url`, syncs it, and renames it over `url`: readers see the old
    /// file or the new one, never half of one.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SweepError.io(file: temporary.path, reason: "cannot create (\(String(cString: strerror(errno))))") }
        let complete = writeAll(data, to: descriptor)
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard complete, synced, rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw SweepError.io(file: url.path, reason: "cannot write (\(reason))")
        }
        try syncDirectory(url.deletingLastPathComponent())
    }

    /// Writes all of `data` (retrying short writes); false on an error, with `errno` set.
    private static func writeAll(_ data: Data, to descriptor: Int32) -> Bool {
        data.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return false }
                offset += written
            }
            return true
        }
    }

    /// Makes a directory's entries (a new or renamed file) durable.
    private static func syncDirectory(_ directory: URL) throws {
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SweepError.io(file: directory.path, reason: "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(descriptor) }
        fsync(descriptor)
    }
}
