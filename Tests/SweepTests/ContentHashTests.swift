import XCTest
@testable import Sweep

final class ContentHashTests: XCTestCase {
    private func write(_ files: [String: String], in directory: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("images"), withIntermediateDirectories: true)
        return try files.keys.sorted().map { name in
            let url = directory.appendingPathComponent(name)
            try Data(files[name]!.utf8).write(to: url)
            return url
        }
    }

    func testHashFollowsContentAndRelativeNamesOnly() throws {
        let files = ["manifest.csv": "case_id,label,image\na,1,images/a.png\n", "images/a.png": "0123456789abcdefXYZ"]
        let first = temporaryDirectory("first"), moved = temporaryDirectory("moved")
        let hash = try ContentHash.of(files: try write(files, in: first), relativeTo: first)
        XCTAssertEqual(hash.count, 16)
        XCTAssertEqual(try ContentHash.of(files: try write(files, in: moved), relativeTo: moved), hash, "a moved cohort keeps its hash")

        var changed = files
        changed["images/a.png"] = "0123456789abcdefXYz"
        let other = temporaryDirectory("other")
        XCTAssertNotEqual(try ContentHash.of(files: try write(changed, in: other), relativeTo: other), hash, "one byte changes it")

        var renamed = files
        renamed["images/b.png"] = renamed.removeValue(forKey: "images/a.png")
        let third = temporaryDirectory("third")
        XCTAssertNotEqual(try ContentHash.of(files: try write(renamed, in: third), relativeTo: third), hash)
    }

    func testMissingFileIsNamed() {
        let missing = temporaryDirectory().appendingPathComponent("model.safetensors")
        XCTAssertThrowsError(try ContentHash.of(files: [missing], relativeTo: missing.deletingLastPathComponent())) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(missing.path): cannot be read"), "\(error)")
        }
    }
}
