import XCTest
@testable import Evaluation

final class CrossValidationMetricsTests: XCTestCase {
    /// Two repeats of two folds; repeat 1 fold 1 has only negatives.
    func makePredictions() throws -> [Prediction] {
        let rows: [(String, Int, Double, Int, Int)] = [
            ("a", 1, 0.9, 0, 0), ("b", 0, 0.4, 0, 0), ("c", 1, 0.3, 0, 0),
            ("d", 0, 0.6, 1, 0), ("e", 1, 0.7, 1, 0), ("f", 0, 0.2, 1, 0),
            ("a", 1, 0.8, 0, 1), ("c", 1, 0.6, 0, 1), ("e", 1, 0.4, 0, 1), ("b", 0, 0.5, 0, 1),
            ("d", 0, 0.7, 1, 1), ("f", 0, 0.1, 1, 1),
        ]
        return try rows.map { try Prediction(caseID: $0.0, label: $0.1, score: $0.2, fold: $0.3, repeat: $0.4) }
    }

    func testJSONHasTheIssuesShapeAndRoundTrips() throws {
        var generator = SplitMix64(seed: 5)
        let metrics = try CrossValidationMetrics(predictions: makePredictions(), bootstrapResamples: 200, using: &generator)
        let data = try JSONEncoder().encode(metrics)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["folds", "summary", "pooled"])
        let metricKeys: Set<String> = ["n", "auc", "acc", "sensitivity", "specificity", "balanced_accuracy", "f1"]
        let folds = try XCTUnwrap(json["folds"] as? [[String: Any]])
        XCTAssertEqual(folds.count, 4)
        for fold in folds { XCTAssertEqual(Set(fold.keys), metricKeys.union(["repeat", "fold"])) }
        XCTAssertEqual(folds.map { [$0["repeat"] as? Int, $0["fold"] as? Int] }, [[0, 0], [0, 1], [1, 0], [1, 1]])
        // The fold without positives: undefined values are written as null, not left out.
        XCTAssertTrue(folds[3]["auc"] is NSNull)
        XCTAssertTrue(folds[3]["sensitivity"] is NSNull)
        let summary = try XCTUnwrap(json["summary"] as? [String: Any])
        XCTAssertEqual(Set(summary.keys), ["auc", "acc", "sensitivity", "specificity", "balanced_accuracy", "f1", "std_ddof"])
        XCTAssertEqual(summary["std_ddof"] as? Int, 1)
        XCTAssertEqual(Set(try XCTUnwrap(summary["auc"] as? [String: Double]).keys), ["mean", "std"])
        let pooled = try XCTUnwrap(json["pooled"] as? [[String: Any]])
        XCTAssertEqual(pooled.count, 2)
        for entry in pooled {
            XCTAssertEqual(Set(entry.keys), metricKeys.union(["repeat", "auc_ci95"]))
            XCTAssertEqual((entry["auc_ci95"] as? [Double])?.count, 2)
        }
        XCTAssertEqual(try JSONDecoder().decode(CrossValidationMetrics.self, from: data), metrics)
    }

    func testSummaryIsOverTheFoldsThatDefineEachMetric() throws {
        var generator = SplitMix64(seed: 5)
        let metrics = try CrossValidationMetrics(predictions: makePredictions(), bootstrapResamples: 0, using: &generator)
        // Fold AUCs: 1/2 (r0 f0: a,c vs b), 1 (r0 f1), 2/3 (r1 f0: a,c,e vs b), undefined (r1 f1).
        let aucs = metrics.folds.map(\.metrics.auc)
        XCTAssertEqual(aucs, [0.5, 1, 2.0 / 3.0, nil])
        let expected = MeanAndDeviation([0.5, 1, 2.0 / 3.0])
        XCTAssertEqual(metrics.summary.auc, expected)
        XCTAssertEqual(metrics.summary.accuracy, MeanAndDeviation([2.0 / 3, 2.0 / 3, 3.0 / 4, 1.0 / 2]))
        XCTAssertEqual(metrics.pooled.map(\.metrics.count), [6, 6])
        XCTAssertNil(metrics.pooled[0].aucCI95)
    }

    func testWithoutFoldsEverythingIsFoldZeroOfRepeatZero() throws {
        var generator = SplitMix64(seed: 5)
        let predictions = try [(1, 0.8), (0, 0.3), (1, 0.4), (0, 0.6)].enumerated().map {
            try Prediction(caseID: "c\($0.offset)", label: $0.element.0, score: $0.element.1)
        }
        let metrics = try CrossValidationMetrics(predictions: predictions, bootstrapResamples: 100, using: &generator)
        XCTAssertEqual(metrics.folds.count, 1)
        XCTAssertEqual(metrics.folds[0].metrics, metrics.pooled[0].metrics)
        XCTAssertEqual(metrics.summary.auc, MeanAndDeviation([0.75]))
        XCTAssertEqual(metrics.summary.auc?.std, 0)
    }

    func testBadInputIsNamed() throws {
        var generator = SplitMix64(seed: 5)
        func error(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertEqual(error { _ = try Prediction(caseID: "x7", label: 2, score: 0.5) }, "case 'x7': label 2 is not 0 or 1")
        XCTAssertEqual(error { _ = try Prediction(caseID: "x7", label: 1, score: .nan) }, "case 'x7': score nan is not a finite number")
        XCTAssertEqual(error { _ = try Prediction(caseID: "x7", label: 1, score: 0.5, fold: -1) },
                       "case 'x7': fold -1 and repeat 0 must be ≥ 0")
        let twice = try [Prediction(caseID: "a", label: 1, score: 0.5), Prediction(caseID: "a", label: 0, score: 0.2, fold: 1)]
        XCTAssertEqual(error { _ = try CrossValidationMetrics(predictions: twice, using: &generator) },
                       "case 'a' appears more than once in repeat 0")
        XCTAssertEqual(error { _ = try CrossValidationMetrics(predictions: [], using: &generator) }, "no predictions")
        XCTAssertEqual(error { _ = try BinaryMetrics(labels: [1, 0], scores: [0.5]) }, "score set 0 has 1 scores for 2 labels")
        XCTAssertEqual(error { _ = try BinaryMetrics(labels: [1, -1], scores: [0.5, 0.1]) }, "index 1: label -1 is not 0 or 1")
        XCTAssertEqual(error { _ = try BinaryMetrics(labels: [1, 0], scores: [0.5, .infinity]) }, "index 1: score inf is not a finite number")
        XCTAssertEqual(error { _ = try BinaryMetrics(labels: [1, 0], scores: [0.5, 0.1], threshold: .nan) }, "the threshold is not a number")
        XCTAssertEqual(error { _ = try ROCCurve(labels: [0, 0], scores: [0.5, 0.1]) }, "a ROC curve needs both classes; every case has label 0")
    }
}
