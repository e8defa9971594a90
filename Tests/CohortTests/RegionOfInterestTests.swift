import XCTest
@testable import Cohort

/// Slice choice, mask bounding box, margin and the whole case → windowed image path of `CaseImageReader`.
final class RegionOfInterestTests: XCTestCase {
    let ct = CohortFixtures.image("ct_int16_scaled.nii.gz")  // 5×4×3, HU = 2 (i + 10 j + 100 k − 50) − 1000
    let mask = CohortFixtures.image("mask_uint8.nii.gz")     // largest on slice 1: x 1…3, y 2…3
    /// No window: NIfTI values come back as HU (scaling applied), easy to check exactly.
    let raw = CaseImageReader(window: .none, roiMargin: 0)

    func hounsfield(_ i: Int, _ j: Int, _ k: Int) -> Float { Float(2 * (i + 10 * j + 100 * k - 50) - 1000) }

    func testLargestSliceAndBoundingBox() throws {
        let volume = try ImageFile.read(mask)
        XCTAssertEqual(RegionOfInterest.largestSlice(of: volume), 1)
        XCTAssertEqual(RegionOfInterest.boundingBox(of: volume.slice(1)), PixelBox(x: 1, y: 2, width: 3, height: 2))
        XCTAssertEqual(RegionOfInterest.boundingBox(of: volume.slice(0)), PixelBox(x: 1, y: 1, width: 1, height: 1))
        XCTAssertNil(RegionOfInterest.boundingBox(of: GrayImage(width: 2, height: 2, pixels: [0, 0, 0, 0])))
        XCTAssertNil(RegionOfInterest.largestSlice(of: GrayVolume(width: 1, height: 1, depth: 2, voxels: [0, 0], encoding: .display8Bit)))
        let tie = GrayVolume(width: 2, height: 1, depth: 3, voxels: [0, 1, 1, 0, 0, 0], encoding: .display8Bit)
        XCTAssertEqual(RegionOfInterest.largestSlice(of: tie), 0, "ties go to the lowest slice")
    }

    func testMarginIsClampedToTheImage() {
        let box = PixelBox(x: 1, y: 2, width: 3, height: 2)
        XCTAssertEqual(box.expanded(by: 1, within: 5, 4), PixelBox(x: 0, y: 1, width: 5, height: 3))
        XCTAssertEqual(box.expanded(by: 0, within: 5, 4), box)
        XCTAssertEqual(box.expanded(by: 100, within: 5, 4), PixelBox(x: 0, y: 0, width: 5, height: 4))
        let image = GrayImage(width: 3, height: 2, pixels: [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(image.cropped(to: PixelBox(x: 1, y: 0, width: 2, height: 2)), GrayImage(width: 2, height: 2, pixels: [1, 2, 4, 5]))
    }

    func testMaskPicksTheLargestSliceAndCrops() throws {
        let image = try raw.image(at: ct, mask: mask)
        XCTAssertEqual([image.width, image.height], [3, 2])
        for y in 0..<2 {
            for x in 0..<3 { XCTAssertEqual(image[x, y], hounsfield(1 + x, 2 + y, 1)) }
        }
        var withMargin = raw
        withMargin.roiMargin = 1
        let grown = try withMargin.image(at: ct, mask: mask)
        XCTAssertEqual([grown.width, grown.height], [5, 3])
        XCTAssertEqual(grown[0, 0], hounsfield(0, 1, 1))
    }

    func testSliceColumnWinsOverTheLargestMaskSlice() throws {
        let image = try raw.image(at: ct, slice: 2, mask: mask)
        XCTAssertEqual([image.width, image.height], [2, 2], "slice 2's own mask: x 0…1, y 0…1")
        XCTAssertEqual(image[1, 1], hounsfield(1, 1, 2))
        let oneSliceMask = try raw.image(at: ct, slice: 0, mask: CohortFixtures.image("mask_slice_uint8.nii"))
        XCTAssertEqual([oneSliceMask.width, oneSliceMask.height], [3, 2], "a 2-D mask outlines the given slice")
        XCTAssertEqual(oneSliceMask[0, 0], hounsfield(1, 2, 0))
        let whole = try raw.image(at: ct, slice: 1)
        XCTAssertEqual([whole.width, whole.height], [5, 4], "no mask: no crop")
    }

    func testReaderAppliesTheWindowRuleForEachFormat() throws {
        let ctSlice = try CaseImageReader().image(at: CohortFixtures.image("ct_hu1024.png"))
        let expected: [Float] = (0..<12).map { (index: Int) -> Float in
            let hounsfield: Int = 100 * (index % 4) + 400 * (index / 4) - 1000
            return CTWindow.softTissue(Float(hounsfield))
        }
        XCTAssertEqual(ctSlice.pixels, expected)
        XCTAssertEqual(ctSlice.pixels.filter { $0 > 0 && $0 < 1 }.count, 3, "−100, 0 and 100 HU fall inside 40 ± 200")

        let scratch = try ScratchFolder()
        let png = try scratch.writePNG("g.png", width: 2, height: 1, channels: 1, samples: [0, 255])
        XCTAssertEqual(try CaseImageReader().image(at: png).pixels, [0, 1])
        XCTAssertEqual(try CaseImageReader(window: .none).image(at: CohortFixtures.image("gray_u1.npy")).pixels, [0, 1, 2, 3, 4, 5].map { Float($0) / 255 })
    }

    func testManifestCaseEndToEnd() throws {
        let scratch = try ScratchFolder()
        try FileManager.default.copyItem(at: ct, to: scratch.file("ct.nii.gz"))
        try FileManager.default.copyItem(at: mask, to: scratch.file("mask.nii.gz"))
        let csv = try scratch.write("m.csv", "case_id,label,image,mask,slice\nP1,1,ct.nii.gz,mask.nii.gz,\nP2,0,ct.nii.gz,,2\n")
        let manifest = try Manifest(contentsOf: csv)
        XCTAssertEqual(try raw.image(for: manifest.cases[0]), try raw.image(at: ct, mask: mask))
        XCTAssertEqual(try raw.image(for: manifest.cases[1]), try raw.image(at: ct, slice: 2))
    }

    // MARK: errors name the file

    func testSliceOutOfRange() {
        assertThrows(ImageFileError.self, [ct.path, "slice 3 is out of range: the image has 3 slices (0…2)"]) { try raw.image(at: ct, slice: 3) }
        let png = CohortFixtures.image("ct_hu1024.png")
        assertThrows(ImageFileError.self, [png.path, "slice 1 is out of range: the image has 1 slice (0…0)"]) { try raw.image(at: png, slice: 1) }
    }

    func testVolumeNeedsASliceOrAMask() {
        assertThrows(ImageFileError.self, [ct.path, "is a volume of 3 slices: give a slice or a mask column"]) { try raw.image(at: ct) }
        let oneSlice = CohortFixtures.image("mask_slice_uint8.nii")
        assertThrows(ImageFileError.self, [oneSlice.path, "one-slice mask for a volume of 3 slices: give a slice column"]) {
            try raw.image(at: ct, mask: oneSlice)
        }
    }

    func testMaskShapeDiffersFromImage() {
        let other = CohortFixtures.image("volume_float32.nii")
        assertThrows(ImageFileError.self, [mask.path, "mask is 5×4×3 but its image volume_float32.nii is 4×3×2"]) { try raw.image(at: other, mask: mask) }
        let png = CohortFixtures.image("ct_hu1024.png")
        assertThrows(ImageFileError.self, [mask.path, "mask is 5×4×3 but its image ct_hu1024.png is 4×3"]) { try raw.image(at: png, mask: mask) }
    }

    func testEmptyMask() throws {
        let scratch = try ScratchFolder()
        let image = try scratch.writePNG("i.png", width: 3, height: 2, channels: 1, samples: [1, 2, 3, 4, 5, 6])
        let empty = try scratch.writePNG("m.png", width: 3, height: 2, channels: 1, samples: [0, 0, 0, 0, 0, 0])
        assertThrows(ImageFileError.self, [empty.path, "mask is empty"]) { try raw.image(at: image, mask: empty) }
        assertThrows(ImageFileError.self, [empty.path, "mask has no non-zero pixel on slice 0"]) { try raw.image(at: image, slice: 0, mask: empty) }
    }

    func testUnreadableMaskIsNamed() throws {
        let scratch = try ScratchFolder()
        let garbage = try scratch.write("m.nii.gz", bytes: Data(repeating: 7, count: 64))
        assertThrows(ImageFileError.self, [garbage.path, "not a readable NIfTI"]) { try raw.image(at: ct, mask: garbage) }
    }
}
