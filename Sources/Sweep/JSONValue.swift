import Foundation

/// A JSON value: the sweep's settings (`--config` keys such as `lr` or `lora-targets`) are kept as JSON so the
/// plan stores exactly what the user gave, and `--resume` can compare and name any key without knowing its meaning.
public enum JSONValue: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// A command-line flag's value as a config file would hold it: `--lr 2e-4` and `"lr": 0.0002` give the same
    /// plan. Numbers and `true`/`false` are typed; everything else stays text.
    public init(flagValue text: String) {
        if text == "true" || text == "false" { self = .bool(text == "true") }
        else if let number = Double(text), number.isFinite, text.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true {
            self = .number(number)
        } else { self = .string(text) }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Compact JSON text, keys sorted (as it appears in messages and in `report.md`).
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let value):
            return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
        case .string(let value):
            let data = (try? JSONEncoder.sweep.encode(value)) ?? Data()
            return String(decoding: data, as: UTF8.self)
        case .array(let values): return "[" + values.map(\.description).joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.keys.sorted().map { JSONValue.string($0).description + ":" + members[$0]!.description }
                .joined(separator: ",") + "}"
        }
    }

    /// The first place where `self` and `other` differ, as a key path (`settings.lr`, `placements[3]`), or nil.
    /// Object keys are visited in sorted order, except that `last` keys (e.g. derived ones) come after the rest.
    func firstDifference(from other: JSONValue, path: String = "", last: Set<String> = []) -> String? {
        switch (self, other) {
        case (.object(let mine), .object(let theirs)):
            let keys = Set(mine.keys).union(theirs.keys).sorted { a, b in
                last.contains(a) == last.contains(b) ? a < b : !last.contains(a)
            }
            for key in keys {
                let child = path.isEmpty ? key : path + "." + key
                guard let a = mine[key], let b = theirs[key] else { return child }
                if let found = a.firstDifference(from: b, path: child) { return found }
            }
            return nil
        case (.array(let mine), .array(let theirs)):
            for (index, (a, b)) in zip(mine, theirs).enumerated() {
                if let found = a.firstDifference(from: b, path: "\(path)[\(index)]") { return found }
            }
            return mine.count == theirs.count ? nil : "\(path)[\(min(mine.count, theirs.count))]"
        default:
            return self == other ? nil : path
        }
    }

    /// The value at a key path produced by `firstDifference` (nil when absent there).
    func value(at path: String) -> JSONValue? {
        var current: JSONValue? = self
        for part in path.split(separator: ".") {
            var name = Substring(part)
            var indices: [Int] = []
            while let open = name.lastIndex(of: "["), name.hasSuffix("]"), let index = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) {
                indices.insert(index, at: 0)
                name = name[..<open]
            }
            if case .object(let members)? = current { current = members[String(name)] } else { return nil }
            for index in indices {
                guard case .array(let values)? = current, values.indices.contains(index) else { return nil }
                current = values[index]
            }
        }
        return current
    }
}

extension JSONEncoder {
    /// Sorted keys, so every file and message the sweep writes is byte-stable for the same content.
    static var sweep: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
