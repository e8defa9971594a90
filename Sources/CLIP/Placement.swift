import Foundation

/// Which encoder layers of each tower carry LoRA adapters.
///
/// Grammar (DESIGN.md): `none`, `all`, `lowest:K`, `highest:K`, `layers:i,j,…` — applied to both towers — or
/// per tower `vision=…;text=…` (a tower left out gets `none`). Layers are 0-based, 0 nearest the input.
public struct Placement: Hashable, Sendable, CustomStringConvertible {
    public enum Rule: Hashable, Sendable {
        case none, all
        case lowest(Int), highest(Int)
        case layers([Int])
    }

    public var vision: Rule
    public var text: Rule
    /// The text the placement was parsed from (its name in reports and job ids).
    public let description: String

    public static let grammar = "none | all | lowest:K | highest:K | layers:i,j,… (both towers), or vision=RULE;text=RULE"

    public init(vision: Rule, text: Rule, description: String) {
        self.vision = vision
        self.text = text
        self.description = description
    }

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.contains("=") {
            var rules: [String: Rule] = [:]
            for part in trimmed.split(separator: ";") {
                let pieces = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pieces.count == 2, ["vision", "text"].contains(pieces[0]), rules[pieces[0]] == nil else {
                    throw PlacementError(text: text, problem: "'\(part)' is not vision=RULE or text=RULE")
                }
                rules[pieces[0]] = try Placement.rule(pieces[1], in: text)
            }
            self.init(vision: rules["vision"] ?? .none, text: rules["text"] ?? .none, description: trimmed)
        } else {
            let rule = try Placement.rule(trimmed, in: text)
            self.init(vision: rule, text: rule, description: trimmed)
        }
    }

    /// The adapted layers of a tower with `layerCount` layers, ascending; throws when the rule does not fit.
    public func layers(of tower: Tower, layerCount: Int) throws -> [Int] {
        let rule = tower == .vision ? vision : text
        switch rule {
        case .none: return []
        case .all: return Array(0..<layerCount)
        case .lowest(let k), .highest(let k):
            guard k >= 1, k <= layerCount else {
                throw PlacementError(text: description, problem: "\(tower) tower has \(layerCount) layers, cannot take \(k)")
            }
            if case .lowest = rule { return Array(0..<k) }
            return Array((layerCount - k)..<layerCount)
        case .layers(let indices):
            if let bad = indices.first(where: { $0 < 0 || $0 >= layerCount }) {
                throw PlacementError(text: description, problem: "layer \(bad) outside the \(tower) tower's 0…\(layerCount - 1)")
            }
            return indices
        }
    }

    private static func rule(_ text: String, in whole: String) throws -> Rule {
        switch text {
        case "none": return .none
        case "all": return .all
        default: break
        }
        let pieces = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard pieces.count == 2 else { throw PlacementError(text: whole, problem: "'\(text)' is not a rule") }
        switch pieces[0] {
        case "lowest", "highest":
            guard let k = Int(pieces[1]), k >= 1 else { throw PlacementError(text: whole, problem: "'\(pieces[1])' is not a positive layer count") }
            return pieces[0] == "lowest" ? .lowest(k) : .highest(k)
        case "layers":
            let indices = pieces[1].split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !indices.isEmpty, indices.allSatisfy({ $0 != nil }) else {
                throw PlacementError(text: whole, problem: "'\(pieces[1])' is not a comma-separated list of layer numbers")
            }
            let sorted = Array(Set(indices.map { $0! })).sorted()
            return .layers(sorted)
        default:
            throw PlacementError(text: whole, problem: "unknown rule '\(pieces[0])'")
        }
    }
}

/// The two encoders of CLIP.
public enum Tower: String, Sendable, CaseIterable, CustomStringConvertible {
    case vision, text
    public var description: String { rawValue }
    /// Module path prefix in Hugging Face state dicts.
    public var modulePrefix: String { self == .vision ? "vision_model" : "text_model" }
}

public struct PlacementError: Error, CustomStringConvertible {
    public let text: String
    public let problem: String
    public var description: String { "bad placement '\(text)': \(problem); expected \(Placement.grammar)" }
}
