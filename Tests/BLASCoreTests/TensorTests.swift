import XCTest
@testable import BLASCore

final class TensorTests: XCTestCase {
    func testReshapeRejectsWrongCount() throws {
        let t = Tensor(zeros: [2, 3])
        XCTAssertThrowsError(try t.reshaped([4, 2])) { error in
            XCTAssertEqual("\(error)", "cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)")
        }
    }
}
