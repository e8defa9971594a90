/// The receiver operating characteristic as scikit-learn's `roc_curve(y, score, drop_intermediate=False)`:
/// one point per distinct score, thresholds descending, starting at (0, 0) with threshold +∞.
/// A case is called positive at a threshold t when its score ≥ t.
public struct ROCCurve: Equatable, Sendable {
    public let falsePositiveRates: [Double]
    public let truePositiveRates: [Double]
    public let thresholds: [Double]

    /// Throws when a label is not 0/1, a score is not finite, or only one class is present (no curve exists).
    public init(labels: [Int], scores: [Double]) throws {
        try validate(labels: labels, scores: [scores])
        let ranked = RankedScores(labels: labels, scores: scores)
        guard ranked.positiveCount > 0, ranked.negativeCount > 0 else {
            throw EvaluationError("a ROC curve needs both classes; every case has label \(labels[0])")
        }
        var falsePositiveRates = [0.0], truePositiveRates = [0.0], thresholds = [Double.infinity]
        let positives = Double(ranked.positiveCount), negatives = Double(ranked.negativeCount)
        var truePositives = 0, falsePositives = 0
        for group in stride(from: ranked.groupBounds.count - 2, through: 0, by: -1) {
            let run = ranked.groupBounds[group]..<ranked.groupBounds[group + 1]
            for k in run {
                if ranked.isPositive[ranked.order[k]] { truePositives += 1 } else { falsePositives += 1 }
            }
            falsePositiveRates.append(Double(falsePositives) / negatives)
            truePositiveRates.append(Double(truePositives) / positives)
            thresholds.append(ranked.scores[ranked.order[run.lowerBound]])
        }
        self.falsePositiveRates = falsePositiveRates
        self.truePositiveRates = truePositiveRates
        self.thresholds = thresholds
    }
}
