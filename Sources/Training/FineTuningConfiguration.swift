import BLASCore
import CLIP
import Cohort
import Foundation

/// How a run fine-tunes, apart from where the adapters go: everything `clipcv train` and `clipcv sweep` share.
/// Codable, so a sweep's `plan.json` records it and `--resume` can compare it.
public struct FineTuningConfiguration: Codable, Equatable, Sendable {
    public var lora = LoRASettings()
    public var training = TrainingSettings()
    public var classWeights = ClassWeighting.none
    /// nil: the checkpoint's exp(logit_scale), frozen; a number fixes the scale (CLIP-LoRA uses 100).
    public var logitScale: Float? = nil
    /// CT window as `level,width` in HU, or `none` for images already scaled.
    public var window = "40,400"
    /// Pixels around the mask's bounding box when a `mask` column crops the image.
    public var roiMargin = 16
    /// GEMM arithmetic: fp32, or bf16 operands with fp32 accumulation for the large frozen-weight products.
    public var precision = GEMM.Precision.float32
    /// Manifest images are float32 NPY model-ready pixels (3×S×S): no windowing, resizing or normalization.
    public var preprocessed = false

    public init() {}

    /// The window as the image reader takes it; throws for a malformed string.
    public func intensityWindow() throws -> IntensityWindow {
        guard let window = IntensityWindow(window) else {
            throw ConfigurationError(description: "window '\(window)' is not LEVEL,WIDTH (e.g. 40,400) or none")
        }
        return window
    }
}

/// Per-class loss weights.
public enum ClassWeighting: Codable, Equatable, Sendable, CustomStringConvertible {
    case none
    /// n / (K · n_c) over the training cases (scikit-learn's "balanced"), for imbalanced cohorts like 124/58.
    case balanced
    case explicit([Float])

    public init(parsing text: String) throws {
        switch text {
        case "none": self = .none
        case "balanced": self = .balanced
        default:
            let values = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ $0 != nil && $0! > 0 }) else {
                throw ConfigurationError(description: "class weights '\(text)' are not none, balanced or positive numbers W0,W1,…")
            }
            self = .explicit(values.map { $0! })
        }
    }

    public var description: String {
        switch self {
        case .none: "none"
        case .balanced: "balanced"
        case .explicit(let values): values.map { "\($0)" }.joined(separator: ",")
        }
    }

    /// The weights for `classes` classes given the training labels; nil for unweighted.
    public func weights(labels: [Int], classes: Int) throws -> [Float]? {
        switch self {
        case .none: return nil
        case .balanced:
            let counts = (0..<classes).map { c in labels.filter { $0 == c }.count }
            guard counts.allSatisfy({ $0 > 0 }) else { throw ConfigurationError(description: "balanced class weights need every class in the training cases, counts \(counts)") }
            return counts.map { Float(labels.count) / Float(classes * $0) }
        case .explicit(let values):
            guard values.count == classes else { throw ConfigurationError(description: "\(values.count) class weights for \(classes) classes") }
            return values
        }
    }

    public init(from decoder: Decoder) throws {
        try self.init(parsing: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
}

extension GEMM.Precision: Codable {}
