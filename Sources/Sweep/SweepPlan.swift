import BLASCore
import Foundation

/// One unit of work: a placement (or a baseline) trained and scored on one fold of one repeat.
public struct SweepJob: Codable, Hashable, Sendable, Identifiable {
    public enum Kind: String, Codable, Sendable {
        /// LoRA fine-tuning with `placement`.
        case fineTune = "fine-tune"
        /// The class prompts scored by the frozen model; no training.
        case zeroShot = "zero-shot"
        /// Logistic regression on frozen image features.
        case linearProbe = "linear-probe"
    }

    /// Position in the plan's job list: the order results are reported in, whoever ran them.
    public let index: Int
    public let kind: Kind
    /// The placement string (opaque here; the CLIP layer parses it), or the baseline's name for baselines.
    public let placement: String
    public let repetition: Int
    public let fold: Int
    /// This job's own seed: a pure function of (run seed, placement, fold, repeat), see `SweepJob.seed(run:…)`.
    public let seed: UInt64

    /// Stable and readable, e.g. `lowest:5|r0|f3` or `zero-shot|r0|f3`.
    public var id: String { "\(placement)|r\(repetition)|f\(fold)" }

    public init(index: Int, kind: Kind, placement: String, repetition: Int, fold: Int, seed: UInt64) {
        self.index = index; self.kind = kind; self.placement = placement
        self.repetition = repetition; self.fold = fold; self.seed = seed
    }

    /// The seed of the job (run seed, placement, fold, repeat), and of nothing else: which rank runs a job, and in
    /// what order, cannot change its randomness. Training derives its streams (LoRA init, shuffling, augmentation,
    /// dropout) from it with `SeededGenerator(seed:stream:)`.
    public static func seed(run: UInt64, placement: String, fold: Int, repetition: Int) -> UInt64 {
        var generator = SeededGenerator(seed: run, stream: "sweep-job", placement, "fold=\(fold)", "repeat=\(repetition)")
        return generator.next()
    }

    enum CodingKeys: String, CodingKey { case id, index, kind, placement, repetition = "repeat", fold, seed }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(index: try container.decode(Int.self, forKey: .index), kind: try container.decode(Kind.self, forKey: .kind),
                  placement: try container.decode(String.self, forKey: .placement),
                  repetition: try container.decode(Int.self, forKey: .repetition), fold: try container.decode(Int.self, forKey: .fold),
                  seed: try container.decode(UInt64.self, forKey: .seed))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(index, forKey: .index)
        try container.encode(kind, forKey: .kind)
        try container.encode(placement, forKey: .placement)
        try container.encode(repetition, forKey: .repetition)
        try container.encode(fold, forKey: .fold)
        try container.encode(seed, forKey: .seed)
    }
}

/// A resolved sweep: every setting that can change a result, and the job list derived from it.
///
/// Jobs come in a fixed order: for each repeat r, for each fold f, one job per placement (in the given order),
/// then the two baselines (`zero-shot`, `linear-probe`). Written to `plan.json` by rank 0; `--resume` requires
/// the stored plan to equal the new one (except `notes`).
public struct SweepPlan: Codable, Equatable, Sendable {
    /// Changes when the meaning of plan.json or results.jsonl changes.
    public static let formatVersion = 1
    public static let baselines: [SweepJob.Kind] = [.zeroShot, .linearProbe]

    public let format: Int
    /// The training and data settings, keyed like the `clipcv train` flags (`lr`, `lora-rank`, `classes`, …).
    public let settings: [String: JSONValue]
    public let placements: [String]
    public let folds: Int
    public let repetitions: Int
    public let seed: UInt64
    /// Identity of the cohort (manifest and images) and of the checkpoint, e.g. from `ContentHash`.
    public let cohortHash: String
    public let checkpointHash: String
    /// Versions of clipcv and its libraries that produced the results.
    public let versions: [String: String]
    /// Facts shown in the report but not compared on resume (paths, checkpoint name): a moved directory with the
    /// same content still resumes.
    public let notes: [String: String]
    public let jobs: [SweepJob]

    public init(settings: [String: JSONValue], placements: [String], folds: Int, repetitions: Int, seed: UInt64,
                cohortHash: String, checkpointHash: String, versions: [String: String] = [:],
                notes: [String: String] = [:]) throws {
        guard !placements.isEmpty else { throw SweepError.invalidPlan("no placements given") }
        guard folds >= 2 else { throw SweepError.invalidPlan("folds must be at least 2, got \(folds)") }
        guard repetitions >= 1 else { throw SweepError.invalidPlan("repeats must be at least 1, got \(repetitions)") }
        var seen = Set<String>()
        for placement in placements {
            guard !placement.isEmpty, !placement.contains("|"), !placement.contains(where: \.isNewline) else {
                throw SweepError.invalidPlan("placement '\(placement)' is empty or contains '|' or a line break")
            }
            guard !SweepPlan.baselines.map(\.rawValue).contains(placement) else {
                throw SweepError.invalidPlan("'\(placement)' is a baseline name, not a placement; baselines are always included")
            }
            guard seen.insert(placement).inserted else { throw SweepError.invalidPlan("placement '\(placement)' is listed twice") }
        }
        format = SweepPlan.formatVersion
        self.settings = settings; self.placements = placements; self.folds = folds; self.repetitions = repetitions
        self.seed = seed; self.cohortHash = cohortHash; self.checkpointHash = checkpointHash
        self.versions = versions; self.notes = notes

        var jobs: [SweepJob] = []
        for repetition in 0..<repetitions {
            for fold in 0..<folds {
                let entries = placements.map { (SweepJob.Kind.fineTune, $0) } + SweepPlan.baselines.map { ($0, $0.rawValue) }
                for (kind, placement) in entries {
                    jobs.append(SweepJob(index: jobs.count, kind: kind, placement: placement, repetition: repetition, fold: fold,
                                         seed: SweepJob.seed(run: seed, placement: placement, fold: fold, repetition: repetition)))
                }
            }
        }
        self.jobs = jobs
    }

    /// Every method in report order: the placements, then the baselines.
    public var methods: [String] { placements + SweepPlan.baselines.map(\.rawValue) }

    enum CodingKeys: String, CodingKey {
        case format, settings, placements, folds, repetitions = "repeats", seed
        case cohortHash = "cohort_hash", checkpointHash = "checkpoint_hash", versions, notes, jobs
    }

    /// Pretty-printed with sorted keys: what `plan.json` holds.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder.sweep
        encoder.outputFormatting.insert(.prettyPrinted)
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Nil when `stored` (the text of an earlier `plan.json`) describes this plan; otherwise the first differing key
    /// with both values, for the one-line refusal of `--resume`. `notes` are not compared; `jobs` come last because
    /// they follow from the other keys.
    public func firstDifference(fromStored stored: Data) throws -> (key: String, stored: String, current: String)? {
        guard case .object(var old) = try JSONDecoder().decode(JSONValue.self, from: stored),
              case .object(var new) = try JSONDecoder().decode(JSONValue.self, from: try encoded()) else {
            throw SweepError.invalidPlan("plan.json does not hold a JSON object")
        }
        old["notes"] = nil; new["notes"] = nil
        // JSONValue holds numbers as Double, so the 64-bit seeds get an exact look: the run seed first (it is the
        // run's identity), the derived job seeds after everything else.
        let storedPlan = try? JSONDecoder().decode(SweepPlan.self, from: stored)
        if let storedPlan, storedPlan.seed != seed { return ("seed", "\(storedPlan.seed)", "\(seed)") }
        let (a, b) = (JSONValue.object(old), JSONValue.object(new))
        if let key = a.firstDifference(from: b, last: ["jobs"]) {
            return (key, a.value(at: key)?.description ?? "absent", b.value(at: key)?.description ?? "absent")
        }
        if let storedPlan, let index = jobs.indices.first(where: { storedPlan.jobs[$0].seed != jobs[$0].seed }) {
            return ("jobs[\(index)].seed", "\(storedPlan.jobs[index].seed)", "\(jobs[index].seed)")
        }
        return nil
    }
}
