import CStb
import CZlib
import Foundation
import XCTest
@testable import Cohort

final class PhantomTests: XCTestCase {
    let small = PhantomSettings(cases: 8, responders: 5, seed: 42, signal: 1, size: 64, slices: 3)

    func testSameSeedSameCasesOtherSeedOtherCases() throws {
        let cohort = try PhantomCohort(small), again = try PhantomCohort(small)
        var other = small
        other.seed = 43
        let different = try PhantomCohort(other)
        XCTAssertEqual(cohort.labels, again.labels)
        for index in [0, 7] {
            XCTAssertEqual(cohort.makeCase(index).hounsfield, again.makeCase(index).hounsfield)
            XCTAssertEqual(cohort.makeCase(index).lesionMask, again.makeCase(index).lesionMask)
            XCTAssertNotEqual(cohort.makeCase(index).hounsfield, different.makeCase(index).hounsfield)
        }
    }

    func testLabelsHaveTheRequestedCountsInSeededOrder() throws {
        let labels = try PhantomCohort(PhantomSettings(cases: 182, responders: 124, seed: 0, size: 64)).labels
        XCTAssertEqual(labels.count, 182)
        XCTAssertEqual(labels.filter { $0 == 1 }.count, 124)
        XCTAssertNotEqual(labels, labels.sorted(by: >), "responders are shuffled among the cases")
        XCTAssertNotEqual(labels, try PhantomCohort(PhantomSettings(cases: 182, responders: 124, seed: 1, size: 64)).labels)
    }

    func testWithoutSignalTheLabelCannotBeSeen() throws {
        var settings = small
        settings.signal = 0
        let cohort = try PhantomCohort(settings)
        for index in 0..<4 {
            let responder = cohort.makeCase(index, label: 1), nonResponder = cohort.makeCase(index, label: 0)
            XCTAssertEqual(responder.hounsfield, nonResponder.hounsfield)
            XCTAssertEqual(responder.lesionMask, nonResponder.lesionMask)
        }
    }

    func testWithSignalNonRespondersHaveLargerRougherMoreIrregularLesions() throws {
        let cohort = try PhantomCohort(small)
        for index in 0..<small.cases {
            let responder = cohort.makeCase(index, label: 1), nonResponder = cohort.makeCase(index, label: 0)
            XCTAssertLessThan(responder.lesion.radiusMM, nonResponder.lesion.radiusMM)
            XCTAssertLessThan(responder.lesion.heterogeneityHU, nonResponder.lesion.heterogeneityHU)
            XCTAssertLessThan(responder.lesion.irregularity, nonResponder.lesion.irregularity)
            XCTAssertLessThan(responder.lesionMask.filter { $0 == 1 }.count, nonResponder.lesionMask.filter { $0 == 1 }.count)
        }
    }

    func testHounsfieldUnitsArePlausible() throws {
        let cohort = try PhantomCohort(PhantomSettings(cases: 4, responders: 2, seed: 7, size: 96, slices: 3))
        for index in 0..<4 {
            let phantom = cohort.makeCase(index)
            let slice = phantom.slice(phantom.keySlice)
            // Air in the corners, bone in the spine, fat and soft tissue in between.
            let corner = (0..<8).flatMap { y in (0..<8).map { x in slice[x, y] } }
            XCTAssertEqual(corner.reduce(0, +) / Float(corner.count), -1000, accuracy: 10)
            XCTAssertGreaterThan(slice.pixels.filter { $0 > 400 }.count, 20, "bone")
            XCTAssertGreaterThan(slice.pixels.filter { (-130)...(-70) ~= $0 }.count, 200, "fat")
            XCTAssertGreaterThan(slice.pixels.filter { 40...80 ~= $0 }.count, 500, "liver and other soft tissue")
            // The lesion is darker than the liver around it.
            let plane = phantom.size * phantom.size
            let mask = Array(phantom.lesionMask[(phantom.keySlice * plane)..<((phantom.keySlice + 1) * plane)])
            let inside = slice.pixels.indices.filter { mask[$0] == 1 }.map { slice.pixels[$0] }
            XCTAssertFalse(inside.isEmpty)
            XCTAssertLessThan(inside.reduce(0, +) / Float(inside.count), 45)
        }
    }

    func testLesionIsLargestOnTheKeySlice() throws {
        let cohort = try PhantomCohort(PhantomSettings(cases: 3, responders: 1, seed: 3, size: 64, slices: 5))
        for index in 0..<3 {
            let phantom = cohort.makeCase(index), plane = phantom.size * phantom.size
            let areas = (0..<phantom.slices).map { z in phantom.lesionMask[(z * plane)..<((z + 1) * plane)].filter { $0 == 1 }.count }
            XCTAssertEqual(phantom.keySlice, 2)
            XCTAssertEqual(areas.max(), areas[2])
            XCTAssertGreaterThan(areas[2], areas[1])
            XCTAssertGreaterThan(areas[2], areas[3])
        }
    }

    func testBadSettingsAreNamed() {
        let cases: [(PhantomSettings, String)] = [
            (PhantomSettings(cases: 0, responders: 0, seed: 0), "phantom: cases must be at least 1, got 0"),
            (PhantomSettings(cases: 5, responders: 6, seed: 0), "phantom: responders must lie between 0 and the number of cases (5), got 6"),
            (PhantomSettings(cases: 5, responders: 2, seed: 0, size: 16), "phantom: size must lie between 32 and 2048 pixels, got 16"),
            (PhantomSettings(cases: 5, responders: 2, seed: 0, slices: 0), "phantom: slices must lie between 1 and 64, got 0"),
            (PhantomSettings(cases: 5, responders: 2, seed: 0, signal: -1), "phantom: signal must be a number ≥ 0, got -1.0"),
        ]
        for (settings, message) in cases {
            XCTAssertThrowsError(try PhantomCohort(settings)) { XCTAssertEqual("\($0)", message) }
        }
    }

    // MARK: - Files

    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-phantom-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        return directory
    }

    func testWrittenCohortIsByteIdenticalPerSeed() throws {
        let first = try temporaryDirectory(), second = try temporaryDirectory()
        let cohort = try PhantomCohort(small)
        _ = try cohort.write(to: first)
        _ = try cohort.write(to: second)
        let files = try FileManager.default.subpathsOfDirectory(atPath: first.path).sorted()
        XCTAssertEqual(files, try FileManager.default.subpathsOfDirectory(atPath: second.path).sorted())
        XCTAssertEqual(files.filter { $0.hasSuffix(".nii.gz") }.count, 16)
        XCTAssertEqual(files.filter { $0.hasSuffix(".png") }.count, 16)
        for file in files where file != "png" && file != "nifti" {  // every file, not the two folders
            XCTAssertEqual(try Data(contentsOf: first.appendingPathComponent(file)),
                           try Data(contentsOf: second.appendingPathComponent(file)), file)
        }
    }

    func testManifestsPointAtTheFilesWithLabels() throws {
        let directory = try temporaryDirectory()
        let cohort = try PhantomCohort(small)
        let files = try cohort.write(to: directory)
        let rows = try String(contentsOf: files.manifest, encoding: .utf8).split(separator: "\n").map(String.init)
        let niftiRows = try String(contentsOf: files.niftiManifest, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(rows.first, "case_id,label,image,mask,slice")
        XCTAssertEqual(niftiRows.first, "case_id,label,image,mask,slice")
        XCTAssertEqual(rows.count, 9)
        XCTAssertEqual(rows[1], "case_000,\(cohort.labels[0]),png/case_000.png,png/case_000_mask.png,")
        XCTAssertEqual(niftiRows[8], "case_007,\(cohort.labels[7]),nifti/case_007.nii.gz,nifti/case_007_mask.nii.gz,1")
        XCTAssertEqual(rows.dropFirst().filter { $0.split(separator: ",")[1] == "1" }.count, 5)
        for row in (rows + niftiRows).dropFirst() where !row.hasPrefix("case_id") {
            let fields = row.split(separator: ",", omittingEmptySubsequences: false)
            for path in fields[2...3] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent(String(path)).path), String(path))
            }
        }
        XCTAssertTrue(try String(contentsOf: directory.appendingPathComponent("README.txt"), encoding: .utf8).hasPrefix("SYNTHETIC DATA."))
    }

    func testPNGSliceStoresHUPlus1024AndTheMaskSlice() throws {
        let directory = try temporaryDirectory()
        let cohort = try PhantomCohort(small)
        _ = try cohort.write(to: directory)
        let phantom = cohort.makeCase(3), plane = phantom.size * phantom.size, key = phantom.keySlice
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        let path = directory.appendingPathComponent("png/case_003.png").path
        XCTAssertEqual(stbi_is_16_bit(path), 1)
        let pixels = try XCTUnwrap(stbi_load_16(path, &width, &height, &channels, 1))
        defer { stbi_image_free(pixels) }
        XCTAssertEqual([width, height, channels], [64, 64, 1])
        for i in 0..<plane { XCTAssertEqual(Int(pixels[i]), Int(phantom.hounsfield[key * plane + i]) + 1024) }
        let mask = try XCTUnwrap(stbi_load(directory.appendingPathComponent("png/case_003_mask.png").path, &width, &height, &channels, 1))
        defer { stbi_image_free(mask) }
        for i in 0..<plane { XCTAssertEqual(mask[i], phantom.lesionMask[key * plane + i] * 255) }
    }

    func testNIfTIVolumesHoldHUAndMaskWithAValidHeader() throws {
        let directory = try temporaryDirectory()
        let cohort = try PhantomCohort(small)
        _ = try cohort.write(to: directory)
        let phantom = cohort.makeCase(5)
        let volume = try gunzip(directory.appendingPathComponent("nifti/case_005.nii.gz"))
        let mask = try gunzip(directory.appendingPathComponent("nifti/case_005_mask.nii.gz"))
        for (bytes, datatype, bitpix) in [(volume, Int16(4), Int16(16)), (mask, 2, 8)] {
            XCTAssertEqual(read(Int32.self, bytes, 0), 348)  // sizeof_hdr
            XCTAssertEqual((0..<4).map { read(Int16.self, bytes, 40 + 2 * $0) }, [3, 64, 64, 3])  // dim
            XCTAssertEqual(read(Int16.self, bytes, 70), datatype)
            XCTAssertEqual(read(Int16.self, bytes, 72), bitpix)
            XCTAssertEqual(read(Float.self, bytes, 80), 360 / 64)  // pixdim[1], mm
            XCTAssertEqual(read(Float.self, bytes, 88), 5)  // pixdim[3]
            XCTAssertEqual(read(Float.self, bytes, 108), 352)  // vox_offset
            XCTAssertEqual(read(Float.self, bytes, 112), 1)  // scl_slope
            XCTAssertEqual(Array(bytes[344..<348]), Array("n+1\0".utf8))
        }
        XCTAssertEqual(volume.count, 352 + 64 * 64 * 3 * 2)
        XCTAssertEqual((0..<(64 * 64 * 3)).map { read(Int16.self, volume, 352 + 2 * $0) }, phantom.hounsfield)
        XCTAssertEqual(Array(mask[352...]), phantom.lesionMask)
    }

    func testPreviewShowsAResponderBesideANonResponder() throws {
        let directory = try temporaryDirectory()
        let cohort = try PhantomCohort(small)
        let file = directory.appendingPathComponent("preview.png")
        try cohort.writePreview(to: file)
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        let pixels = try XCTUnwrap(stbi_load(file.path, &width, &height, &channels, 1))
        defer { stbi_image_free(pixels) }
        XCTAssertEqual([width, height, channels], [128, 64, 1])
        // Left panel: the first responder's key slice in a soft-tissue window (40 ± 200 HU).
        let responder = cohort.makeCase(cohort.labels.firstIndex(of: 1)!).slice(1)
        for (x, y) in [(0, 0), (32, 32), (20, 40)] {
            let expected = UInt8((min(max((responder[x, y] + 160) / 400, 0), 1) * 255).rounded())
            XCTAssertEqual(pixels[y * 128 + x], expected)
        }
    }

    func testPNGWriterRoundTripsThroughStb() throws {
        let directory = try temporaryDirectory()
        let wide: [UInt16] = (0..<(7 * 3)).map { UInt16($0 * 3121 % 65536) }
        try PNGWriter.write(gray16: wide, width: 7, height: 3, to: directory.appendingPathComponent("16.png"))
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        let decoded = try XCTUnwrap(stbi_load_16(directory.appendingPathComponent("16.png").path, &width, &height, &channels, 0))
        defer { stbi_image_free(decoded) }
        XCTAssertEqual([width, height, channels], [7, 3, 1])
        XCTAssertEqual((0..<21).map { decoded[$0] }, wide)
        let narrow: [UInt8] = (0..<(5 * 4)).map { UInt8($0 * 13 % 256) }
        try PNGWriter.write(gray8: narrow, width: 5, height: 4, to: directory.appendingPathComponent("8.png"))
        let bytes = try XCTUnwrap(stbi_load(directory.appendingPathComponent("8.png").path, &width, &height, &channels, 0))
        defer { stbi_image_free(bytes) }
        XCTAssertEqual([width, height, channels], [5, 4, 1])
        XCTAssertEqual((0..<20).map { bytes[$0] }, narrow)
        XCTAssertThrowsError(try PNGWriter.write(gray8: narrow, width: 4, height: 4, to: directory.appendingPathComponent("bad.png"))) {
            XCTAssertTrue("\($0)".hasSuffix("bad.png: a 4×4 gray image needs 16 pixels, got 20"), "\($0)")
        }
    }

    // MARK: - Helpers

    /// The decompressed bytes of a gzip file, read with zlib's gz functions.
    func gunzip(_ url: URL) throws -> [UInt8] {
        let file = try XCTUnwrap(gzopen(url.path, "rb"))
        defer { gzclose(file) }
        var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = gzread(file, &chunk, UInt32(chunk.count))
            XCTAssertGreaterThanOrEqual(count, 0)
            if count <= 0 { break }
            bytes += chunk[0..<Int(count)]
        }
        return bytes
    }

    func read<T: FixedWidthInteger>(_ type: T.Type, _ bytes: [UInt8], _ offset: Int) -> T {
        bytes[offset..<(offset + MemoryLayout<T>.size)].withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
    }

    func read(_ type: Float.Type, _ bytes: [UInt8], _ offset: Int) -> Float {
        Float(bitPattern: read(UInt32.self, bytes, offset))
    }
}
