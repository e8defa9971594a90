import Foundation
import TestSupport
import XCTest
@testable import Training

/// The linear-probe baseline equals scikit-learn's StandardScaler + LogisticRegression(C=1) (fixture from
/// scripts/fixturegen/linear_probe.py, solved there to tol 1e-10).
final class LinearProbeTests: XCTestCase {
    func testProbabilitiesMatchScikitLearn() throws {
        let url = ReferenceFixture.testsDirectory.appendingPathComponent("TrainingTests/Fixtures/linear_probe.json")
        let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var worst = 0.0
        for item in fixture["cases"] as! [[String: Any]] {
            let train = (item["train_features"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
            let labels = (item["train_labels"] as! [NSNumber]).map(\.intValue)
            let test = (item["test_features"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
            let expected = (item["test_probabilities"] as! [NSNumber]).map(\.doubleValue)
            let probe = try LinearProbe(features: train, labels: labels)
            for (features, probability) in zip(test, expected) {
                worst = max(worst, abs(probe.probability(features) - probability))
            }
        }
        // Newton's method solves exactly; lbfgs stops at its gradient tolerance (measured: 7.1e-8 apart).
        XCTAssertLessThanOrEqual(worst, 1e-6, "largest difference from scikit-learn")
    }

    func testNeedsBothClasses() {
        XCTAssertThrowsError(try LinearProbe(features: [[1], [2]], labels: [1, 1])) {
            XCTAssertEqual("\($0)", "linear probe: training labels must contain both classes 0 and 1")
        }
    }
}
