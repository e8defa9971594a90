import CStb
import Foundation
import XCTest
@testable import Cohort

/// Committed fixtures (scripts/fixturegen/cohort_images.py and folds.py) and a scratch folder per test.
enum CohortFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func image(_ name: String) -> URL { root.appendingPathComponent("images/\(name)") }
    static func folds(_ name: String) -> URL { root.appendingPathComponent("folds/\(name)") }
}

/// A fresh temporary folder, removed when the test ends.
final class ScratchFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-cohort-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL {
        let file = self.file(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
        return file
    }

    @discardableResult
    func write(_ name: String, bytes: Data) throws -> URL {
        let file = self.file(name)
        try bytes.write(to: file)
        return file
    }

    /// An 8-bit PNG written by stb_image_write: `samples` interleaved, `channels` per pixel.
    @discardableResult
    func writePNG(_ name: String, width: Int, height: Int, channels: Int, samples: [UInt8]) throws -> URL {
        precondition(samples.count == width * height * channels)
        let file = self.file(name)
        let written = samples.withUnsafeBytes {
            stbi_write_png(file.path, Int32(width), Int32(height), Int32(channels), $0.baseAddress, Int32(width * channels))
        }
        guard written != 0 else { throw ImageFileError(file, "stbi_write_png failed") }
        return file
    }

    /// An 8-bit JPEG (quality 100) written by stb_image_write.
    @discardableResult
    func writeJPEG(_ name: String, width: Int, height: Int, channels: Int, samples: [UInt8]) throws -> URL {
        let file = self.file(name)
        let written = samples.withUnsafeBytes {
            stbi_write_jpg(file.path, Int32(width), Int32(height), Int32(channels), $0.baseAddress, 100)
        }
        guard written != 0 else { throw ImageFileError(file, "stbi_write_jpg failed") }
        return file
    }
}

/// Asserts that `body` throws an error of type `E` whose one-line description contains every fragment.
func assertThrows<E: Error & CustomStringConvertible, T>(_: E.Type, _ fragments: [String], file: StaticString = #filePath,
                                                         line: UInt = #line, _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected \(E.self) containing \(fragments)", file: file, line: line)
    } catch let error as E {
        let text = error.description
        XCTAssertFalse(text.contains("\n"), "not one line: \(text)", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(text.contains(fragment), "'\(text)' lacks '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected \(E.self), got \(type(of: error)): \(error)", file: file, line: line)
    }
}
