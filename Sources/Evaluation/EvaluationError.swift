/// Input the metrics cannot be computed from (a label that is not 0/1, a non-finite score, a case twice in one
/// repeat, a malformed predictions file). `description` is one line naming the case, file or row.
public struct EvaluationError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Checks the arrays every metric takes: same length, not empty, labels 0/1, finite scores.
func validate(labels: [Int], scores: [[Double]]) throws {
    guard !labels.isEmpty else { throw EvaluationError("no cases") }
    for (set, values) in scores.enumerated() where values.count != labels.count {
        throw EvaluationError("score set \(set) has \(values.count) scores for \(labels.count) labels")
    }
    if let index = labels.firstIndex(where: { $0 != 0 && $0 != 1 }) {
        throw EvaluationError("index \(index): label \(labels[index]) is not 0 or 1")
    }
    for values in scores {
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw EvaluationError("index \(index): score \(values[index]) is not a finite number")
        }
    }
}
