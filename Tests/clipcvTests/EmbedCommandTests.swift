import Foundation
import XCTest

/// `clipcv embed` on the shared reference set: the same ids, embeddings and logits as transformers.
final class EmbedCommandTests: XCTestCase {
    static let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures/hf-clip-tiny0")

    /// A float32 C-order NPY file (version 1.0).
    static func writeNPY(_ values: [Float], shape: [Int], to url: URL) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", ")),), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.count & 0xff), UInt8(header.count >> 8)])
        data.append(Data(header.utf8))
        values.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        try data.write(to: url)
    }

    func flatten(_ value: Any) -> [Double] {
        if let number = value as? NSNumber { return [number.doubleValue] }
        return (value as! [Any]).flatMap(flatten)
    }

    func testMatchesTransformersOnTheSharedFixture() throws {
        let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.shared.appendingPathComponent("reference.json"))) as! [String: Any]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-embed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let pixels = directory.appendingPathComponent("pixels.npy"), output = directory.appendingPathComponent("out.json")
        try Self.writeNPY(flatten(reference["pixel_values"]!).map(Float.init), shape: [4, 3, 24, 24], to: pixels)
        let prompts = reference["prompts"] as! [String]
        let result = try Executable.run(["embed", "--model", Self.shared.path, "--pixel-values", pixels.path, "--prompts"] + prompts + ["--output", output.path])
        XCTAssertEqual(result.status, 0, result.errors)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as! [String: Any]
        XCTAssertEqual(flatten(json["input_ids"]!), flatten(reference["input_ids"]!))
        for (ours, theirs) in [("image_embeds", "image_embeds_normalized"), ("text_embeds", "text_embeds_normalized"), ("logits_per_image", "logits_per_image")] {
            let actual = flatten(json[ours]!), expected = flatten(reference[theirs]!)
            XCTAssertEqual(actual.count, expected.count, ours)
            let scale = expected.map(abs).max()!
            let worst = zip(actual, expected).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst / scale, 1e-4, ours)
        }
    }

    func testNeedsExactlyOneImageSource() throws {
        let result = try Executable.run(["embed", "--model", Self.shared.path, "--prompts", "a", "--output", "/dev/null"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.errors.hasPrefix("clipcv: embed: give exactly one of --pixel-values or --images"), result.errors)
    }
}
