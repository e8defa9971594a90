import Foundation

/// CLIP's byte-level BPE over vocab ids: a word's UTF-8 bytes start as single-byte symbols (the last one with
/// `</w>`), then the lowest-ranked adjacent pair is merged everywhere, left to right, until no pair has a rank —
/// OpenAI's `bpe()` exactly. Results are cached per word, as OpenAI's tokenizer does.
final class BytePairEncoder: @unchecked Sendable {
    /// Vocab id of each byte as a symbol, inside a word and at its end (`</w>`).
    private let byteIDs: [Int]
    private let finalByteIDs: [Int]
    /// (left id, right id) → (rank, merged id).
    private let merges: [UInt64: (rank: Int, merged: Int)]
    private var cache: [String: [Int]] = [:]
    private let cacheLock = NSLock()
    /// Prompts repeat a small vocabulary; the bound only keeps an unusual input stream from growing memory.
    private static let cacheLimit = 100_000

    init(vocabulary: [String: Int], merges pairs: [(String, String)], mergesFile: String) throws {
        let byteSymbols = Self.byteSymbols
        var byteIDs: [Int] = [], finalByteIDs: [Int] = []
        for symbol in byteSymbols {
            guard let id = vocabulary[symbol], let finalID = vocabulary[symbol + "</w>"] else {
                throw ModelFileError("vocab.json: lacks the byte symbol '\(symbol)' or '\(symbol)</w>' of byte-level BPE")
            }
            byteIDs.append(id)
            finalByteIDs.append(finalID)
        }
        var merges: [UInt64: (rank: Int, merged: Int)] = [:]
        merges.reserveCapacity(pairs.count)
        for (rank, (left, right)) in pairs.enumerated() {
            guard let a = vocabulary[left], let b = vocabulary[right], let merged = vocabulary[left + right] else {
                throw ModelFileError("\(mergesFile): merge \(rank + 1) '\(left) \(right)' uses a token missing from vocab.json")
            }
            merges[Self.key(a, b)] = (rank, merged)
        }
        self.byteIDs = byteIDs
        self.finalByteIDs = finalByteIDs
        self.merges = merges
    }

    /// The vocab ids of one pre-tokenized word.
    func encode(_ word: String) -> [Int] {
        cacheLock.lock()
        let cached = cache[word]
        cacheLock.unlock()
        if let cached { return cached }

        let bytes = Array(word.utf8)
        var symbols = bytes.indices.map { $0 == bytes.count - 1 ? finalByteIDs[Int(bytes[$0])] : byteIDs[Int(bytes[$0])] }
        while symbols.count > 1 {
            var best: (rank: Int, left: Int, right: Int, merged: Int)?
            for i in 0..<(symbols.count - 1) {
                if let merge = merges[Self.key(symbols[i], symbols[i + 1])], merge.rank < best?.rank ?? .max {
                    best = (merge.rank, symbols[i], symbols[i + 1], merge.merged)
                }
            }
            guard let best else { break }
            var merged: [Int] = []
            merged.reserveCapacity(symbols.count)
            var i = 0
            while i < symbols.count {
                if i + 1 < symbols.count, symbols[i] == best.left, symbols[i + 1] == best.right {
                    merged.append(best.merged)
                    i += 2
                } else {
                    merged.append(symbols[i])
                    i += 1
                }
            }
            symbols = merged
        }

        cacheLock.lock()
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[word] = symbols
        cacheLock.unlock()
        return symbols
    }

    private static func key(_ a: Int, _ b: Int) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: a)) << 32 | UInt64(UInt32(truncatingIfNeeded: b)) }

    /// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the other 68 bytes map to U+0100…
    /// in byte order, so every byte is a visible, non-space character. Indexed by byte.
    static let byteSymbols: [String] = {
        let printable = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var symbols = [String](repeating: "", count: 256)
        var next = 256
        for byte in 0..<256 {
            let code = printable.contains(byte) ? byte : { defer { next += 1 }; return next }()
            symbols[byte] = String(Unicode.Scalar(UInt32(code))!)
        }
        return symbols
    }()
}
