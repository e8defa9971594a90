import Foundation

/// CLIP's tokenizer, from a checkpoint's `vocab.json` + `merges.txt`: ids equal OpenAI's `SimpleTokenizer` and
/// transformers' `CLIPTokenizer`.
///
/// Text is cleaned as OpenAI does (`TokenizerText.clean`: NFC, HTML entities unescaped twice, white space collapsed,
/// stripped, lowercased), split by CLIP's pre-tokenizer pattern and encoded with byte-level BPE. Where the two
/// references differ, this follows OpenAI: HTML entities are decoded (transformers' CLIPTokenizer leaves `&amp;` as
/// is), `Σ` lowercases to final `ς` at a word end (Python's `str.lower`), U+001C–U+001F count as white space when
/// stripping, `'ſ` is the contraction `'s` (OpenAI matches case-insensitively), and `<|endoftext|>` right after
/// punctuation is not split out. ftfy's text repairs are not applied (neither does transformers).
public struct Tokenizer: Sendable {
    public static let startOfText = 49406
    public static let endOfText = 49407
    /// CLIP's context length: 77 positions, SOT and EOT included.
    public static let contextLength = 77

    private let encoder: BytePairEncoder

    /// Reads `vocab.json` and `merges.txt` from `directory`.
    public init(directory: URL) throws {
        let vocabURL = directory.appendingPathComponent("vocab.json")
        let mergesURL = directory.appendingPathComponent("merges.txt")
        let vocabulary: [String: Int]
        do {
            let data = try Data(contentsOf: vocabURL)
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw CocoaError(.coderReadCorrupt) }
            vocabulary = try object.mapValues { value in
                guard let id = value as? Int else { throw CocoaError(.coderReadCorrupt) }
                return id
            }
        } catch {
            throw ModelFileError("\(vocabURL.path): \(FileManager.default.fileExists(atPath: vocabURL.path) ? "not a JSON map of token → integer id" : "missing")")
        }
        for (token, expected) in [("<|startoftext|>", Self.startOfText), ("<|endoftext|>", Self.endOfText)] where vocabulary[token] != expected {
            throw ModelFileError("\(vocabURL.path): '\(token)' must have id \(expected), found \(vocabulary[token].map(String.init) ?? "none")")
        }
        guard let text = try? String(contentsOf: mergesURL, encoding: .utf8) else {
            throw ModelFileError("\(mergesURL.path): cannot read BPE merges (\(missingOrUnreadable(mergesURL)))")
        }
        var lines = text.split(whereSeparator: \.isNewline)
        if lines.first?.hasPrefix("#version") == true { lines.removeFirst() }
        var merges: [(String, String)] = []
        merges.reserveCapacity(lines.count)
        for (number, line) in lines.enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else {
                throw ModelFileError("\(mergesURL.path): merge \(number + 1) is '\(line)', expected two tokens separated by a space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        encoder = try BytePairEncoder(vocabulary: vocabulary, merges: merges, mergesFile: mergesURL.path)
    }

    /// `[SOT] + ids + [EOT]`, unpadded, truncated to 77 with EOT kept last.
    public func encode(_ text: String) -> [Int] {
        encode(text, maxLength: Self.contextLength)
    }

    /// `[SOT] + ids + [EOT]`, truncated to `maxLength` (≥ 2) with EOT kept last.
    public func encode(_ text: String, maxLength: Int) -> [Int] {
        precondition(maxLength >= 2, "a token sequence needs room for SOT and EOT")
        var ids = [Self.startOfText]
        for piece in TokenizerText.pieces(TokenizerText.clean(text)) {
            switch piece {
            case .special(let id): ids.append(id)
            case .word(let word): ids += encoder.encode(word)
            }
            if ids.count >= maxLength { break }
        }
        if ids.count >= maxLength { ids.removeLast(ids.count - maxLength + 1) }
        ids.append(Self.endOfText)
        return ids
    }

    /// Each text encoded, truncated to `length` and padded with EOT (49407) to `length`, as transformers'
    /// `CLIPTokenizer(texts, padding="max_length", truncation=True)` does (OpenAI's original pads with 0).
    public func encodePadded(_ texts: [String], length: Int = Tokenizer.contextLength) -> [[Int]] {
        texts.map { text in
            let ids = encode(text, maxLength: length)
            return ids + [Int](repeating: Self.endOfText, count: length - ids.count)
        }
    }
}
