import XCTest
@testable import Cohort

final class GrayImageTests: XCTestCase {
    func testSubscriptIsRowMajor() {
        var image = GrayImage(width: 3, height: 2, pixels: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(image[2, 1], 5)
        image[0, 1] = 9
        XCTAssertEqual(image.pixels[3], 9)
    }
}
