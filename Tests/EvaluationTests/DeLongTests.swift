import XCTest
@testable import Evaluation

final class DeLongTests: XCTestCase {
    /// Against an independent numpy implementation of Sun & Xu's algorithm (itself checked against DeLong's
    /// O(m·n) original and scikit-learn's AUC in the generator).
    func testMatchesTheNumpyImplementation() throws {
        let reference = try Fixture.load("delong_reference.json", as: DeLongReference.self)
        XCTAssertEqual(reference.cases.count, 5)
        var difference = Difference(tolerance: 1e-12)
        for expected in reference.cases {
            let test = try DeLongTest(labels: expected.labels, scoresA: expected.scores_a, scoresB: expected.scores_b)
            let pairs: [(String, Double?, Double?)] = [
                ("auc_a", test.aucA, expected.auc_a), ("auc_b", test.aucB, expected.auc_b),
                ("variance_a", test.varianceA, expected.variance_a), ("variance_b", test.varianceB, expected.variance_b),
                ("covariance", test.covariance, expected.covariance), ("z", test.z, expected.z),
                ("p_value", test.pValue, expected.p_value),
            ]
            for (name, ours, theirs) in pairs {
                XCTAssertTrue(difference.agree(ours, theirs), "\(expected.name) \(name): \(String(describing: ours)) vs \(String(describing: theirs))")
            }
        }
        XCTAssertTrue(reference.cases.contains { $0.z == nil }, "the fixtures cover identical score sets")
        print("largest difference from the numpy DeLong implementation: \(difference.largest)")
    }

    func testSwappingTheScoreSetsNegatesZ() throws {
        let labels = [1, 0, 1, 1, 0, 0, 1, 0], a = [0.9, 0.2, 0.6, 0.4, 0.5, 0.1, 0.8, 0.3], b = [0.7, 0.6, 0.5, 0.9, 0.2, 0.4, 0.3, 0.1]
        let forward = try DeLongTest(labels: labels, scoresA: a, scoresB: b)
        let backward = try DeLongTest(labels: labels, scoresA: b, scoresB: a)
        XCTAssertEqual(try XCTUnwrap(forward.z), -(try XCTUnwrap(backward.z)), accuracy: 1e-15)
        XCTAssertEqual(forward.pValue, backward.pValue)
    }

    func testNeedsTwoCasesOfEachClass() {
        XCTAssertThrowsError(try DeLongTest(labels: [1, 0, 0], scoresA: [0.9, 0.1, 0.2], scoresB: [0.8, 0.3, 0.1])) { error in
            XCTAssertEqual("\(error)", "DeLong's test needs at least 2 cases of each class, got 1 with label 1 and 2 with label 0")
        }
        XCTAssertThrowsError(try DeLongTest(labels: [1, 0, 1, 0], scoresA: [0.9, 0.1, 0.2, 0.3], scoresB: [0.8, 0.3]))
    }
}
