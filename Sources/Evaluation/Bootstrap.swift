/// A two-sided confidence interval; in JSON `[lower, upper]`.
public struct ConfidenceInterval: Equatable, Sendable {
    public let lower: Double
    public let upper: Double

    public init(lower: Double, upper: Double) {
        self.lower = lower
        self.upper = upper
    }

    /// Stratified bootstrap percentile interval of the AUC: each resample draws, with replacement, as many positives
    /// from the positives and as many negatives from the negatives as there are (so every resample has both
    /// classes and the class balance of the data); the bounds are the (1 ± level)/2 quantiles of the resampled
    /// AUCs, interpolated linearly as `numpy.percentile` does by default.
    /// Nil when a class is absent or `resamples` is 0.
    public static func bootstrapAUC(labels: [Int], scores: [Double], resamples: Int = 2000, level: Double = 0.95,
                                    using generator: inout some RandomNumberGenerator) throws -> ConfidenceInterval? {
        try validate(labels: labels, scores: [scores])
        guard resamples >= 0 else { throw EvaluationError("bootstrap resamples must be ≥ 0, got \(resamples)") }
        guard level > 0, level < 1 else { throw EvaluationError("confidence level must be in (0, 1), got \(level)") }
        return bootstrapAUC(RankedScores(labels: labels, scores: scores), resamples: resamples, level: level,
                            using: &generator)
    }

    static func bootstrapAUC(_ ranked: RankedScores, resamples: Int, level: Double,
                             using generator: inout some RandomNumberGenerator) -> ConfidenceInterval? {
        guard resamples > 0, ranked.positiveCount > 0, ranked.negativeCount > 0 else { return nil }
        let positives = ranked.isPositive.indices.filter { ranked.isPositive[$0] }
        let negatives = ranked.isPositive.indices.filter { !ranked.isPositive[$0] }
        // Resampling only changes multiplicities, so the cases are ranked once and weighted by their counts.
        var counts = [Int](repeating: 0, count: ranked.isPositive.count)
        var aucs: [Double] = []
        aucs.reserveCapacity(resamples)
        for _ in 0..<resamples {
            for index in counts.indices { counts[index] = 0 }
            for _ in positives.indices { counts[positives[Int.random(in: 0..<positives.count, using: &generator)]] += 1 }
            for _ in negatives.indices { counts[negatives[Int.random(in: 0..<negatives.count, using: &generator)]] += 1 }
            aucs.append(ranked.areaUnderCurve(counts: counts)!)
        }
        aucs.sort()
        return ConfidenceInterval(lower: percentile(sorted: aucs, (1 - level) / 2),
                                  upper: percentile(sorted: aucs, (1 + level) / 2))
    }

    /// numpy's default ("linear") percentile of ascending `values` at fraction `q`.
    static func percentile(sorted values: [Double], _ q: Double) -> Double {
        let position = q * Double(values.count - 1)
        let below = Int(position.rounded(.down)), above = Swift.min(below + 1, values.count - 1)
        return values[below] + (values[above] - values[below]) * (position - Double(below))
    }
}

extension ConfidenceInterval: Codable {
    public init(from decoder: Decoder) throws {
        var container = try decoder.unkeyedContainer()
        self.init(lower: try container.decode(Double.self), upper: try container.decode(Double.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(lower)
        try container.encode(upper)
    }
}
