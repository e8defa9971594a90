import Foundation
import XCTest
@testable import CLIP

/// Fixture directories: this target's own, and ../shared beside the repository root.
struct FixtureNotFound: Error, CustomStringConvertible { let description: String }

enum FixturePaths {
    static let testDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let tokenizer = testDirectory.appendingPathComponent("Fixtures/tokenizer")

    /// `<repo root>/../shared/fixtures/hf-clip-tiny0`. A git worktree can sit one level deeper than the
    /// repository's usual place, so the nearest ancestor of the repository root that has `shared/` is used.
    static var sharedTiny0: URL {
        get throws {
            var directory = testDirectory.deletingLastPathComponent().deletingLastPathComponent()
            while directory.path != "/" {
                directory.deleteLastPathComponent()
                let candidate = directory.appendingPathComponent("shared/fixtures/hf-clip-tiny0")
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("config.json").path) { return candidate }
            }
            throw FixtureNotFound(description: "shared/fixtures/hf-clip-tiny0 not found beside the repository root")
        }
    }

    static func json(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }
}

final class TokenizerTests: XCTestCase {
    static let tokenizer = Result { try Tokenizer(directory: FixturePaths.tokenizer) }
    var tokenizer: Tokenizer { get throws { try Self.tokenizer.get() } }
    var cases: [String: Any] { get throws { try FixturePaths.json(FixturePaths.tokenizer.appendingPathComponent("cases.json")) } }

    /// Every generated sentence: ids equal OpenAI's SimpleTokenizer (ftfy → NFC), and so transformers' CLIPTokenizer
    /// wherever that one agrees with OpenAI — which must be at least 50 sentences.
    func testIdsEqualReferenceOnGeneratedSentences() throws {
        let entries = try XCTUnwrap(try cases["cases"] as? [[String: Any]])
        var agreeingWithTransformers = 0
        for entry in entries {
            let text = try XCTUnwrap(entry["text"] as? String)
            let expected = try XCTUnwrap(entry["ids"] as? [Int])
            let ids = try tokenizer.encode(text)
            XCTAssertEqual(ids, expected, "text: \(text.debugDescription)")
            if entry["hf_equal"] as? Bool == true {
                XCTAssertEqual(ids, entry["hf_ids"] as? [Int], "text: \(text.debugDescription)")
                agreeingWithTransformers += 1
            }
        }
        XCTAssertGreaterThanOrEqual(agreeingWithTransformers, 50)
        XCTAssertTrue(entries.contains { ($0["ids"] as? [Int])?.count == 77 }, "a sentence must exercise truncation")
    }

    func testPaddingEqualsTransformers() throws {
        let padded = try XCTUnwrap(try cases["padded"] as? [String: Any])
        let texts = try XCTUnwrap(padded["texts"] as? [String])
        XCTAssertEqual(try tokenizer.encodePadded(texts), padded["input_ids"] as? [[Int]])
    }

    /// reference.json of the shared fixture: its tokenizer cases and the padded ids of its prompts.
    func testSharedFixtureTokenizerCases() throws {
        let shared = try FixturePaths.sharedTiny0
        let reference = try FixturePaths.json(shared.appendingPathComponent("reference.json"))
        let sharedTokenizer = try Tokenizer(directory: shared)
        for entry in try XCTUnwrap(reference["tokenizer_cases"] as? [[String: Any]]) {
            let text = try XCTUnwrap(entry["text"] as? String)
            XCTAssertEqual(sharedTokenizer.encode(text), entry["ids"] as? [Int], "text: \(text.debugDescription)")
        }
        let prompts = try XCTUnwrap(reference["prompts"] as? [String])
        XCTAssertEqual(sharedTokenizer.encodePadded(prompts), reference["input_ids"] as? [[Int]])

        // Where transformers' fast tokenizer and OpenAI's differ: HTML entities are decoded as OpenAI does;
        // ftfy's repairs (ligature, mojibake) are not made, as in transformers.
        for entry in try XCTUnwrap(reference["tokenizer_divergences_hf_vs_openai"] as? [[String: Any]]) {
            let text = try XCTUnwrap(entry["text"] as? String)
            let expected = text.contains("&") ? entry["simple_tokenizer_ids"] : entry["hf_ids"]
            XCTAssertEqual(sharedTokenizer.encode(text), expected as? [Int], "text: \(text.debugDescription)")
        }
    }

    func testHTMLUnescapeEqualsPython() throws {
        for entry in try XCTUnwrap(try cases["html_unescape"] as? [[String: String]]) {
            let text = try XCTUnwrap(entry["text"]), expected = try XCTUnwrap(entry["unescaped"])
            let unescaped = HTMLEntities.unescape(Array(text.unicodeScalars))
            XCTAssertEqual(String(String.UnicodeScalarView(unescaped)), expected, "text: \(text.debugDescription)")
        }
    }

    func testTruncationKeepsEndOfTextLast() throws {
        let ids = try tokenizer.encode(String(repeating: "cat ", count: 100))
        XCTAssertEqual(ids.count, 77)
        XCTAssertEqual(ids.first, Tokenizer.startOfText)
        XCTAssertEqual(ids.last, Tokenizer.endOfText)
        XCTAssertEqual(try tokenizer.encode("a photo of a cat", maxLength: 4), [49406, 320, 1125, 49407])
        XCTAssertEqual(try tokenizer.encodePadded(["a photo of a cat"], length: 8), [[49406, 320, 1125, 539, 320, 2368, 49407, 49407]])
    }

    func testLowercasingFollowsPython() {
        func lower(_ text: String) -> String { String(String.UnicodeScalarView(TokenizerText.lowercased(Array(text.unicodeScalars)))) }
        XCTAssertEqual(lower("ΟΔΟΣ ΣΑΣ Σ. ΌΣΟΣ"), "οδος σας σ. όσος")
        XCTAssertEqual(lower("İ"), "i\u{307}")
    }

    func testPreTokenizerUsesGeneralCategories() {
        // U+02B0 (modifier letter) is \p{L}; U+2160 (Roman numeral, Nl) is \p{N}; U+0301 (combining mark) is neither.
        XCTAssertEqual(TokenizerText.pieces(Array("aʰb Ⅻ e\u{301}'s".unicodeScalars)),
                       [.word("aʰb"), .word("Ⅻ"), .word("e"), .word("\u{301}'"), .word("s")])
        XCTAssertEqual(TokenizerText.pieces(Array("it's <|endoftext|>x".unicodeScalars)),
                       [.word("it"), .word("'s"), .special(49407), .word("x")])
    }

    func testMissingFilesAreNamed() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-tokenizer-\(UUID())")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        XCTAssertThrowsError(try Tokenizer(directory: empty)) { error in
            XCTAssertEqual("\(error)", "\(empty.appendingPathComponent("vocab.json").path): missing")
        }
        try FileManager.default.copyItem(at: FixturePaths.tokenizer.appendingPathComponent("vocab.json"),
                                         to: empty.appendingPathComponent("vocab.json"))
        XCTAssertThrowsError(try Tokenizer(directory: empty)) { error in
            XCTAssertEqual("\(error)", "\(empty.appendingPathComponent("merges.txt").path): cannot read BPE merges (missing)")
        }
        try "#version: 0.2\ni n\nqxq zqz\n".write(to: empty.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Tokenizer(directory: empty)) { error in
            XCTAssertEqual("\(error)", "\(empty.appendingPathComponent("merges.txt").path): merge 2 'qxq zqz' uses a token missing from vocab.json")
        }
    }
}
