import Foundation

/// The out-of-fold score of one test case: the probability of class 1 the job's model gives it.
public struct CaseScore: Codable, Equatable, Sendable {
    public let caseID: String
    public let label: Int
    public let score: Double

    public init(caseID: String, label: Int, score: Double) {
        self.caseID = caseID; self.label = label; self.score = score
    }

    enum CodingKeys: String, CodingKey { case caseID = "case_id", label, score }
}

/// What a job produces: its test cases' scores (in the cohort's case order) and its training curve.
public struct JobOutcome: Codable, Equatable, Sendable {
    public var scores: [CaseScore]
    /// Mean training loss of each epoch (empty for the zero-shot baseline).
    public var epochLosses: [Double]

    public init(scores: [CaseScore], epochLosses: [Double] = []) {
        self.scores = scores; self.epochLosses = epochLosses
    }

    enum CodingKeys: String, CodingKey { case scores, epochLosses = "epoch_losses" }
}

/// Runs one job. The sweep calls it on every working rank, always on the thread that started the sweep, so a
/// runner may hold non-thread-safe state (a loaded model, buffers) between jobs. A job must be a pure function of
/// (plan, job): the scheduler may run it on any rank, after any other jobs.
public protocol JobRunner {
    /// Trains and scores `job`; throws when it cannot (unreadable image, NaN loss). `log` takes progress lines
    /// (e.g. one per epoch); they reach rank 0's progress output when the sweep forwards job logs.
    func run(_ job: SweepJob, log: (String) -> Void) throws -> JobOutcome
}

/// One line of `results.jsonl`: a job's identity, whether it finished, its outcome or error, and its cost.
///
/// The job's keys (`id`, `index`, `kind`, `placement`, `repeat`, `fold`, `seed`) sit at the top level beside
/// the record's own, so the file reads directly into a table (e.g. `pandas.read_json(…, lines=True)`).
public struct JobRecord: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable { case ok, failed }

    public let job: SweepJob
    public let status: Status
    /// Present when `status == .ok`.
    public let outcome: JobOutcome?
    /// The thrown error's description when `status == .failed`.
    public let error: String?
    /// Wall-clock seconds of the job on its rank.
    public let seconds: Double
    /// The rank's peak resident memory during the job (VmHWM, reset before the job), in MiB.
    public let peakResidentMegabytes: Double
    /// The rank that ran it (informational: results never depend on it).
    public let rank: Int

    public init(job: SweepJob, status: Status, outcome: JobOutcome?, error: String?, seconds: Double,
                peakResidentMegabytes: Double, rank: Int) {
        self.job = job; self.status = status; self.outcome = outcome; self.error = error
        self.seconds = seconds; self.peakResidentMegabytes = peakResidentMegabytes; self.rank = rank
    }

    enum CodingKeys: String, CodingKey {
        case status, error, seconds, rank, peakResidentMegabytes = "peak_rss_mb", scores, epochLosses = "epoch_losses"
    }

    public init(from decoder: Decoder) throws {
        job = try SweepJob(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(Status.self, forKey: .status)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        seconds = try container.decode(Double.self, forKey: .seconds)
        peakResidentMegabytes = try container.decode(Double.self, forKey: .peakResidentMegabytes)
        rank = try container.decode(Int.self, forKey: .rank)
        if let scores = try container.decodeIfPresent([CaseScore].self, forKey: .scores) {
            outcome = JobOutcome(scores: scores, epochLosses: try container.decodeIfPresent([Double].self, forKey: .epochLosses) ?? [])
        } else {
            outcome = nil
        }
    }

    public func encode(to encoder: Encoder) throws {
        try job.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(peakResidentMegabytes, forKey: .peakResidentMegabytes)
        try container.encode(rank, forKey: .rank)
        if let outcome {
            try container.encode(outcome.scores, forKey: .scores)
            try container.encode(outcome.epochLosses, forKey: .epochLosses)
        }
    }
}

extension JobOutcome {
    /// Why this outcome cannot be stored as a result (a non-finite score or loss, a label other than 0/1), or nil.
    /// JSON has no NaN, and a NaN score would poison every metric computed from it.
    var defect: String? {
        if let bad = scores.first(where: { !$0.score.isFinite }) { return "score of case \(bad.caseID) is \(bad.score)" }
        if let bad = scores.first(where: { $0.label != 0 && $0.label != 1 }) {
            return "case \(bad.caseID) has label \(bad.label); expected 0 or 1"
        }
        if let epoch = epochLosses.firstIndex(where: { !$0.isFinite }) { return "loss of epoch \(epoch + 1) is \(epochLosses[epoch])" }
        if scores.isEmpty { return "the job scored no test cases" }
        return nil
    }
}
