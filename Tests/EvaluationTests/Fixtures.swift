import Foundation
@testable import Evaluation

/// A small deterministic generator for tests (SplitMix64); the command passes BLASCore's SeededGenerator instead.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The files written by scripts/fixturegen/metrics.py.
enum Fixture {
    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
    }
}

/// metrics_reference.json: prediction sets and scikit-learn's values for them.
struct MetricsReference: Decodable {
    struct Columns: Decodable {
        let case_id: [String], label: [Int], score: [Double], fold: [Int], `repeat`: [Int]
    }
    struct PooledExtras: Decodable {
        struct ROC: Decodable { let fpr: [Double], tpr: [Double], thresholds_after_infinity: [Double] }
        let `repeat`: Int
        let roc: ROC?
        let numpy_bootstrap_ci95: [Double]?
    }
    struct Expected: Decodable { let pooled: [PooledExtras] }
    struct Set: Decodable {
        let name: String
        let threshold: Double
        let has_fold_columns: Bool
        let predictions: Columns
        /// Decoded into clipcv's own report type: the fixture has exactly its JSON shape.
        let expected: CrossValidationMetrics
        let extras: Expected

        enum CodingKeys: String, CodingKey { case name, threshold, has_fold_columns, predictions, expected }
        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            threshold = try container.decode(Double.self, forKey: .threshold)
            has_fold_columns = try container.decode(Bool.self, forKey: .has_fold_columns)
            predictions = try container.decode(Columns.self, forKey: .predictions)
            expected = try container.decode(CrossValidationMetrics.self, forKey: .expected)
            extras = try container.decode(Expected.self, forKey: .expected)
        }

        func makePredictions() throws -> [Prediction] {
            try predictions.case_id.indices.map { i in
                try Prediction(caseID: predictions.case_id[i], label: predictions.label[i], score: predictions.score[i],
                               fold: predictions.fold[i], repeat: predictions.repeat[i])
            }
        }
    }
    let bootstrap_resamples: Int
    let sets: [Set]
}

/// delong_reference.json: pairs of score sets and the numpy DeLong values.
struct DeLongReference: Decodable {
    struct Case: Decodable {
        let name: String
        let labels: [Int], scores_a: [Double], scores_b: [Double]
        let auc_a: Double, auc_b: Double, variance_a: Double, variance_b: Double, covariance: Double
        let z: Double?, p_value: Double?
    }
    let cases: [Case]
}

/// Tracks the largest |ours − reference| over a test, failing on any above the tolerance.
struct Difference {
    let tolerance: Double
    private(set) var largest = 0.0

    init(tolerance: Double) { self.tolerance = tolerance }

    /// True when both are nil or both are numbers within the tolerance.
    mutating func agree(_ ours: Double?, _ reference: Double?) -> Bool {
        switch (ours, reference) {
        case (nil, nil): return true
        case let (ours?, reference?):
            let difference = abs(ours - reference)
            largest = max(largest, difference)
            return difference <= tolerance
        default: return false
        }
    }
}
