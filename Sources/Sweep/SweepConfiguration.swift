import Foundation

/// A sweep's configuration as the user gives it: the keys of a `--config` JSON file, overridden by command-line
/// flags of the same names (`placements`, `folds`, `repeats`, `seed`, and the `clipcv train` flags such as `lr`,
/// `lora-rank`, `batch-size`). See `scripts/sweeps/paper.json`.
public struct SweepConfiguration: Sendable, Equatable {
    public var values: [String: JSONValue]

    /// Keys that locate inputs or steer the run without changing any result. They go to the plan's `notes`
    /// (shown in the report, not compared on `--resume`); the content behind `model` and `data` is compared
    /// through the plan's checkpoint and cohort hashes instead.
    public static let informationalKeys: Set<String> = ["model", "data", "out", "resume", "verbose", "threads-per-rank", "config"]

    public init(_ values: [String: JSONValue] = [:]) { self.values = values }

    /// Reads a JSON object from `url`.
    public init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw SweepError.io(file: url.path, reason: "cannot be read")
        }
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw SweepError.io(file: url.path, reason: briefly(error))
        }
        guard case .object(let values) = value else { throw SweepError.io(file: url.path, reason: "expected a JSON object of sweep settings") }
        self.values = values
    }

    /// This configuration with `overrides` (e.g. the flags given on the command line) taking precedence.
    public func merging(_ overrides: [String: JSONValue]) -> SweepConfiguration {
        SweepConfiguration(values.merging(overrides) { _, new in new })
    }

    /// The resolved plan: `placements` (required), `folds` (required), `repeats` (default 1), `seed` (default 0);
    /// informational keys become notes (as text), every other key a training setting.
    public func plan(cohortHash: String, checkpointHash: String, versions: [String: String] = [:],
                     notes: [String: String] = [:]) throws -> SweepPlan {
        let placements: [String]
        switch values["placements"] {
        case .string(let single)?: placements = [single]
        case .array(let items)?:
            placements = try items.map {
                guard case .string(let text) = $0 else { throw SweepError.invalidPlan("'placements' must list strings, found \($0)") }
                return text
            }
        case nil: throw SweepError.invalidPlan("no placements given (config key or flag 'placements')")
        case let other?: throw SweepError.invalidPlan("'placements' must be a list of strings, got \(other)")
        }
        guard values["folds"] != nil else { throw SweepError.invalidPlan("no number of folds given (config key or flag 'folds')") }
        var settings = values
        var allNotes = notes
        for key in ["placements", "folds", "repeats", "seed"] { settings[key] = nil }
        for key in SweepConfiguration.informationalKeys {
            if let value = settings.removeValue(forKey: key), value != .null {
                if case .string(let text) = value { allNotes[key] = allNotes[key] ?? text } else { allNotes[key] = allNotes[key] ?? value.description }
            }
        }
        return try SweepPlan(settings: settings, placements: placements, folds: try integer("folds", default: nil),
                             repetitions: try integer("repeats", default: 1), seed: UInt64(try integer("seed", default: 0)),
                             cohortHash: cohortHash, checkpointHash: checkpointHash, versions: versions, notes: allNotes)
    }

    private func integer(_ key: String, default fallback: Int?) throws -> Int {
        switch values[key] {
        case nil: return fallback!
        case .number(let number)? where number == number.rounded() && number >= 0 && number < 0x1p53: return Int(number)
        case .string(let text)? where Int(text).map({ $0 >= 0 }) == true: return Int(text)!
        case let other?: throw SweepError.invalidPlan("'\(key)' must be a whole number ≥ 0, got \(other)")
        }
    }
}
