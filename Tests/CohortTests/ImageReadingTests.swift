import XCTest
@testable import Cohort

/// PNG/JPEG (stb_image), NIfTI (nifti2_io) and NPY readers on files written by independent tools.
final class ImageReadingTests: XCTestCase {
    // MARK: PNG / JPEG

    func testEightBitGrayPNG() throws {
        let scratch = try ScratchFolder()
        let samples: [UInt8] = [0, 10, 128, 255, 7, 99]
        let volume = try ImageFile.read(try scratch.writePNG("g.png", width: 3, height: 2, channels: 1, samples: samples))
        XCTAssertEqual([volume.width, volume.height, volume.depth], [3, 2, 1])
        XCTAssertEqual(volume.voxels, samples.map(Float.init))
        XCTAssertEqual(volume.encoding, .display8Bit)
    }

    func testColorBecomesPillowLuma() throws {
        let scratch = try ScratchFolder()
        // RGB pixels: pure red, pure green, pure blue, a gray 77 stored as RGB, and an odd color.
        let rgb: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 77, 77, 77, 12, 200, 31]
        let volume = try ImageFile.read(try scratch.writePNG("c.png", width: 5, height: 1, channels: 3, samples: rgb))
        // Pillow: Image.new("RGB", …).convert("L") gives 76, 150, 29, 77, 125 for these pixels.
        XCTAssertEqual(volume.voxels, [76, 150, 29, 77, 125])

        let rgba: [UInt8] = [12, 200, 31, 0, 77, 77, 77, 255]
        let withAlpha = try ImageFile.read(try scratch.writePNG("a.png", width: 2, height: 1, channels: 4, samples: rgba))
        XCTAssertEqual(withAlpha.voxels, [125, 77], "alpha is ignored")
        let grayAlpha = try ImageFile.read(try scratch.writePNG("ga.png", width: 2, height: 1, channels: 2, samples: [5, 0, 250, 255]))
        XCTAssertEqual(grayAlpha.voxels, [5, 250])
    }

    func testJPEG() throws {
        let scratch = try ScratchFolder()
        let samples = [UInt8](repeating: 100, count: 8 * 8) + [UInt8](repeating: 200, count: 8 * 8)
        let volume = try ImageFile.read(try scratch.writeJPEG("j.jpeg", width: 8, height: 16, channels: 1, samples: samples))
        XCTAssertEqual([volume.width, volume.height], [8, 16])
        XCTAssertEqual(volume.encoding, .display8Bit)
        // Lossy, but flat 8×8 blocks at quality 100 come back within a level or two.
        for (value, expected) in zip(volume.voxels, samples) { XCTAssertEqual(value, Float(expected), accuracy: 2) }
    }

    func testSixteenBitGrayPNGKeepsAllBits() throws {
        let volume = try ImageFile.read(CohortFixtures.image("ct_hu1024.png"))
        XCTAssertEqual([volume.width, volume.height, volume.depth], [4, 3, 1])
        XCTAssertEqual(volume.encoding, .offsetHounsfield16Bit)
        for y in 0..<3 {
            for x in 0..<4 { XCTAssertEqual(volume.voxels[y * 4 + x], Float(100 * x + 400 * y - 1000 + 1024)) }
        }
    }

    func testSixteenBitRGBPNG() throws {
        let volume = try ImageFile.read(CohortFixtures.image("rgb16.png"))
        let red: Int = (19595 * 65535 + 0x8000) >> 16
        let mixed: Int = (19595 * 1000 + 38470 * 2000 + 7471 * 3000 + 0x8000) >> 16
        XCTAssertEqual(volume.voxels, [Float(red), Float(mixed)])
    }

    func testGarbagePNG() throws {
        let scratch = try ScratchFolder()
        let file = try scratch.write("bad.png", bytes: Data("this is not an image at all".utf8))
        assertThrows(ImageFileError.self, [file.path, "cannot be decoded as PNG/JPEG"]) { try ImageFile.read(file) }
        let truncated = try scratch.write("cut.png", bytes: try Data(contentsOf: CohortFixtures.image("ct_hu1024.png")).prefix(40))
        assertThrows(ImageFileError.self, [truncated.path, "cannot be decoded"]) { try ImageFile.read(truncated) }
    }

    func testUnsupportedAndMissingFiles() throws {
        let scratch = try ScratchFolder()
        let bmp = try scratch.write("x.bmp", "BM")
        assertThrows(ImageFileError.self, [bmp.path, "unsupported image type"]) { try ImageFile.read(bmp) }
        for name in ["gone.png", "gone.nii.gz", "gone.npy"] {
            assertThrows(ImageFileError.self, [scratch.file(name).path, "does not exist"]) { try ImageFile.read(scratch.file(name)) }
        }
    }

    // MARK: NIfTI

    func testNIfTI1Int16WithSlopeAndInterceptGzipped() throws {
        let volume = try ImageFile.read(CohortFixtures.image("ct_int16_scaled.nii.gz"))
        XCTAssertEqual([volume.width, volume.height, volume.depth], [5, 4, 3])
        XCTAssertEqual(volume.encoding, .values(fullScale: 1))
        for k in 0..<3 {
            for j in 0..<4 {
                for i in 0..<5 {
                    let stored = i + 10 * j + 100 * k - 50
                    XCTAssertEqual(volume.voxels[i + 5 * (j + 4 * k)], Float(2 * stored - 1000), "voxel (\(i),\(j),\(k))")
                }
            }
        }
        // Slice k: image column x = i, row y = j.
        XCTAssertEqual(volume.slice(2)[3, 1], Float(2 * (3 + 10 + 200 - 50) - 1000))
    }

    func testNIfTI2Float32WithZeroSlopeIsUnscaled() throws {
        let volume = try ImageFile.read(CohortFixtures.image("volume_float32.nii"))
        XCTAssertEqual([volume.width, volume.height, volume.depth], [4, 3, 2])
        XCTAssertEqual(volume.voxels[1 + 4 * (2 + 3 * 1)], 0.5 + 2 + 10)
        XCTAssertEqual(volume.voxels.max(), 0.5 * 3 + 2 + 10)
    }

    func testNIfTIUint8AndUint16() throws {
        let mask = try ImageFile.read(CohortFixtures.image("mask_uint8.nii.gz"))
        XCTAssertEqual(mask.encoding, .values(fullScale: 255))
        XCTAssertEqual(mask.voxels.reduce(0, +), 1 + 6 + 4)
        let image = try ImageFile.read(CohortFixtures.image("image_uint16.nii"))
        XCTAssertEqual([image.width, image.height, image.depth], [3, 2, 1])
        XCTAssertEqual(image.voxels, [0, 1000, 2000, 1, 1001, 2001])
        XCTAssertEqual(image.encoding, .values(fullScale: 65535))
    }

    func testTruncatedNIfTI() throws {
        let scratch = try ScratchFolder()
        let whole = try Data(contentsOf: CohortFixtures.image("ct_int16_scaled.nii.gz"))
        let cut = try scratch.write("cut.nii.gz", bytes: whole.prefix(whole.count - 40))
        assertThrows(ImageFileError.self, [cut.path, "truncated"]) { try ImageFile.read(cut) }
        let header = try scratch.write("header.nii.gz", bytes: whole.prefix(30))
        assertThrows(ImageFileError.self, [header.path, "not a readable NIfTI-1/2 file"]) { try ImageFile.read(header) }
        let plain = try Data(contentsOf: CohortFixtures.image("volume_float32.nii"))
        let short = try scratch.write("short.nii", bytes: plain.prefix(plain.count - 8))
        assertThrows(ImageFileError.self, [short.path, "truncated or unreadable", "4×3×2 FLOAT32 voxels"]) { try ImageFile.read(short) }
    }

    func testGarbageNIfTI() throws {
        let scratch = try ScratchFolder()
        let garbage = try scratch.write("garbage.nii", bytes: Data((0..<400).map { UInt8(truncatingIfNeeded: $0 &* 37) }))
        assertThrows(ImageFileError.self, [garbage.path, "not a readable NIfTI-1/2 file"]) { try ImageFile.read(garbage) }
    }

    func testFourDimensionalNIfTI() {
        let file = CohortFixtures.image("volume_4d.nii")
        assertThrows(ImageFileError.self, [file.path, "4-D data (2×2×2×2)", "expected a 2-D image or a 3-D volume"]) { try ImageFile.read(file) }
    }

    // MARK: NPY

    func testNPYEveryDtype() throws {
        let base: [Float] = [-2, -1, 0, 1, 2, 3]
        for (name, expected, fullScale) in [("gray_f4", base, Float(1)), ("gray_f8", base, 1), ("gray_i2", base, 1), ("gray_i4", base, 1),
                                            ("gray_u1", base.map { $0 + 2 }, 255), ("gray_u2", base.map { ($0 + 2) * 1000 }, 65535)] {
            let volume = try ImageFile.read(CohortFixtures.image("\(name).npy"))
            XCTAssertEqual([volume.width, volume.height, volume.depth], [3, 2, 1], name)
            XCTAssertEqual(volume.voxels, expected, name)
            XCTAssertEqual(volume.encoding, .values(fullScale: fullScale), name)
        }
    }

    func testNPYVolumeIsSlicesFirst() throws {
        let volume = try ImageFile.read(CohortFixtures.image("volume_2x2x3.npy"))
        XCTAssertEqual([volume.width, volume.height, volume.depth], [3, 2, 2])
        XCTAssertEqual(volume.slice(1)[2, 1], 100 + 3 + 2)
    }

    func testNPYModelReadyPixelValues() throws {
        let tensor = try NPYArray.pixelValues(contentsOf: CohortFixtures.image("pixels_3x2x2.npy"))
        XCTAssertEqual(tensor.shape, [3, 2, 2])
        var expected: [Float] = []
        for c in 0..<3 { for y in 0..<2 { for x in 0..<2 { expected.append(Float(c) + 0.25 * Float(2 * y + x) - 1) } } }
        XCTAssertEqual(tensor.values, expected, "exactly as stored: no windowing, no normalization")
    }

    func testNPYWrongDtypes() {
        for name in ["gray_big_endian", "gray_complex"] {
            let file = CohortFixtures.image("\(name).npy")
            assertThrows(ImageFileError.self, [file.path, "unsupported dtype", "expected <f4, <f8"]) { try ImageFile.read(file) }
        }
        let f8 = CohortFixtures.image("pixels_3x2x2_f8.npy")
        assertThrows(ImageFileError.self, [f8.path, "holds <f8 3×2×2; expected float32 (<f4) 3×H×W"]) { try NPYArray.pixelValues(contentsOf: f8) }
        let gray = CohortFixtures.image("gray_f4.npy")
        assertThrows(ImageFileError.self, [gray.path, "holds <f4 2×3; expected float32"]) { try NPYArray.pixelValues(contentsOf: gray) }
    }

    func testNPYFourDimensional() {
        let file = CohortFixtures.image("array_4d.npy")
        assertThrows(ImageFileError.self, [file.path, "4-D shape 1×3×2×2", "expected a gray H×W image or a D×H×W volume"]) { try ImageFile.read(file) }
    }

    func testNPYFortranOrderTruncatedAndGarbage() throws {
        let fortran = CohortFixtures.image("gray_fortran.npy")
        assertThrows(ImageFileError.self, [fortran.path, "Fortran order"]) { try ImageFile.read(fortran) }
        let scratch = try ScratchFolder()
        let whole = try Data(contentsOf: CohortFixtures.image("gray_f4.npy"))
        let cut = try scratch.write("cut.npy", bytes: whole.prefix(whole.count - 4))
        assertThrows(ImageFileError.self, [cut.path, "has 20 data bytes; shape [2, 3] of <f4 needs 24 (truncated)"]) { try ImageFile.read(cut) }
        let headerCut = try scratch.write("head.npy", bytes: whole.prefix(30))
        assertThrows(ImageFileError.self, [headerCut.path, "truncated NPY file"]) { try ImageFile.read(headerCut) }
        let garbage = try scratch.write("garbage.npy", bytes: Data("PK\u{3}\u{4} a zip, not an npy".utf8))
        assertThrows(ImageFileError.self, [garbage.path, "not an NPY file"]) { try ImageFile.read(garbage) }
    }
}
