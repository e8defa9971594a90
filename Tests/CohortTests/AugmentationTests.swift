import BLASCore
import XCTest
@testable import Cohort

final class AugmentationTests: XCTestCase {
    /// A non-symmetric test pattern in [0, 1].
    let image = GrayImage(width: 24, height: 16, pixels: (0..<(24 * 16)).map { i in
        let x = Float(i % 24), y = Float(i / 24)
        return min(1, 0.02 * x + 0.03 * y + (x > 15 && y < 6 ? 0.3 : 0))
    })

    func testNoneLeavesTheImageAndTheGeneratorUntouched() {
        var generator = SeededGenerator(seed: 5)
        var untouched = SeededGenerator(seed: 5)
        XCTAssertEqual(image.augmented(.none, using: &generator), image)
        XCTAssertEqual(generator.next(), untouched.next())
        XCTAssertTrue(AugmentationSettings.none.isIdentity)
        XCTAssertFalse(AugmentationSettings().isIdentity)
    }

    func testSameSeedSameImageOtherSeedOtherImage() {
        var first = SeededGenerator(seed: 11, stream: "augment", "fold=0")
        var second = SeededGenerator(seed: 11, stream: "augment", "fold=0")
        var other = SeededGenerator(seed: 12, stream: "augment", "fold=0")
        for _ in 0..<5 {
            let a = image.augmented(AugmentationSettings(), using: &first)
            XCTAssertEqual(a, image.augmented(AugmentationSettings(), using: &second))
            XCTAssertNotEqual(a, image.augmented(AugmentationSettings(), using: &other))
            XCTAssertNotEqual(a, image)
        }
    }

    func testOutputKeepsSizeAndRange() {
        var generator = SeededGenerator(seed: 1)
        let strong = AugmentationSettings(cropScale: 0.3...1, cropAspectRatio: 0.5...2, maxRotationDegrees: 45,
                                          brightness: 0.5, contrast: 0.9)
        var buffer = GrayImage(width: 1, height: 1, pixels: [0])
        for _ in 0..<20 {
            image.augment(strong, into: &buffer, using: &generator)
            XCTAssertEqual(buffer.width, image.width)
            XCTAssertEqual(buffer.height, image.height)
            XCTAssertTrue(buffer.pixels.allSatisfy { (0...1).contains($0) })
        }
    }

    func testCertainFlipsMirrorTheImage() {
        var generator = SeededGenerator(seed: 3)
        let flips = AugmentationSettings(cropScale: 1...1, cropAspectRatio: 1...1, horizontalFlipProbability: 1,
                                         verticalFlipProbability: 1, maxRotationDegrees: 0, brightness: 0, contrast: 0)
        let flipped = image.augmented(flips, using: &generator)
        for y in 0..<image.height {
            for x in 0..<image.width {
                XCTAssertEqual(flipped[x, y], image[image.width - 1 - x, image.height - 1 - y], accuracy: 1e-5)
            }
        }
    }

    func testGeometryKeepsAFlatImageFlatAndJitterShiftsIt() {
        let flat = GrayImage(width: 20, height: 30, pixels: Array(repeating: 0.4, count: 600))
        var generator = SeededGenerator(seed: 9)
        let geometry = AugmentationSettings(brightness: 0, contrast: 0)
        for _ in 0..<10 {
            for value in flat.augmented(geometry, using: &generator).pixels { XCTAssertEqual(value, 0.4, accuracy: 1e-6) }
        }
        let brightness = AugmentationSettings(cropScale: 1...1, cropAspectRatio: 1...1, horizontalFlipProbability: 0,
                                              verticalFlipProbability: 0, maxRotationDegrees: 0, brightness: 0.1, contrast: 0)
        var shifts: Set<Float> = []
        for _ in 0..<10 {
            let shifted = flat.augmented(brightness, using: &generator).pixels
            XCTAssertTrue(shifted.allSatisfy { $0 == shifted[0] })
            XCTAssertEqual(shifted[0], 0.4, accuracy: 0.1 + 1e-6)
            shifts.insert(shifted[0])
        }
        XCTAssertGreaterThan(shifts.count, 5)
    }

    func testSmallRotationMovesPixelsOnlySlightly() {
        // ±10° about the center moves a 24×16 image's pixels by at most ~2 px: the result stays close to the input.
        var generator = SeededGenerator(seed: 4)
        let rotation = AugmentationSettings(cropScale: 1...1, cropAspectRatio: 1...1, horizontalFlipProbability: 0,
                                            verticalFlipProbability: 0, maxRotationDegrees: 10, brightness: 0, contrast: 0)
        let rotated = image.augmented(rotation, using: &generator)
        let meanDifference = zip(rotated.pixels, image.pixels).map { abs($0 - $1) }.reduce(0, +) / Float(image.pixels.count)
        XCTAssertGreaterThan(meanDifference, 0)
        XCTAssertLessThan(meanDifference, 0.05)
    }
}
