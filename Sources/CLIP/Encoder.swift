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

    /// Runs the layer on `input [B, T, C]` into `output [B, n, C]`, saving in `saved` what backward needs. With n < T
    /// only the first n tokens of each item are computed past the key/value projections (a ViT's last layer needs
    /// its class token alone). The layer-norm outputs and the activation go to the stack-wide `scratch`: backward
    /// recomputes them (cheap elementwise work) instead of every layer keeping them — a third less activation memory.
    func forward(input: Tensor, output: Tensor, saved a: LayerActivations, scratch: LayerScratch,
                 dropout generator: inout SeededGenerator?) throws {
        let c = shape.width, batch = input.shape[0], tokens = input.shape[1], queries = output.shape[1]
        try normalize1(input, into: scratch.norm, saved: a)
        // q, k, v into the column thirds of one fused buffer, read in place by attention; q only for the query tokens.
        if queries == tokens {
            try linear(.query, output: a.qkv.pointer, stride: 3 * c, input: scratch.norm, generator: &generator)
        } else {
            let normalized = try scratch.leadingTokens.leading([batch, queries, c])
            let query = try scratch.queryProjection.leading([batch, queries, c])
            copyLeadingTokens(queries, from: TokenRows(scratch.norm), to: TokenRows(normalized))
            try linear(.query, output: query.pointer, stride: c, input: normalized, generator: &generator)
            copyLeadingTokens(queries, from: TokenRows(query), to: TokenRows(a.qkv, columns: 0..<c))
        }
        try linear(.key, output: a.qkv.pointer + c, stride: 3 * c, input: scratch.norm, generator: &generator)
        try linear(.value, output: a.qkv.pointer + 2 * c, stride: 3 * c, input: scratch.norm, generator: &generator)
        let attention = try a.attention ?? scratch.attention.leading([batch, queries, c])
        try Attention.forward(output: attention, probabilities: a.probabilities, qkv: a.qkv, heads: shape.heads, causal: shape.causal)
        try linear(.output, output: a.middle.pointer, stride: c, input: attention, generator: &generator)
        if queries == tokens {
            try Residual.forward(output: a.middle, a.middle, input)
        } else {
            let residual = try scratch.leadingTokens.leading([batch, queries, c])
            copyLeadingTokens(queries, from: TokenRows(input), to: TokenRows(residual))
            try Residual.forward(output: a.middle, a.middle, residual)
        }
        let normalized = try scratch.norm.leading(a.middle.shape), activated = try scratch.activated.leading(a.hidden.shape)
        try normalize2(a.middle, into: normalized, saved: a)
        try linear(.fc1, output: a.hidden.pointer, stride: shape.intermediate, input: normalized, generator: &generator)
        try activate(a.hidden, into: activated)
        try linear(.fc2, output: output.pointer, stride: c, input: activated, generator: &generator)
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

    /// Given `outputGradient` = dL/d output `[B, n, C]`, accumulates every adapter's dA, dB and writes dL/d input
    /// `[B, T, C]` into `inputGradient` (skipped when `needsInputGradient` is false: the lowest adapted layer of a
    /// tower, whose input is frozen). With n = T the two may be one buffer, turned in place; `outputGradient` is
    /// used as scratch either way.
    func backward(outputGradient dm: Tensor, inputGradient: Tensor, input: Tensor, saved a: LayerActivations,
                  scratch: LayerScratch, gradients g: LayerGradients, needsInputGradient: Bool) throws {
        let c = shape.width, batch = input.shape[0], tokens = input.shape[1], queries = dm.shape[1]
        let normalized = try scratch.norm.leading(a.middle.shape), activated = try scratch.activated.leading(a.hidden.shape)
        // Each gradient buffer's first contribution writes it (no zeroing pass); later ones add.
        let dNormalized = try g.norm.leading(a.middle.shape), dHidden = try g.hidden.leading(a.hidden.shape)
        // Through fc2 and the activation to fc1's output, in one buffer: dL/d act(hidden), then dL/d hidden.
        // An fc2 adapter needs its input, act(hidden), again.
        if adapters[.fc2] != nil { try activate(a.hidden, into: activated) }
        try linearBackward(.fc2, outputGradient: dm.pointer, stride: c, input: activated, inputGradient: dHidden, accumulating: false)
        switch shape.activation {
        case .quickGELU: try QuickGELU.backward(inputGradient: dHidden, outputGradient: dHidden, input: a.hidden, accumulating: false)
        case .gelu: try GELU.backward(inputGradient: dHidden, outputGradient: dHidden, input: a.hidden, accumulating: false)
        }
        if adapters[.fc1] != nil { try normalize2(a.middle, into: normalized, saved: a) }
        try linearBackward(.fc1, outputGradient: dHidden.pointer, stride: shape.intermediate, input: normalized, inputGradient: dNormalized,
                           accumulating: false)
        // `dm` already holds the residual path's dL/dm; LN₂ adds the MLP path.
        try LayerNorm.backward(inputGradient: dm, weightGradient: nil, biasGradient: nil, outputGradient: dNormalized,
                               input: a.middle, weight: norm2Weight, mean: a.mean2, reciprocalStd: a.rstd2)

        let qkvAdapted = adapters[.query] != nil || adapters[.key] != nil || adapters[.value] != nil
        let attentionNeeded = needsInputGradient || qkvAdapted
        guard attentionNeeded || adapters[.output] != nil else { return }
        let dAttention = try g.attention.leading([batch, queries, c])
        // Without an out_proj adapter only dx = dy·W is needed, which reads no input: the scratch stands in for its shape.
        try linearBackward(.output, outputGradient: dm.pointer, stride: c, input: try a.attention ?? scratch.attention.leading(dAttention.shape),
                           inputGradient: attentionNeeded ? dAttention : nil, accumulating: false)
        guard attentionNeeded else { return }
        try Attention.backward(qkvGradient: g.qkv, outputGradient: dAttention, probabilities: a.probabilities, qkv: a.qkv,
                               heads: shape.heads, scratch: g.scores, accumulating: false)
        if qkvAdapted { try normalize1(input, into: scratch.norm, saved: a) }
        // dL/d LN₁(input) from k and v (k writes, v adds), then q.
        for (column, target) in [(1, LoRATarget.key), (2, .value)] {
            try linearBackward(target, outputGradient: g.qkv.pointer + column * c, stride: 3 * c, input: scratch.norm,
                               inputGradient: needsInputGradient ? g.norm : nil, accumulating: target == .value)
        }
        if queries == tokens {
            try linearBackward(.query, outputGradient: g.qkv.pointer, stride: 3 * c, input: scratch.norm,
                               inputGradient: needsInputGradient ? g.norm : nil)
        } else {
            // dq exists for the query tokens only: gather it (and, for an adapter, their LN₁ rows), scatter dx back.
            let dQuery = try g.queryProjection.leading([batch, queries, c]), dNormalizedQueries = try g.leadingTokens.leading(dQuery.shape)
            let normalizedQueries = try scratch.leadingTokens.leading(dQuery.shape)
            copyLeadingTokens(queries, from: TokenRows(g.qkv, columns: 0..<c), to: TokenRows(dQuery))
            if adapters[.query] != nil { copyLeadingTokens(queries, from: TokenRows(scratch.norm), to: TokenRows(normalizedQueries)) }
            try linearBackward(.query, outputGradient: dQuery.pointer, stride: c, input: normalizedQueries,
                               inputGradient: needsInputGradient ? dNormalizedQueries : nil, accumulating: false)
            if needsInputGradient { copyLeadingTokens(queries, from: TokenRows(dNormalizedQueries), to: TokenRows(g.norm), adding: true) }
        }
        if needsInputGradient {
            // dL/d input = the residual path (dm, on the query tokens) + the LN₁ path (every token).
            if dm !== inputGradient {
                inputGradient.zero()
                copyLeadingTokens(queries, from: TokenRows(dm), to: TokenRows(inputGradient))
            }
            try LayerNorm.backward(inputGradient: inputGradient, weightGradient: nil, biasGradient: nil, outputGradient: g.norm,
                                   input: input, weight: norm1Weight, mean: a.mean1, reciprocalStd: a.rstd1)
        }
    }

    /// dx += dy·W for the frozen weight (never dW or db; dx = dy·W when not `accumulating`), plus the adapter's
    /// dA, dB and its share of dx.
    private func linearBackward(_ target: LoRATarget, outputGradient dy: UnsafePointer<Float>, stride: Int, input: Tensor,
                                inputGradient dx: Tensor?, accumulating: Bool = true) throws {
        let frozen = projections[target]!
        if let dx {
            try Linear.backward(inputGradient: dx, weightGradient: nil, biasGradient: nil, outputGradient: dy,
                                gradientStride: stride, input: input, weight: frozen.weight, accumulatingInput: accumulating)
        }
        try adapters[target]?.backward(outputGradient: dy, gradientStride: stride, input: input, inputGradient: dx)
    }
}

/// What one layer's forward saves for its backward, for `[B, T]` tokens of which the first n ask queries
/// (allocated once, reused every step).
final class LayerActivations {
    let mean1: Tensor, rstd1: Tensor, qkv: Tensor, probabilities: Tensor
    /// The attention output, kept only when out_proj has an adapter (its dA needs it; dx through the frozen
    /// out_proj does not); otherwise nil and the forward uses the stack's scratch.
    let attention: Tensor?
    let middle: Tensor, mean2: Tensor, rstd2: Tensor, hidden: Tensor

    init(shape: EncoderShape, batch: Int, tokens: Int, queries: Int, keepsAttentionOutput: Bool) {
        let c = shape.width
        mean1 = Tensor(zeros: [batch * tokens]); rstd1 = Tensor(zeros: [batch * tokens])
        qkv = Tensor(zeros: [batch, tokens, 3 * c])
        probabilities = Tensor(zeros: [batch, shape.heads, queries, tokens])
        attention = keepsAttentionOutput ? Tensor(zeros: [batch, queries, c]) : nil
        middle = Tensor(zeros: [batch, queries, c])
        mean2 = Tensor(zeros: [batch * queries]); rstd2 = Tensor(zeros: [batch * queries])
        hidden = Tensor(zeros: [batch, queries, shape.intermediate])
    }

    /// Views of the first `batch` items with `queries` query tokens (a smaller batch, or the class-token-only last
    /// layer, reuses the same memory).
    private init(_ full: LayerActivations, batch: Int, queries: Int) throws {
        let tokens = full.qkv.shape[1], c = full.middle.shape[2]
        mean1 = try full.mean1.rows(0..<batch * tokens); rstd1 = try full.rstd1.rows(0..<batch * tokens)
        qkv = try full.qkv.rows(0..<batch)
        probabilities = try full.probabilities.leading([batch, full.probabilities.shape[1], queries, tokens])
        attention = try full.attention?.leading([batch, queries, c]); middle = try full.middle.leading([batch, queries, c])
        mean2 = try full.mean2.leading([batch * queries]); rstd2 = try full.rstd2.leading([batch * queries])
        hidden = try full.hidden.leading([batch, queries, full.hidden.shape[2]])
    }

    func prefix(batch: Int, queries: Int) throws -> LayerActivations {
        batch == qkv.shape[0] && queries == middle.shape[1] ? self : try LayerActivations(self, batch: batch, queries: queries)
    }
}

/// Values a layer uses only for a moment — layer-norm outputs and the MLP activation — shared by every layer of a
/// stack, and refilled in backward when an adapter needs them. `leadingTokens` and `queryProjection` hold the
/// query tokens' rows, gathered, when a layer computes fewer queries than tokens.
final class LayerScratch {
    let norm: Tensor, activated: Tensor, attention: Tensor, leadingTokens: Tensor, queryProjection: Tensor

    init(shape: EncoderShape, batch: Int, tokens: Int, queries: Int) {
        let c = shape.width, gathered = queries < tokens ? batch * queries : 0
        norm = Tensor(zeros: [batch, tokens, c])
        activated = Tensor(zeros: [batch, tokens, shape.intermediate])
        attention = Tensor(zeros: [batch, tokens, c])
        leadingTokens = Tensor(zeros: [gathered, c]); queryProjection = Tensor(zeros: [gathered, c])
    }

    private init(_ full: LayerScratch, batch: Int) throws {
        norm = try full.norm.rows(0..<batch)
        activated = try full.activated.rows(0..<batch)
        attention = try full.attention.rows(0..<batch)
        leadingTokens = full.leadingTokens; queryProjection = full.queryProjection
    }

    func prefix(batch: Int) throws -> LayerScratch {
        batch == norm.shape[0] ? self : try LayerScratch(self, batch: batch)
    }
}

/// Gradient scratch shared by all layers of a tower during backward (layers are visited one at a time).
final class LayerGradients {
    let norm: Tensor, qkv: Tensor, attention: Tensor, hidden: Tensor, scores: Tensor
    let leadingTokens: Tensor, queryProjection: Tensor

    init(shape: EncoderShape, batch: Int, tokens: Int, queries: Int) {
        let c = shape.width, gathered = queries < tokens ? batch * queries : 0
        norm = Tensor(zeros: [batch, tokens, c]); qkv = Tensor(zeros: [batch, tokens, 3 * c])
        attention = Tensor(zeros: [batch, tokens, c])
        hidden = Tensor(zeros: [batch, tokens, shape.intermediate])
        scores = Tensor(zeros: [BLASThreads.count * tokens * tokens])  // one T×T block per attention worker
        leadingTokens = Tensor(zeros: [gathered, c]); queryProjection = Tensor(zeros: [gathered, c])
    }

    private init(_ full: LayerGradients, batch: Int) throws {
        norm = try full.norm.rows(0..<batch); qkv = try full.qkv.rows(0..<batch); attention = try full.attention.rows(0..<batch)
        hidden = try full.hidden.rows(0..<batch); scores = full.scores
        leadingTokens = full.leadingTokens; queryProjection = full.queryProjection
    }

    func prefix(batch: Int) throws -> LayerGradients {
        batch == norm.shape[0] ? self : try LayerGradients(self, batch: batch)
    }
}

/// The rows of a `[B, T, ·]` buffer, or of a column block of one (the q third of the fused QKV buffer), per item and token.
struct TokenRows {
    let base: UnsafeMutablePointer<Float>
    let items: Int, tokensPerItem: Int, rowStride: Int, width: Int

    init(_ tensor: Tensor, columns: Range<Int>? = nil) {
        precondition(tensor.shape.count == 3, "token rows need a [B, T, ·] tensor, got \(tensor.shape)")
        let columns = columns ?? 0..<tensor.lastDimension
        base = tensor.pointer + columns.lowerBound
        items = tensor.shape[0]; tokensPerItem = tensor.shape[1]; rowStride = tensor.shape[2]; width = columns.count
    }

    func row(item: Int, token: Int) -> UnsafeMutablePointer<Float> { base + (item * tokensPerItem + token) * rowStride }
}

/// Copies (or adds) the first `count` tokens of every item from `source` to `destination`: the gathers and
/// scatters between a full `[B, T, ·]` buffer and a compact `[B, n, ·]` one.
func copyLeadingTokens(_ count: Int, from source: TokenRows, to destination: TokenRows, adding: Bool = false) {
    precondition(source.items == destination.items && source.width == destination.width
                 && count <= source.tokensPerItem && count <= destination.tokensPerItem)
    for item in 0..<source.items {
        for token in 0..<count {
            let from = source.row(item: item, token: token), to = destination.row(item: item, token: token)
            if adding {
                for j in 0..<source.width { to[j] += from[j] }
            } else {
                to.update(from: from, count: source.width)
            }
        }
    }
}
