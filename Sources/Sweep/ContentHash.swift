import Foundation

/// A fingerprint of input files (the cohort's manifest and images, the checkpoint's weights and tokenizer) for
/// `plan.json`, so `--resume` notices when the data under a sweep changed. Not cryptographic: it tells apart
/// different content, it does not resist forgery.
public enum ContentHash {
    /// FNV-1a over each file's name (relative to `base`, so a moved directory keeps its hash), length and content,
    /// 8 bytes per step (a 600 MB checkpoint takes a fraction of a second). Files are taken in the order given.
    /// 16 hex digits.
    public static func of(files: [URL], relativeTo base: URL) throws -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let prime: UInt64 = 0x100_0000_01b3
        let basePath = base.standardizedFileURL.path + "/"
        for file in files {
            let path = file.standardizedFileURL.path
            let name = path.hasPrefix(basePath) ? String(path.dropFirst(basePath.count)) : file.lastPathComponent
            let data: Data
            do { data = try Data(contentsOf: file, options: .alwaysMapped) } catch {
                throw SweepError.io(file: file.path, reason: "cannot be read to fingerprint it (\(error.localizedDescription))")
            }
            for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* prime }
            hash = (hash ^ UInt64(data.count)) &* prime
            data.withUnsafeBytes { buffer in
                let words = buffer.count / 8
                for index in 0..<words {
                    hash = (hash ^ UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))) &* prime
                }
                for index in (words * 8)..<buffer.count { hash = (hash ^ UInt64(buffer[index])) &* prime }
            }
        }
        return String(hash, radix: 16).leftPadded(to: 16)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
