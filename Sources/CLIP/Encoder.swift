import BLASCore

/// A frozen linear layer's weights, `W [out, in]` and optional bias.
public struct FrozenLinear: Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }
}

/// Shape of one tower's transformer stack.
public struct EncoderShape: Sendable, Equatable {
    public var width: Int
    public var heads: Int
    public var intermediate: Int
    public var layerCount: Int
    public var epsilon: Float
    public var activation: Activation
    public var causal: Bool
}

/// One pre-LN CLIP encoder layer with its frozen weights and the adapters placed on it:
///   m = h + out_proj(attention(q, k, v of LN₁(h)));   h' = m + fc2(act(fc1(LN₂(m))))
public final class EncoderLayer: @unchecked Sendable {
    public let shape: EncoderShape
    let norm1Weight: Tensor, norm1Bias: Tensor, norm2Weight: Tensor, norm2Bias: Tensor
    let projections: [LoRATarget: FrozenLinear]
    /// Adapters by target; empty for a frozen layer.
    public internal(set) var adapters: [LoRATarget: LoRAAdapter] = [:]

    /// Reads `<prefix>.layer_norm1.weight`, `<prefix>.self_attn.q_proj.weight`, … (Hugging Face names).
    init(shape: EncoderShape, prefix: String, weights: (String, [Int]) throws -> Tensor) throws {
        self.shape = shape
        let c = shape.width
        norm1Weight = try weights("\(prefix).layer_norm1.weight", [c])
        norm1Bias = try weights("\(prefix).layer_norm1.bias", [c])
        norm2Weight = try weights("\(prefix).layer_norm2.weight", [c])
        norm2Bias = try weights("\(prefix).layer_norm2.bias", [c])
        var projections: [LoRATarget: FrozenLinear] = [:]
        for target in LoRATarget.allCases {
            let (out, inp) = switch target {
            case .fc1: (shape.intermediate, c)
            case .fc2: (c, shape.intermediate)
            default: (c, c)
            }
            let path = "\(prefix).\(target.modulePath)"
            projections[target] = FrozenLinear(weight: try weights("\(path).weight", [out, inp]), bias: try weights("\(path).bias", [out]))
        }
        self.projections = projections
    }

    func projection(_ target: LoRATarget) -> FrozenLinear { projections[target]! }

    // MARK: Forward

    /// Runs the layer on `input [B, T, C]` into `output`, saving in `saved` what backward needs. The layer-norm
    /// outputs and the activation go to the stack-wide `scratch`: backward recomputes them (cheap elementwise
    /// work) instead of every layer keeping them — a third less activation memory.
    func forward(input: Tensor, output: Tensor, saved a: LayerActivations, scratch: LayerScratch,
                 dropout generator: inout SeededGenerator?) throws {
        let c = shape.width
        try normalize1(input, into: scratch.norm, saved: a)
        // q, k, v into the column thirds of one fused buffer, read in place by attention.
        for (column, target) in [LoRATarget.query, .key, .value].enumerated() {
            try linear(target, output: a.qkv.pointer + column * c, stride: 3 * c, input: scratch.norm, generator: &generator)
        }
        let attention = a.attention ?? scratch.attention
        try Attention.forward(output: attention, probabilities: a.probabilities, qkv: a.qkv, heads: shape.heads, causal: shape.causal)
        try linear(.output, output: a.middle.pointer, stride: c, input: attention, generator: &generator)
        try Residual.forward(output: a.middle, a.middle, input)
        try normalize2(a.middle, into: scratch.norm, saved: a)
        try linear(.fc1, output: a.hidden.pointer, stride: shape.intermediate, input: scratch.norm, generator: &generator)
        try activate(a.hidden, into: scratch.activated)
        try linear(.fc2, output: output.pointer, stride: c, input: scratch.activated, generator: &generator)
        try Residual.forward(output: output, output, a.middle)
    }

    private func normalize1(_ input: Tensor, into output: Tensor, saved a: LayerActivations) throws {
        try LayerNorm.forward(output: output, mean: a.mean1, reciprocalStd: a.rstd1, input: input,
                              weight: norm1Weight, bias: norm1Bias, epsilon: shape.epsilon)
    }

    private func normalize2(_ middle: Tensor, into output: Tensor, saved a: LayerActivations) throws {
        try LayerNorm.forward(output: output, mean: a.mean2, reciprocalStd: a.rstd2, input: middle,
                              weight: norm2Weight, bias: norm2Bias, epsilon: shape.epsilon)
    }

    private func activate(_ hidden: Tensor, into output: Tensor) throws {
        switch shape.activation {
        case .quickGELU: try QuickGELU.forward(output: output, input: hidden)
        case .gelu: try GELU.forward(output: output, input: hidden)
        }
    }

    private func linear(_ target: LoRATarget, output: UnsafeMutablePointer<Float>, stride: Int, input: Tensor,
                        generator: inout SeededGenerator?) throws {
        let frozen = projections[target]!
        try Linear.forward(output: output, outputStride: stride, input: input, weight: frozen.weight, bias: frozen.bias)
        try adapters[target]?.forward(adding: output, outputStride: stride, input: input, dropoutGenerator: &generator)
    }

    // MARK: Backward

    /// Given `gradient` = dL/d output, accumulates every adapter's dA, dB and turns `gradient` into dL/d input
    /// (skipped when `needsInputGradient` is false: the lowest adapted layer of a tower, whose input is frozen).
    func backward(gradient: Tensor, input: Tensor, saved a: LayerActivations, scratch: LayerScratch, gradients g: LayerGradients,
                  needsInputGradient: Bool) throws {
        let c = shape.width
        // Through fc2 and the activation to fc1's output. An fc2 adapter needs its input, act(hidden), again.
        if adapters[.fc2] != nil { try activate(a.hidden, into: scratch.activated) }
        g.activated.zero()
        try linearBackward(.fc2, outputGradient: gradient.pointer, stride: c, input: scratch.activated, inputGradient: g.activated)
        g.hidden.zero()
        switch shape.activation {
        case .quickGELU: try QuickGELU.backward(inputGradient: g.hidden, outputGradient: g.activated, input: a.hidden)
        case .gelu: try GELU.backward(inputGradient: g.hidden, outputGradient: g.activated, input: a.hidden)
        }
        if adapters[.fc1] != nil { try normalize2(a.middle, into: scratch.norm, saved: a) }
        g.norm.zero()
        try linearBackward(.fc1, outputGradient: g.hidden.pointer, stride: shape.intermediate, input: scratch.norm, inputGradient: g.norm)
        // `gradient` already holds the residual path's dL/dm; LN₂ adds the MLP path.
        try LayerNorm.backward(inputGradient: gradient, weightGradient: nil, biasGradient: nil, outputGradient: g.norm,
                               input: a.middle, weight: norm2Weight, mean: a.mean2, reciprocalStd: a.rstd2)

        let qkvAdapted = adapters[.query] != nil || adapters[.key] != nil || adapters[.value] != nil
        let attentionNeeded = needsInputGradient || qkvAdapted
        guard attentionNeeded || adapters[.output] != nil else { return }
        g.attention.zero()
        // Without an out_proj adapter only dx = dy·W is needed, which reads no input: the scratch stands in for its shape.
        try linearBackward(.output, outputGradient: gradient.pointer, stride: c, input: a.attention ?? scratch.attention,
                           inputGradient: attentionNeeded ? g.attention : nil)
        guard attentionNeeded else { return }
        g.qkv.zero()
        try Attention.backward(qkvGradient: g.qkv, outputGradient: g.attention, probabilities: a.probabilities, qkv: a.qkv,
                               heads: shape.heads, scratch: g.scores)
        if needsInputGradient { g.norm.zero() }
        if qkvAdapted { try normalize1(input, into: scratch.norm, saved: a) }
        for (column, target) in [LoRATarget.query, .key, .value].enumerated() {
            try linearBackward(target, outputGradient: g.qkv.pointer + column * c, stride: 3 * c, input: scratch.norm,
                               inputGradient: needsInputGradient ? g.norm : nil)
        }
        if needsInputGradient {
            try LayerNorm.backward(inputGradient: gradient, weightGradient: nil, biasGradient: nil, outputGradient: g.norm,
                                   input: input, weight: norm1Weight, mean: a.mean1, reciprocalStd: a.rstd1)
        }
    }

    /// dx += dy·W for the frozen weight (never dW or db), plus the adapter's dA, dB and its share of dx.
    private func linearBackward(_ target: LoRATarget, outputGradient dy: UnsafePointer<Float>, stride: Int, input: Tensor,
                                inputGradient dx: Tensor?) throws {
        let frozen = projections[target]!
        if let dx {
            try Linear.backward(inputGradient: dx, weightGradient: nil, biasGradient: nil, outputGradient: dy,
                                gradientStride: stride, input: input, weight: frozen.weight)
        }
        try adapters[target]?.backward(outputGradient: dy, gradientStride: stride, input: input, inputGradient: dx)
    }
}

/// What one layer's forward saves for its backward, for `[B, T]` tokens (allocated once, reused every step).
final class LayerActivations {
    let mean1: Tensor, rstd1: Tensor, qkv: Tensor, probabilities: Tensor
    /// The attention output, kept only when out_proj has an adapter (its dA needs it; dx through the frozen
    /// out_proj does not); otherwise nil and the forward uses the stack's scratch.
    let attention: Tensor?
    let middle: Tensor, mean2: Tensor, rstd2: Tensor, hidden: Tensor

    init(shape: EncoderShape, batch: Int, tokens: Int, keepsAttentionOutput: Bool) {
        let c = shape.width
        mean1 = Tensor(zeros: [batch * tokens]); rstd1 = Tensor(zeros: [batch * tokens])
        qkv = Tensor(zeros: [batch, tokens, 3 * c])
        probabilities = Tensor(zeros: [batch, shape.heads, tokens, tokens])
        attention = keepsAttentionOutput ? Tensor(zeros: [batch, tokens, c]) : nil
        middle = Tensor(zeros: [batch, tokens, c])
        mean2 = Tensor(zeros: [batch * tokens]); rstd2 = Tensor(zeros: [batch * tokens])
        hidden = Tensor(zeros: [batch, tokens, shape.intermediate])
    }

    /// The first `batch` items as views (a smaller last batch reuses the same memory).
    private init(_ full: LayerActivations, batch: Int, tokens: Int) throws {
        let rows = batch * tokens
        mean1 = try full.mean1.rows(0..<rows); rstd1 = try full.rstd1.rows(0..<rows)
        qkv = try full.qkv.rows(0..<batch); probabilities = try full.probabilities.rows(0..<batch)
        attention = try full.attention?.rows(0..<batch); middle = try full.middle.rows(0..<batch)
        mean2 = try full.mean2.rows(0..<rows); rstd2 = try full.rstd2.rows(0..<rows)
        hidden = try full.hidden.rows(0..<batch)
    }

    var batch: Int { qkv.shape[0] }

    func prefix(batch: Int) throws -> LayerActivations {
        batch == self.batch ? self : try LayerActivations(self, batch: batch, tokens: qkv.shape[1])
    }
}

/// Values a layer uses only for a moment — layer-norm outputs and the MLP activation — shared by every layer of a
/// stack, and refilled in backward when an adapter needs them.
final class LayerScratch {
    let norm: Tensor, activated: Tensor, attention: Tensor

    init(shape: EncoderShape, batch: Int, tokens: Int) {
        norm = Tensor(zeros: [batch, tokens, shape.width])
        activated = Tensor(zeros: [batch, tokens, shape.intermediate])
        attention = Tensor(zeros: [batch, tokens, shape.width])
    }

    private init(_ full: LayerScratch, batch: Int) throws {
        norm = try full.norm.rows(0..<batch)
        activated = try full.activated.rows(0..<batch)
        attention = try full.attention.rows(0..<batch)
    }

    func prefix(batch: Int) throws -> LayerScratch {
        batch == norm.shape[0] ? self : try LayerScratch(self, batch: batch)
    }
}

/// Gradient scratch shared by all layers of a tower during backward (layers are visited one at a time).
final class LayerGradients {
    let norm: Tensor, qkv: Tensor, attention: Tensor, hidden: Tensor, activated: Tensor, scores: Tensor

    init(shape: EncoderShape, batch: Int, tokens: Int) {
        let c = shape.width
        norm = Tensor(zeros: [batch, tokens, c]); qkv = Tensor(zeros: [batch, tokens, 3 * c])
        attention = Tensor(zeros: [batch, tokens, c])
        hidden = Tensor(zeros: [batch, tokens, shape.intermediate]); activated = Tensor(zeros: [batch, tokens, shape.intermediate])
        scores = Tensor(zeros: [BLASThreads.count * tokens * tokens])  // one T×T block per attention worker
    }

    private init(_ full: LayerGradients, batch: Int) throws {
        norm = try full.norm.rows(0..<batch); qkv = try full.qkv.rows(0..<batch); attention = try full.attention.rows(0..<batch)
        hidden = try full.hidden.rows(0..<batch); activated = try full.activated.rows(0..<batch); scores = full.scores
    }

    func prefix(batch: Int) throws -> LayerGradients {
        batch == norm.shape[0] ? self : try LayerGradients(self, batch: batch)
    }
}
