import Foundation

/// Why a sweep cannot start, continue or finish; every description is one line naming the file or key at fault.
public enum SweepError: Error, CustomStringConvertible, Equatable {
    case invalidPlan(String)
    /// `--resume` with settings that differ from the stored plan.json.
    case planMismatch(file: String, key: String, stored: String, current: String)
    /// A new sweep pointed at a directory that already holds one.
    case directoryInUse(String)
    /// A complete line of results.jsonl that is not a job record (a torn last line is not an error).
    case malformedResults(file: String, line: Int, reason: String)
    case io(file: String, reason: String)
    /// What rank 0 failed with, as the other ranks learn it.
    case failedOnRankZero(String)
    /// Every rank that could work has left, with jobs still to run.
    case noWorkers(pendingJobs: Int, reasons: [String])
    /// A message between ranks that does not decode (different clipcv builds on different nodes?).
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .invalidPlan(let reason): "invalid sweep: \(reason)"
        case .planMismatch(let file, let key, let stored, let current):
            "cannot resume: \(file) has \(key) = \(stored), this run has \(current); resume with the same settings or use a new --out"
        case .directoryInUse(let directory):
            "\(directory) already holds a sweep (plan.json); pass --resume to continue it, or choose a new --out"
        case .malformedResults(let file, let line, let reason): "\(file):\(line): not a job record: \(reason)"
        case .io(let file, let reason): "\(file): \(reason)"
        case .failedOnRankZero(let message): "rank 0 failed: \(message)"
        case .noWorkers(let pending, let reasons):
            "no rank can run jobs (\(pending) left to run): \(reasons.joined(separator: "; "))"
        case .protocolViolation(let reason): "sweep message protocol: \(reason)"
        }
    }
}

/// A decoding error in a few words (`missing key 'status'`, `wrong type at seed`) instead of its full dump, for
/// one-line messages.
func briefly(_ error: Error) -> String {
    func path(_ context: DecodingError.Context) -> String {
        context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case DecodingError.keyNotFound(let key, _): return "missing key '\(key.stringValue)'"
    case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
        return "wrong or missing value at '\(path(context))'"
    case DecodingError.dataCorrupted(let context):
        return path(context).isEmpty ? "not valid JSON" : "invalid value at '\(path(context))'"
    default: return "\(error)"
    }
}
