/// Mean and sample standard deviation (ddof 1, as the study's "mean ± std across folds") of a set of values.
public struct MeanAndDeviation: Codable, Equatable, Sendable {
    public let mean: Double
    /// Sample standard deviation with ddof 1; 0 for a single value.
    public let std: Double

    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "mean and deviation of no values")
        let mean = values.reduce(0, +) / Double(values.count)
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        self.mean = mean
        self.std = values.count > 1 ? (squares / Double(values.count - 1)).squareRoot() : 0
    }
}
