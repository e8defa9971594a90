import XCTest
@testable import Evaluation

/// Every value against scikit-learn / numpy (scripts/fixturegen/metrics.py), within 1e-12.
final class ScikitLearnParityTests: XCTestCase {
    let reference = Result { try Fixture.load("metrics_reference.json", as: MetricsReference.self) }

    func assertAgree(_ ours: BinaryMetrics, _ expected: BinaryMetrics, _ difference: inout Difference, _ context: String) {
        XCTAssertEqual(ours.count, expected.count, context)
        let pairs: [(String, Double?, Double?)] = [
            ("auc", ours.auc, expected.auc), ("acc", ours.accuracy, expected.accuracy),
            ("sensitivity", ours.sensitivity, expected.sensitivity), ("specificity", ours.specificity, expected.specificity),
            ("balanced_accuracy", ours.balancedAccuracy, expected.balancedAccuracy), ("f1", ours.f1, expected.f1),
        ]
        for (name, mine, theirs) in pairs {
            XCTAssertTrue(difference.agree(mine, theirs), "\(context) \(name): \(String(describing: mine)) vs scikit-learn \(String(describing: theirs))")
        }
    }

    func testFoldsSummaryAndPooledMetricsEqualScikitLearn() throws {
        let reference = try reference.get()
        XCTAssertEqual(reference.sets.count, 8)
        var difference = Difference(tolerance: 1e-12)
        for set in reference.sets {
            var generator = SplitMix64(seed: 1)
            let ours = try CrossValidationMetrics(predictions: set.makePredictions(), threshold: set.threshold,
                                                  bootstrapResamples: 0, using: &generator)
            let expected = set.expected
            XCTAssertEqual(ours.folds.map { [$0.repeat, $0.fold] }, expected.folds.map { [$0.repeat, $0.fold] }, set.name)
            for (mine, theirs) in zip(ours.folds, expected.folds) {
                assertAgree(mine.metrics, theirs.metrics, &difference, "\(set.name) repeat \(mine.repeat) fold \(mine.fold)")
            }
            let summaries: [(String, MeanAndDeviation?, MeanAndDeviation?)] = [
                ("auc", ours.summary.auc, expected.summary.auc), ("acc", ours.summary.accuracy, expected.summary.accuracy),
                ("sensitivity", ours.summary.sensitivity, expected.summary.sensitivity),
                ("specificity", ours.summary.specificity, expected.summary.specificity),
                ("balanced_accuracy", ours.summary.balancedAccuracy, expected.summary.balancedAccuracy),
                ("f1", ours.summary.f1, expected.summary.f1),
            ]
            for (name, mine, theirs) in summaries {
                XCTAssertTrue(difference.agree(mine?.mean, theirs?.mean), "\(set.name) summary \(name) mean")
                XCTAssertTrue(difference.agree(mine?.std, theirs?.std), "\(set.name) summary \(name) std")
            }
            XCTAssertEqual(ours.pooled.map(\.repeat), expected.pooled.map(\.repeat), set.name)
            for (mine, theirs) in zip(ours.pooled, expected.pooled) {
                assertAgree(mine.metrics, theirs.metrics, &difference, "\(set.name) pooled repeat \(mine.repeat)")
            }
        }
        print("largest difference from scikit-learn/numpy over \(reference.sets.count) prediction sets: \(difference.largest)")
    }

    func testROCCurveEqualsScikitLearnWithoutDroppingPoints() throws {
        var difference = Difference(tolerance: 1e-12)
        var curves = 0
        for set in try reference.get().sets {
            let predictions = try set.makePredictions()
            for extras in set.extras.pooled {
                let cases = predictions.filter { $0.repeat == extras.repeat }
                guard let expected = extras.roc else {
                    XCTAssertThrowsError(try ROCCurve(labels: cases.map(\.label), scores: cases.map(\.score)), set.name)
                    continue
                }
                let curve = try ROCCurve(labels: cases.map(\.label), scores: cases.map(\.score))
                XCTAssertEqual(curve.thresholds.first, .infinity)
                XCTAssertEqual(Array(curve.thresholds.dropFirst()), expected.thresholds_after_infinity, set.name)
                XCTAssertEqual(curve.falsePositiveRates.count, expected.fpr.count, set.name)
                for (mine, theirs) in zip(curve.falsePositiveRates + curve.truePositiveRates, expected.fpr + expected.tpr) {
                    XCTAssertTrue(difference.agree(mine, theirs), set.name)
                }
                curves += 1
            }
        }
        XCTAssertEqual(curves, 14)
    }

    /// The Mann–Whitney walk against a direct count of every positive–negative pair, on random scores with ties.
    func testAUCEqualsThePairCountExactly() throws {
        var generator = SplitMix64(seed: 7)
        for trial in 0..<200 {
            let count = Int.random(in: 2...40, using: &generator)
            var labels = (0..<count).map { _ in Int.random(in: 0...1, using: &generator) }
            labels[0] = 0
            labels[1] = 1
            let grid = Double(Int.random(in: 2...12, using: &generator))
            let scores = (0..<count).map { _ in (Double.random(in: 0...1, using: &generator) * grid).rounded() / grid }
            var twiceU = 0, positives = 0, negatives = 0
            for i in 0..<count where labels[i] == 1 {
                positives += 1
                for j in 0..<count where labels[j] == 0 { twiceU += scores[i] > scores[j] ? 2 : scores[i] == scores[j] ? 1 : 0 }
            }
            negatives = count - positives
            let metrics = try BinaryMetrics(labels: labels, scores: scores)
            XCTAssertEqual(metrics.auc, Double(twiceU) / Double(2 * positives * negatives), "trial \(trial)")
        }
    }

    func testThresholdIsStrict() throws {
        // Scores equal to the threshold are predicted 0.
        let metrics = try BinaryMetrics(labels: [1, 1, 0, 0], scores: [0.5, 0.9, 0.5, 0.1], threshold: 0.5)
        XCTAssertEqual(metrics.sensitivity, 0.5)
        XCTAssertEqual(metrics.specificity, 1)
        XCTAssertEqual(metrics.accuracy, 0.75)
        XCTAssertEqual(metrics.f1, 2.0 / 3.0)
        XCTAssertEqual(metrics.auc, 0.875)
    }
}
