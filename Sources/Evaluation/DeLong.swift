import Foundation

/// DeLong's test for the difference of two correlated AUCs measured on the same cases (DeLong, DeLong &
/// Clarke-Pearson 1988), computed by the fast algorithm of Sun & Xu (2014): each case's placement among the
/// other class gives the structural components V10 (positives) and V01 (negatives), and
/// Cov(AUC) = S10 / m + S01 / n with S10, S01 their sample covariances (ddof 1) over m positives, n negatives.
public struct DeLongTest: Codable, Equatable, Sendable {
    public let aucA: Double
    public let aucB: Double
    public let varianceA: Double
    public let varianceB: Double
    public let covariance: Double
    /// (aucA − aucB) / √(varianceA + varianceB − 2·covariance); nil when that variance is 0 (e.g. both score sets
    /// rank every positive–negative pair alike), where the test is undefined.
    public let z: Double?
    /// Two-sided p-value of `z` under the standard normal; nil with `z`.
    public let pValue: Double?

    /// Throws for invalid labels or scores, and with fewer than two cases of either class (the sample covariances
    /// need two).
    public init(labels: [Int], scoresA: [Double], scoresB: [Double]) throws {
        try validate(labels: labels, scores: [scoresA, scoresB])
        let rankedA = RankedScores(labels: labels, scores: scoresA), rankedB = RankedScores(labels: labels, scores: scoresB)
        let m = rankedA.positiveCount, n = rankedA.negativeCount
        guard m >= 2, n >= 2 else {
            throw EvaluationError("DeLong's test needs at least 2 cases of each class, got \(m) with label 1 and \(n) with label 0")
        }
        let placementsA = rankedA.twicePlacements(), placementsB = rankedB.twicePlacements()
        let positives = labels.indices.filter { labels[$0] == 1 }, negatives = labels.indices.filter { labels[$0] == 0 }
        // V10 = fraction of negatives a positive outscores (ties ½); V01 = fraction of positives outscoring a negative.
        func components(_ placements: [Int], _ cases: [Int], _ otherClass: Int) -> [Double] {
            cases.map { Double(placements[$0]) / Double(2 * otherClass) }
        }
        let v10 = (components(placementsA, positives, n), components(placementsB, positives, n))
        let v01 = (components(placementsA, negatives, m), components(placementsB, negatives, m))
        func sampleCovariance(_ x: [Double], _ y: [Double]) -> Double {
            let meanX = x.reduce(0, +) / Double(x.count), meanY = y.reduce(0, +) / Double(y.count)
            return zip(x, y).reduce(0) { $0 + ($1.0 - meanX) * ($1.1 - meanY) } / Double(x.count - 1)
        }
        aucA = rankedA.areaUnderCurve()!
        aucB = rankedB.areaUnderCurve()!
        varianceA = sampleCovariance(v10.0, v10.0) / Double(m) + sampleCovariance(v01.0, v01.0) / Double(n)
        varianceB = sampleCovariance(v10.1, v10.1) / Double(m) + sampleCovariance(v01.1, v01.1) / Double(n)
        covariance = sampleCovariance(v10.0, v10.1) / Double(m) + sampleCovariance(v01.0, v01.1) / Double(n)
        let differenceVariance = varianceA + varianceB - 2 * covariance
        if differenceVariance > 0 {
            let z = (aucA - aucB) / differenceVariance.squareRoot()
            self.z = z
            pValue = erfc(abs(z) / 2.0.squareRoot())
        } else {
            z = nil
            pValue = nil
        }
    }
}
