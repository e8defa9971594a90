import XCTest
@testable import Evaluation

final class BootstrapTests: XCTestCase {
    let reference = Result { try Fixture.load("metrics_reference.json", as: MetricsReference.self) }

    func pooledCases(_ setName: String, repeat: Int = 0) throws -> (labels: [Int], scores: [Double]) {
        let set = try XCTUnwrap(try reference.get().sets.first { $0.name == setName })
        let cases = try set.makePredictions().filter { $0.repeat == `repeat` }
        return (cases.map(\.label), cases.map(\.score))
    }

    func testSameSeedSameIntervalOtherSeedOtherInterval() throws {
        let (labels, scores) = try pooledCases("imbalanced_124_58")
        var first = SplitMix64(seed: 3), again = SplitMix64(seed: 3), other = SplitMix64(seed: 4)
        let interval = try ConfidenceInterval.bootstrapAUC(labels: labels, scores: scores, resamples: 500, using: &first)
        XCTAssertEqual(interval, try ConfidenceInterval.bootstrapAUC(labels: labels, scores: scores, resamples: 500, using: &again))
        XCTAssertNotEqual(interval, try ConfidenceInterval.bootstrapAUC(labels: labels, scores: scores, resamples: 500, using: &other))
    }

    /// Different generators, so only loosely: the interval brackets the AUC, and its width is within 20% of the
    /// numpy implementation's (2000 stratified resamples, percentile method) on every pooled set of ≥ 30 cases.
    func testIntervalBracketsTheAUCAndMatchesNumpysWidth() throws {
        let reference = try reference.get()
        var compared = 0
        for set in reference.sets {
            let predictions = try set.makePredictions()
            for (expected, extras) in zip(set.expected.pooled, set.extras.pooled) {
                let cases = predictions.filter { $0.repeat == extras.repeat }
                var generator = SplitMix64(seed: 11)
                let interval = try ConfidenceInterval.bootstrapAUC(labels: cases.map(\.label), scores: cases.map(\.score),
                                                                   resamples: reference.bootstrap_resamples, using: &generator)
                guard let numpy = extras.numpy_bootstrap_ci95, let auc = expected.metrics.auc else {
                    XCTAssertNil(interval, set.name)
                    continue
                }
                let ours = try XCTUnwrap(interval, set.name)
                XCTAssertLessThanOrEqual(ours.lower, auc, set.name)
                XCTAssertGreaterThanOrEqual(ours.upper, auc, set.name)
                guard cases.count >= 30 else { continue }
                let width = ours.upper - ours.lower, numpyWidth = numpy[1] - numpy[0]
                XCTAssertEqual(width, numpyWidth, accuracy: 0.2 * numpyWidth, "\(set.name) repeat \(extras.repeat)")
                compared += 1
            }
        }
        XCTAssertEqual(compared, 12)
    }

    func testPercentileInterpolatesLikeNumpy() {
        // numpy.percentile([1, 2, 3, 4, 10], [2.5, 97.5]) = [1.1, 9.4]
        XCTAssertEqual(ConfidenceInterval.percentile(sorted: [1, 2, 3, 4, 10], 0.025), 1.1, accuracy: 1e-12)
        XCTAssertEqual(ConfidenceInterval.percentile(sorted: [1, 2, 3, 4, 10], 0.975), 9.4, accuracy: 1e-12)
        XCTAssertEqual(ConfidenceInterval.percentile(sorted: [0.7], 0.975), 0.7)
    }

    func testNoIntervalWithoutBothClassesOrResamples() throws {
        var generator = SplitMix64(seed: 1)
        XCTAssertNil(try ConfidenceInterval.bootstrapAUC(labels: [1, 1], scores: [0.2, 0.3], using: &generator))
        XCTAssertNil(try ConfidenceInterval.bootstrapAUC(labels: [0, 1], scores: [0.2, 0.3], resamples: 0, using: &generator))
        XCTAssertThrowsError(try ConfidenceInterval.bootstrapAUC(labels: [0, 1], scores: [0.2, 0.3], resamples: -1, using: &generator))
    }
}
