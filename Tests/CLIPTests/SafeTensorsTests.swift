import BLASCore
import Foundation
import XCTest
@testable import CLIP

/// A fresh temporary directory, removed by the caller's `defer`.
func temporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A safetensors file written byte by byte: header length, `header` as given (no padding), then `data`.
func rawSafeTensors(header: String, data: [UInt8]) -> Data {
    var file = Data()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(contentsOf: Array(header.utf8))
    file.append(contentsOf: data)
    return file
}

func littleEndianBytes(_ values: [UInt16]) -> [UInt8] {
    values.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
}

final class SafeTensorsTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try temporaryDirectory("safetensors") }
    override func tearDownWithError() throws { try FileManager.default.removeItem(at: directory) }

    func write(_ data: Data, _ name: String = "t.safetensors") throws -> URL {
        let url = directory.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    func assertOpenError(_ data: Data, _ message: (String) -> String, line: UInt = #line) throws {
        let url = try write(data)
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: url), line: line) { XCTAssertEqual("\($0)", message(url.path), line: line) }
    }

    func testRoundTrip() throws {
        let a = try Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, .greatestFiniteMagnitude, -.leastNonzeroMagnitude])
        let b = try Tensor(shape: [], values: [1.99584234])
        let c = Tensor(zeros: [0, 4])
        let d = try Tensor(shape: [3], values: [7, 8, 9])
        let url = directory.appendingPathComponent("round.safetensors")
        try SafeTensorsWriter.write([("layer.weight", a), ("logit_scale", b), ("empty", c), ("odd \"name\"/é", d)],
                                    metadata: ["format": "pt"], to: url)
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(headerLength % 8, 0, "header padded so the data stays aligned")

        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(file.names, ["empty", "layer.weight", "logit_scale", "odd \"name\"/é"])
        XCTAssertEqual(file.metadata, ["format": "pt"])
        for (name, tensor) in [("layer.weight", a), ("logit_scale", b), ("empty", c), ("odd \"name\"/é", d)] {
            let read = try file.tensor(name)
            XCTAssertEqual(read.shape, tensor.shape, name)
            XCTAssertEqual(read.values, tensor.values, name)
            XCTAssertTrue(read.isReadOnly, "F32 is a view of the mapping")
            XCTAssertEqual(file.info(name)?.dtype, "F32")
        }
        XCTAssertNil(file.info("absent"))
        XCTAssertThrowsError(try file.tensor("absent")) { XCTAssertEqual("\($0)", "\(url.path): missing tensor 'absent'") }
    }

    func testWriterRejectsDuplicateNames() {
        let t = Tensor(zeros: [1])
        let url = directory.appendingPathComponent("dup.safetensors")
        XCTAssertThrowsError(try SafeTensorsWriter.write([("x", t), ("x", t)], metadata: [:], to: url)) {
            XCTAssertEqual("\($0)", "\(url.path): tensor name 'x' is given twice")
        }
    }

    /// Every F16/BF16 class of value converts exactly: normal, negative, signed zero, subnormal, largest, infinity.
    func testHalfAndBFloat16AreConvertedExactly() throws {
        let half: [UInt16] = [0x3C00, 0xC000, 0x8000, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x3555]
        let halfValues: [Float] = [1, -2, -0.0, 0x1p-24, 1023 * 0x1p-24, 65504, .infinity, -.infinity, 0.333251953125]
        let bfloat: [UInt16] = [0x3F80, 0xC0A0, 0x0001, 0x4049, 0x7F80, 0x8000]
        let bfloatValues: [Float] = [1, -5, Float(bitPattern: 0x0001_0000), 3.140625, .infinity, -0.0]
        let header = #"{"h":{"dtype":"F16","shape":[3,3],"data_offsets":[0,18]},"b":{"dtype":"BF16","shape":[6],"data_offsets":[18,30]},"__metadata__":{"format":"pt"}}"#
        let url = try write(rawSafeTensors(header: header, data: littleEndianBytes(half + bfloat)))
        let file = try SafeTensorsFile(contentsOf: url)
        let h = try file.tensor("h"), b = try file.tensor("b")
        XCTAssertEqual(h.shape, [3, 3])
        XCTAssertEqual(h.values.map(\.bitPattern), halfValues.map(\.bitPattern))
        XCTAssertEqual(b.values.map(\.bitPattern), bfloatValues.map(\.bitPattern))
        XCTAssertFalse(h.isReadOnly, "converted tensors own their memory")
        XCTAssertEqual(SafeTensorsFile.halfToFloat(0x7E00).isNaN, true)
    }

    /// A header length that is not a multiple of 4 leaves F32 data unaligned: it is copied, not viewed.
    func testUnalignedFloat32IsCopied() throws {
        let values: [Float] = [1.5, -2.25, 3]
        let header = #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#  // 55 bytes
        XCTAssertNotEqual((8 + header.utf8.count) % 4, 0)
        let data = values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        let tensor = try SafeTensorsFile(contentsOf: try write(rawSafeTensors(header: header, data: data))).tensor("x")
        XCTAssertEqual(tensor.values, values)
        XCTAssertFalse(tensor.isReadOnly)
    }

    func testTruncatedFiles() throws {
        try assertOpenError(Data([1, 2, 3])) { "\($0): truncated safetensors file (3 bytes, shorter than its 8-byte header length)" }
        try assertOpenError(rawSafeTensors(header: "{}", data: []).prefix(9)) {
            "\($0): truncated safetensors file (header of 2 bytes, file has 9)"
        }
        let header = #"{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        try assertOpenError(rawSafeTensors(header: header, data: [UInt8](repeating: 0, count: 12))) {
            "\($0): truncated safetensors file (tensor 'x' ends at byte \(8 + header.utf8.count + 16), file has \(8 + header.utf8.count + 12))"
        }
    }

    func testGarbledHeaders() throws {
        try assertOpenError(rawSafeTensors(header: "{not json", data: [])) { "\($0): garbled safetensors header (not a JSON object)" }
        try assertOpenError(rawSafeTensors(header: #"{"x":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0])) {
            "\($0): garbled safetensors header (tensor 'x' lacks dtype, shape or data_offsets)"
        }
        try assertOpenError(rawSafeTensors(header: #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])) {
            "\($0): garbled safetensors header (tensor 'x' of dtype F32 and shape [2] needs 8 bytes, data_offsets give 4)"
        }
        try assertOpenError(rawSafeTensors(header: #"{"x":{"dtype":"F32","shape":[-1],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0])) {
            "\($0): garbled safetensors header (tensor 'x' has shape [-1] and data_offsets [4, 0])"
        }
    }

    /// Unknown or non-float dtypes do not stop the file from opening (old checkpoints keep I64 position_ids);
    /// reading such a tensor as Float32 is the error.
    func testUnsupportedDTypeIsNamedWhenRead() throws {
        let header = #"{"position_ids":{"dtype":"I64","shape":[1,2],"data_offsets":[0,16]},"q":{"dtype":"Q4_K","shape":[3],"data_offsets":[16,18]}}"#
        let url = try write(rawSafeTensors(header: header, data: [UInt8](repeating: 0, count: 18)))
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(file.info("position_ids")?.dtype, "I64")
        XCTAssertThrowsError(try file.tensor("position_ids")) {
            XCTAssertEqual("\($0)", "\(url.path): unsupported dtype I64 for tensor 'position_ids' (readable: F32, F16, BF16)")
        }
        XCTAssertThrowsError(try file.tensor("q")) {
            XCTAssertEqual("\($0)", "\(url.path): unsupported dtype Q4_K for tensor 'q' (readable: F32, F16, BF16)")
        }
    }

    func testMissingFile() {
        let url = directory.appendingPathComponent("absent.safetensors")
        XCTAssertThrowsError(try SafeTensorsFile(contentsOf: url)) {
            XCTAssertEqual("\($0)", "\(url.path): cannot open safetensors file (missing)")
        }
    }

    /// The reference fixture was written by Python's safetensors; its F32 tensors are views of the mapping.
    func testReadsPythonWrittenFile() throws {
        let file = try SafeTensorsFile(contentsOf: try FixturePaths.sharedTiny0.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(file.metadata, ["format": "pt"])
        let embedding = try file.tensor("text_model.embeddings.token_embedding.weight")
        XCTAssertEqual(embedding.shape, [49408, 32])
        XCTAssertTrue(embedding.isReadOnly)
    }
}
