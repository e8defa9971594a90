/// One out-of-fold prediction: a case, its true label, the model's score P(label 1), and the fold of the repeat in
/// which the case was tested.
public struct Prediction: Hashable, Sendable {
    public let caseID: String
    /// 0 or 1.
    public let label: Int
    /// P(label 1), finite.
    public let score: Double
    public let fold: Int
    public let `repeat`: Int

    /// Throws when the label is not 0/1, the score is not finite, or fold or repeat is negative.
    public init(caseID: String, label: Int, score: Double, fold: Int = 0, repeat: Int = 0) throws {
        guard label == 0 || label == 1 else { throw EvaluationError("case '\(caseID)': label \(label) is not 0 or 1") }
        guard score.isFinite else { throw EvaluationError("case '\(caseID)': score \(score) is not a finite number") }
        guard fold >= 0, `repeat` >= 0 else {
            throw EvaluationError("case '\(caseID)': fold \(fold) and repeat \(`repeat`) must be ≥ 0")
        }
        self.caseID = caseID
        self.label = label
        self.score = score
        self.fold = fold
        self.repeat = `repeat`
    }
}

extension Prediction: Codable {
    enum CodingKeys: String, CodingKey { case caseID = "case_id", label, score, fold, `repeat` }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(caseID: try container.decode(String.self, forKey: .caseID),
                      label: try container.decode(Int.self, forKey: .label),
                      score: try container.decode(Double.self, forKey: .score),
                      fold: try container.decodeIfPresent(Int.self, forKey: .fold) ?? 0,
                      repeat: try container.decodeIfPresent(Int.self, forKey: .repeat) ?? 0)
    }
}

/// The metrics of a cross-validation: per (repeat, fold), their mean ± sample std (ddof 1) over all (repeat, fold)
/// pairs, and per repeat the pooled out-of-fold metrics with a stratified bootstrap 95% CI of the pooled AUC.
///
/// In JSON: `{"folds":[{"repeat","fold","n","auc","acc","sensitivity","specificity","balanced_accuracy","f1"}…],
/// "summary":{"auc":{"mean","std"},…,"std_ddof":1}, "pooled":[{"repeat","n","auc","auc_ci95":[lo,hi],"acc",…}…]}`.
/// A metric undefined on a fold (see `BinaryMetrics`) is null there and left out of the summary, whose entry is
/// null when no fold defines it; one fold gives std 0.
public struct CrossValidationMetrics: Codable, Equatable, Sendable {
    public struct Fold: Equatable, Sendable {
        public let `repeat`: Int
        public let fold: Int
        public let metrics: BinaryMetrics
    }

    public struct Pooled: Equatable, Sendable {
        public let `repeat`: Int
        public let metrics: BinaryMetrics
        /// Nil when a class is absent or no resamples were asked for.
        public let aucCI95: ConfidenceInterval?
    }

    public struct Summary: Equatable, Sendable {
        public let auc: MeanAndDeviation?
        public let accuracy: MeanAndDeviation?
        public let sensitivity: MeanAndDeviation?
        public let specificity: MeanAndDeviation?
        public let balancedAccuracy: MeanAndDeviation?
        public let f1: MeanAndDeviation?
        /// The delta degrees of freedom of every `std`.
        public static let stdDdof = 1

        init(_ folds: [BinaryMetrics]) {
            func summarize(_ metric: (BinaryMetrics) -> Double?) -> MeanAndDeviation? {
                let values = folds.compactMap(metric)
                return values.isEmpty ? nil : MeanAndDeviation(values)
            }
            auc = summarize(\.auc)
            accuracy = summarize(\.accuracy)
            sensitivity = summarize(\.sensitivity)
            specificity = summarize(\.specificity)
            balancedAccuracy = summarize(\.balancedAccuracy)
            f1 = summarize(\.f1)
        }
    }

    /// Folds, ascending by (repeat, fold).
    public let folds: [Fold]
    public let summary: Summary
    /// One entry per repeat, ascending.
    public let pooled: [Pooled]

    /// `threshold`: a case is predicted 1 iff its score > threshold. `bootstrapResamples`: resamples of the pooled
    /// AUC's CI (0: no CI), drawn from `generator` repeat after repeat in ascending order.
    /// Throws when there are no predictions, a case appears twice in one repeat, or the threshold is not a number.
    public init(predictions: [Prediction], threshold: Double = 0.5, bootstrapResamples: Int = 2000,
                using generator: inout some RandomNumberGenerator) throws {
        guard !predictions.isEmpty else { throw EvaluationError("no predictions") }
        guard !threshold.isNaN else { throw EvaluationError("the threshold is not a number") }
        guard bootstrapResamples >= 0 else { throw EvaluationError("bootstrap resamples must be ≥ 0, got \(bootstrapResamples)") }
        var seen: [Int: Set<String>] = [:]
        for prediction in predictions where !seen[prediction.repeat, default: []].insert(prediction.caseID).inserted {
            throw EvaluationError("case '\(prediction.caseID)' appears more than once in repeat \(prediction.repeat)")
        }

        func ranked(_ predictions: [Prediction]) -> RankedScores {
            RankedScores(labels: predictions.map(\.label), scores: predictions.map(\.score))
        }
        let byFold = Dictionary(grouping: predictions) { [$0.repeat, $0.fold] }
        folds = byFold.keys.sorted { ($0[0], $0[1]) < ($1[0], $1[1]) }.map { key in
            Fold(repeat: key[0], fold: key[1], metrics: BinaryMetrics(ranked(byFold[key]!), threshold: threshold))
        }
        summary = Summary(folds.map(\.metrics))
        let byRepeat = Dictionary(grouping: predictions, by: \.repeat)
        var pooled: [Pooled] = []
        for (repetition, predictions) in byRepeat.sorted(by: { $0.key < $1.key }) {
            let ranking = ranked(predictions)
            pooled.append(Pooled(repeat: repetition, metrics: BinaryMetrics(ranking, threshold: threshold),
                                 aucCI95: ConfidenceInterval.bootstrapAUC(ranking, resamples: bootstrapResamples, level: 0.95,
                                                                          using: &generator)))
        }
        self.pooled = pooled
    }
}

// JSON: the metrics of a fold or repeat sit beside its "repeat"/"fold" keys, not nested; absent values are null.

extension CrossValidationMetrics.Fold: Codable {
    enum CodingKeys: String, CodingKey { case `repeat`, fold }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(repeat: try container.decode(Int.self, forKey: .repeat), fold: try container.decode(Int.self, forKey: .fold),
                  metrics: try BinaryMetrics(from: decoder))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.repeat, forKey: .repeat)
        try container.encode(fold, forKey: .fold)
        try metrics.encode(to: encoder)
    }
}

extension CrossValidationMetrics.Pooled: Codable {
    enum CodingKeys: String, CodingKey { case `repeat`, aucCI95 = "auc_ci95" }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(repeat: try container.decode(Int.self, forKey: .repeat), metrics: try BinaryMetrics(from: decoder),
                  aucCI95: try container.decodeIfPresent(ConfidenceInterval.self, forKey: .aucCI95))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.repeat, forKey: .repeat)
        try container.encode(aucCI95, forKey: .aucCI95)
        try metrics.encode(to: encoder)
    }
}

extension CrossValidationMetrics.Summary: Codable {
    enum CodingKeys: String, CodingKey {
        case auc, accuracy = "acc", sensitivity, specificity, balancedAccuracy = "balanced_accuracy", f1, stdDdof = "std_ddof"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let ddof = try container.decode(Int.self, forKey: .stdDdof)
        guard ddof == Self.stdDdof else {
            throw DecodingError.dataCorruptedError(forKey: .stdDdof, in: container, debugDescription: "std_ddof \(ddof), expected 1")
        }
        auc = try container.decodeIfPresent(MeanAndDeviation.self, forKey: .auc)
        accuracy = try container.decodeIfPresent(MeanAndDeviation.self, forKey: .accuracy)
        sensitivity = try container.decodeIfPresent(MeanAndDeviation.self, forKey: .sensitivity)
        specificity = try container.decodeIfPresent(MeanAndDeviation.self, forKey: .specificity)
        balancedAccuracy = try container.decodeIfPresent(MeanAndDeviation.self, forKey: .balancedAccuracy)
        f1 = try container.decodeIfPresent(MeanAndDeviation.self, forKey: .f1)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(auc, forKey: .auc)
        try container.encode(accuracy, forKey: .accuracy)
        try container.encode(sensitivity, forKey: .sensitivity)
        try container.encode(specificity, forKey: .specificity)
        try container.encode(balancedAccuracy, forKey: .balancedAccuracy)
        try container.encode(f1, forKey: .f1)
        try container.encode(Self.stdDdof, forKey: .stdDdof)
    }
}
