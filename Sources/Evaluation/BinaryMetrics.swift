/// The clinical metrics of one set of cases (a fold, or a repeat's pooled out-of-fold predictions), each equal to
/// scikit-learn's: `roc_auc_score`, `accuracy_score`, `recall_score` with `pos_label=1` (sensitivity) and
/// `pos_label=0` (specificity), `balanced_accuracy_score`, `f1_score`. A case is predicted 1 iff score > threshold.
///
/// Undefined values are nil (JSON null) wherever scikit-learn returns NaN or warns `UndefinedMetricWarning`
/// and substitutes 0: the AUC, sensitivity or specificity when their class is absent, and F1 when no case is
/// labelled or predicted 1. Balanced accuracy is scikit-learn's mean recall over the classes present, so with one
/// class it is that class's recall.
public struct BinaryMetrics: Equatable, Sendable {
    /// Number of cases.
    public let count: Int
    public let auc: Double?
    public let accuracy: Double
    /// Recall of class 1.
    public let sensitivity: Double?
    /// Recall of class 0.
    public let specificity: Double?
    public let balancedAccuracy: Double
    public let f1: Double?

    /// Throws when the arrays differ in length or are empty, a label is not 0/1, or a score or the threshold is not
    /// a number.
    public init(labels: [Int], scores: [Double], threshold: Double = 0.5) throws {
        try validate(labels: labels, scores: [scores])
        guard !threshold.isNaN else { throw EvaluationError("the threshold is not a number") }
        self.init(RankedScores(labels: labels, scores: scores), threshold: threshold)
    }

    init(_ ranked: RankedScores, threshold: Double) {
        var truePositives = 0, falsePositives = 0, trueNegatives = 0, falseNegatives = 0
        for (isPositive, score) in zip(ranked.isPositive, ranked.scores) {
            switch (isPositive, score > threshold) {
            case (true, true): truePositives += 1
            case (true, false): falseNegatives += 1
            case (false, true): falsePositives += 1
            case (false, false): trueNegatives += 1
            }
        }
        let positives = truePositives + falseNegatives, negatives = trueNegatives + falsePositives
        count = ranked.scores.count
        auc = ranked.areaUnderCurve()
        accuracy = Double(truePositives + trueNegatives) / Double(count)
        sensitivity = positives > 0 ? Double(truePositives) / Double(positives) : nil
        specificity = negatives > 0 ? Double(trueNegatives) / Double(negatives) : nil
        let recalls = [sensitivity, specificity].compactMap { $0 }
        balancedAccuracy = recalls.reduce(0, +) / Double(recalls.count)
        let f1Denominator = 2 * truePositives + falsePositives + falseNegatives
        f1 = f1Denominator > 0 ? Double(2 * truePositives) / Double(f1Denominator) : nil
    }
}

extension BinaryMetrics: Codable {
    enum CodingKeys: String, CodingKey {
        case count = "n", auc, accuracy = "acc", sensitivity, specificity, balancedAccuracy = "balanced_accuracy", f1
    }

    /// Writes every key, undefined values as null, so each fold has the same shape.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(count, forKey: .count)
        try container.encode(auc, forKey: .auc)
        try container.encode(accuracy, forKey: .accuracy)
        try container.encode(sensitivity, forKey: .sensitivity)
        try container.encode(specificity, forKey: .specificity)
        try container.encode(balancedAccuracy, forKey: .balancedAccuracy)
        try container.encode(f1, forKey: .f1)
    }
}
