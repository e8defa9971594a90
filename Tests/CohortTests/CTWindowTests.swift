import XCTest
@testable import Cohort

final class CTWindowTests: XCTestCase {
    func testSoftTissueWindowMapsAndClamps() {
        let window = CTWindow.softTissue
        XCTAssertEqual(window, CTWindow(level: 40, width: 400))
        XCTAssertEqual(window(-160), 0)
        XCTAssertEqual(window(240), 1)
        XCTAssertEqual(window(40), 0.5)
        XCTAssertEqual(window(-60), 0.25)
        XCTAssertEqual(window(-1000), 0, "air clamps to black")
        XCTAssertEqual(window(3000), 1, "bone and metal clamp to white")
    }

    func testParsingAndDescriptionRoundTrip() {
        XCTAssertEqual(IntensityWindow("40,400"), .ct(.softTissue))
        XCTAssertEqual(IntensityWindow(" -600 , 1500 "), .ct(CTWindow(level: -600, width: 1500)))
        XCTAssertEqual(IntensityWindow("None"), IntensityWindow.none)
        XCTAssertEqual(IntensityWindow("40.5,350")?.description, "40.5,350")
        XCTAssertEqual(IntensityWindow.ct(.softTissue).description, "40,400")
        XCTAssertEqual(IntensityWindow.none.description, "none")
        for bad in ["", "40", "40,0", "40,-400", "40,400,1", "a,b", "40,inf"] { XCTAssertNil(IntensityWindow(bad), bad) }
    }

    func testTheRulePerEncoding() {
        let hu: [Float] = [-160, 40, 240]
        func mapped(_ pixels: [Float], _ encoding: IntensityEncoding, _ window: IntensityWindow, offset: Float = 1024) -> [Float] {
            var image = GrayImage(width: pixels.count, height: 1, pixels: pixels)
            window.apply(to: &image, encoding: encoding, hounsfieldOffset: offset)
            return image.pixels
        }
        // 8-bit images are display values already: the window never applies.
        XCTAssertEqual(mapped([0, 51, 255], .display8Bit, .ct(.softTissue)), [0, 0.2, 1])
        XCTAssertEqual(mapped([0, 51, 255], .display8Bit, .none), [0, 0.2, 1])
        // 16-bit PNG: HU + offset.
        XCTAssertEqual(mapped(hu.map { $0 + 1024 }, .offsetHounsfield16Bit, .ct(.softTissue)), [0, 0.5, 1])
        XCTAssertEqual(mapped(hu.map { $0 + 2000 }, .offsetHounsfield16Bit, .ct(.softTissue), offset: 2000), [0, 0.5, 1])
        XCTAssertEqual(mapped([0, 65535], .offsetHounsfield16Bit, .none), [0, 1])
        // NIfTI / NPY values: HU under a window; divided by the full scale under none, not clamped.
        XCTAssertEqual(mapped(hu, .values(fullScale: 1), .ct(.softTissue)), [0, 0.5, 1])
        XCTAssertEqual(mapped([0.25, 1.5], .values(fullScale: 1), .none), [0.25, 1.5])
        XCTAssertEqual(mapped([51, 255], .values(fullScale: 255), .none), [0.2, 1])
    }
}
