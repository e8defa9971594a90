import Foundation

/// One line on standard error (progress and notes; standard output carries results only).
func stderrLine(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Progress of long work on stderr: count, percentage, elapsed and ETA; at most a few lines a second.
final class Progress: @unchecked Sendable {
    let total: Int
    let unit: String
    private let start = Date()
    private var lastPrinted = Date.distantPast

    init(total: Int, unit: String) {
        self.total = total
        self.unit = unit
    }

    func advance(to done: Int, note: String = "") {
        let now = Date()
        guard done == total || now.timeIntervalSince(lastPrinted) >= 0.5 else { return }
        lastPrinted = now
        let elapsed = now.timeIntervalSince(start)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
        stderrLine("  \(done)/\(total) \(unit) (\(Int(100 * Double(done) / Double(max(total, 1))))%) elapsed \(Self.duration(elapsed)) eta \(Self.duration(eta))\(note.isEmpty ? "" : " · " + note)")
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s / 60 % 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}

/// Appends lines to a file, flushing each (a log that survives a crash).
final class LineWriter {
    private let handle: FileHandle

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw UsageError("cannot create \(path)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    func write(_ line: String) {
        handle.write(Data((line + "\n").utf8))
    }

    deinit { try? handle.close() }
}
