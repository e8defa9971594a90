import XCTest
@testable import Evaluation

final class SummaryTests: XCTestCase {
    func testSampleStandardDeviationUsesDdofOne() {
        // numpy.std([0.7, 0.8, 0.9], ddof=1) = 0.1
        let summary = MeanAndDeviation([0.7, 0.8, 0.9])
        XCTAssertEqual(summary.mean, 0.8, accuracy: 1e-15)
        XCTAssertEqual(summary.std, 0.1, accuracy: 1e-15)
        XCTAssertEqual(MeanAndDeviation([0.5]).std, 0)
    }
}
