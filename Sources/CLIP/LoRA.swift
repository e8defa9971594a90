import BLASCore
import Foundation

/// The linear layers of a CLIP encoder layer that can carry an adapter, with PEFT's module names.
public enum LoRATarget: String, CaseIterable, Codable, Sendable {
    case query = "q_proj", key = "k_proj", value = "v_proj", output = "out_proj", fc1, fc2

    /// Short names on the command line: q, k, v, o, fc1, fc2 (PEFT module names are accepted too).
    public init(parsing text: String) throws {
        switch text {
        case "q", "q_proj": self = .query
        case "k", "k_proj": self = .key
        case "v", "v_proj": self = .value
        case "o", "out_proj": self = .output
        case "fc1": self = .fc1
        case "fc2": self = .fc2
        default: throw ModelFileError("unknown LoRA target '\(text)'; expected q, k, v, o, fc1 or fc2")
        }
    }

    /// Path of the module inside an encoder layer, e.g. `self_attn.q_proj` or `mlp.fc1`.
    public var modulePath: String {
        switch self {
        case .query, .key, .value, .output: "self_attn.\(rawValue)"
        case .fc1, .fc2: "mlp.\(rawValue)"
        }
    }
}

/// Hyperparameters of the adapters, as PEFT's LoraConfig names them.
public struct LoRASettings: Codable, Equatable, Sendable {
    public var rank: Int = 8
    public var alpha: Double = 16
    public var dropout: Double = 0
    public var targets: [LoRATarget] = [.query, .value]
    /// Rank-stabilized scaling alpha/√r (CLIP-LoRA) instead of PEFT's default alpha/r.
    public var useRSLoRA = false

    public init(rank: Int = 8, alpha: Double = 16, dropout: Double = 0, targets: [LoRATarget] = [.query, .value], useRSLoRA: Bool = false) {
        self.rank = rank; self.alpha = alpha; self.dropout = dropout; self.targets = targets; self.useRSLoRA = useRSLoRA
    }

    public var scaling: Float { Float(useRSLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank)) }
}

/// A low-rank update beside one frozen linear layer: `y = W x + b + s · B (A drop(x))`,
/// with `A [r, in]`, `B [out, r]`, `s` the scaling, and dropout applied to the adapter's input only.
///
/// forward:  u = drop(x) Aᵀ  [N, r] (saved);  y += s · u Bᵀ
/// backward: dB += s · dyᵀ u;  du = s · dy B;  dA += duᵀ drop(x);  dx += mask ⊙ (du A)
public final class LoRAAdapter {
    public let a: Tensor
    public let b: Tensor
    public let aGradient: Tensor
    public let bGradient: Tensor
    public let scaling: Float
    public let dropout: Float
    public var rank: Int { a.shape[0] }
    public var inFeatures: Int { a.shape[1] }
    public var outFeatures: Int { b.shape[0] }

    // Per-batch activations, sized for the largest batch on first use and reused.
    private var projected: Tensor?          // u = drop(x) Aᵀ  [N, r]
    private var projectedGradient: Tensor?  // du [N, r]
    private var droppedInput: Tensor?       // drop(x) [N, in]
    private var mask: Tensor?               // 0 or 1/(1 − p) per input element
    private var inputGradientScratch: Tensor?
    /// Whether the last forward applied dropout (training) — backward must then use its mask.
    private var maskApplied = false

    public init(a: Tensor, b: Tensor, scaling: Float, dropout: Float) throws {
        guard a.shape.count == 2, b.shape.count == 2, b.shape[1] == a.shape[0] else {
            throw ShapeError("LoRA: A \(a.shape) and B \(b.shape) do not form [r, in] and [out, r]")
        }
        self.a = a
        self.b = b
        self.scaling = scaling
        self.dropout = dropout
        aGradient = Tensor(zeros: a.shape)
        bGradient = Tensor(zeros: b.shape)
    }

    /// PEFT's initialization: A ~ Kaiming-uniform(a = √5) = U(−1/√in, 1/√in), B = 0.
    public convenience init(inFeatures: Int, outFeatures: Int, settings: LoRASettings, generator: inout SeededGenerator) throws {
        let a = Tensor(zeros: [settings.rank, inFeatures])
        let bound = 1 / Float(inFeatures).squareRoot()
        for i in 0..<a.count { a[i] = (generator.nextUniform() * 2 - 1) * bound }
        try self.init(a: a, b: Tensor(zeros: [outFeatures, settings.rank]), scaling: settings.scaling, dropout: Float(settings.dropout))
    }

    /// Adds `s · B A drop(x)` to the rows of `y` (row stride `outputStride`, as in `Linear.forward`).
    /// `dropoutGenerator` draws the dropout mask when training; nil means evaluation (no dropout).
    /// Its products are skinny (rank r against the layer width), so they are cut into one part per thread
    /// (`GEMM.multiplyInParts`) instead of going through OpenBLAS's threads.
    public func forward(adding y: UnsafeMutablePointer<Float>, outputStride: Int, input x: Tensor,
                        dropoutGenerator: inout SeededGenerator?) throws {
        try require(x.lastDimension == inFeatures, "LoRA: input \(x.shape) has \(x.lastDimension) features, A \(a.shape) expects \(inFeatures)")
        let rows = x.rowCount
        let u = try scratch(&projected, rows: rows, width: rank)
        maskApplied = dropout > 0 && dropoutGenerator != nil
        var input = x
        if maskApplied {
            let maskRows = try scratch(&mask, rows: rows, width: inFeatures)
            let dropped = try scratch(&droppedInput, rows: rows, width: inFeatures)
            let keep = 1 / (1 - dropout)
            for i in 0..<x.count {
                maskRows[i] = dropoutGenerator!.nextUniform() < dropout ? 0 : keep
                dropped[i] = x[i] * maskRows[i]
            }
            input = dropped
        }
        // u = drop(x) Aᵀ;  y += s · u Bᵀ
        GEMM.multiplyInParts(cutting: .rows, transposeA: false, transposeB: true, m: rows, n: rank, k: inFeatures,
                             a: input.pointer, lda: inFeatures, b: a.pointer, ldb: inFeatures, c: u.pointer, ldc: rank)
        GEMM.multiplyInParts(cutting: .rows, transposeA: false, transposeB: true, m: rows, n: outFeatures, k: rank, alpha: scaling,
                             a: u.pointer, lda: rank, b: b.pointer, ldb: rank, beta: 1, c: y, ldc: outputStride)
    }

    /// Accumulates dA, dB and (when `inputGradient` is given) dx, from `dy` rows with stride `gradientStride`.
    public func backward(outputGradient dy: UnsafePointer<Float>, gradientStride: Int, input x: Tensor,
                         inputGradient dx: Tensor?) throws {
        let rows = x.rowCount
        guard let projected, projected.rowCount >= rows else { throw ShapeError("LoRA backward before forward") }
        let u = try projected.rows(0..<rows)
        let input = maskApplied ? try droppedInput!.rows(0..<rows) : x
        // dB += s · dyᵀ u
        GEMM.multiplyInParts(cutting: .rows, transposeA: true, transposeB: false, m: outFeatures, n: rank, k: rows, alpha: scaling,
                             a: dy, lda: gradientStride, b: u.pointer, ldb: rank, beta: 1, c: bGradient.pointer, ldc: rank)
        // du = s · dy B
        let du = try scratch(&projectedGradient, rows: rows, width: rank)
        GEMM.multiplyInParts(cutting: .rows, transposeA: false, transposeB: false, m: rows, n: rank, k: outFeatures, alpha: scaling,
                             a: dy, lda: gradientStride, b: b.pointer, ldb: rank, beta: 0, c: du.pointer, ldc: rank)
        // dA += duᵀ drop(x)
        GEMM.multiplyInParts(cutting: .columns, transposeA: true, transposeB: false, m: rank, n: inFeatures, k: rows,
                             a: du.pointer, lda: rank, b: input.pointer, ldb: inFeatures, beta: 1, c: aGradient.pointer, ldc: inFeatures)
        guard let dx else { return }
        // dx += mask ⊙ (du A)
        let dInput = maskApplied ? try scratch(&inputGradientScratch, rows: rows, width: inFeatures) : dx
        GEMM.multiplyInParts(cutting: .rows, transposeA: false, transposeB: false, m: rows, n: inFeatures, k: rank,
                             a: du.pointer, lda: rank, b: a.pointer, ldb: inFeatures, beta: maskApplied ? 0 : 1, c: dInput.pointer, ldc: inFeatures)
        if maskApplied {
            let maskRows = try mask!.rows(0..<rows)
            for i in 0..<dx.count { dx[i] += dInput[i] * maskRows[i] }
        }
    }

    public func zeroGradients() {
        aGradient.zero()
        bGradient.zero()
    }

    /// A view of `rows` rows of a buffer of width `width`, (re)allocated only when a larger batch arrives.
    private func scratch(_ buffer: inout Tensor?, rows: Int, width: Int) throws -> Tensor {
        if buffer == nil || buffer!.rowCount < rows || buffer!.lastDimension != width {
            buffer = Tensor(zeros: [rows, width])
        }
        return try buffer!.rows(0..<rows)
    }
}
