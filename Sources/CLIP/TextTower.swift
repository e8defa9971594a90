import BLASCore

/// CLIP's text encoder: token + position embeddings, causal encoder stack, `final_layer_norm`, pooling at the end
/// of each prompt, and `text_projection`.
///
/// Pooling is at the first `eos_token_id` position, or at `argmax(input_ids)` when `eos_token_id == 2` (the rule
/// transformers keeps for old configs). Because attention is causal, positions after the last pooled one cannot
/// change any output, so only tokens up to it are computed — the same result with far fewer FLOPs.
public final class TextTower: @unchecked Sendable {
    public let configuration: TextConfiguration
    public let encoder: TransformerStack
    let tokenEmbedding: Tensor       // [V, C]
    let positionEmbedding: Tensor    // [maxPositions, C]
    let finalNormWeight: Tensor, finalNormBias: Tensor
    let projection: FrozenLinear     // [P, C], no bias

    // What the last forward saved for backward.
    private var pooledInput = Tensor(zeros: [0])
    private var pooled = Tensor(zeros: [0]), pooledMean = Tensor(zeros: [0]), pooledRstd = Tensor(zeros: [0])
    private var poolIndices: [Int] = []
    private var tokenCount = 0

    init(configuration: TextConfiguration, projectionDimension: Int, weights: (String, [Int]) throws -> Tensor) throws {
        self.configuration = configuration
        let c = configuration.hiddenSize
        tokenEmbedding = try weights("text_model.embeddings.token_embedding.weight", [configuration.vocabularySize, c])
        positionEmbedding = try weights("text_model.embeddings.position_embedding.weight", [configuration.maxPositions, c])
        finalNormWeight = try weights("text_model.final_layer_norm.weight", [c])
        finalNormBias = try weights("text_model.final_layer_norm.bias", [c])
        projection = FrozenLinear(weight: try weights("text_projection.weight", [projectionDimension, c]), bias: nil)
        let shape = EncoderShape(width: c, heads: configuration.headCount, intermediate: configuration.intermediateSize,
                                 layerCount: configuration.layerCount, epsilon: configuration.layerNormEpsilon,
                                 activation: configuration.activation, causal: true)
        encoder = try TransformerStack(shape: shape, prefix: "text_model.encoder", weights: weights)
    }

    /// The position each prompt is pooled at, as transformers' `CLIPTextTransformer` picks it.
    public func poolIndex(of ids: [Int]) -> Int {
        if configuration.eosTokenID == 2 {
            return ids.indices.max { ids[$0] < ids[$1] || (ids[$0] == ids[$1] && $0 > $1) } ?? 0  // first maximum
        }
        return ids.firstIndex(of: configuration.eosTokenID) ?? ids.count - 1
    }

    /// Text embeddings `[K, P]` (projected, not normalized) of `K` tokenized prompts (padded or not).
    public func forward(tokenIDs: [[Int]], dropout generator: inout SeededGenerator?) throws -> Tensor {
        let c = configuration.hiddenSize, count = tokenIDs.count
        try require(count > 0, "text forward: no prompts")
        poolIndices = tokenIDs.map(poolIndex)
        tokenCount = poolIndices.max()! + 1
        try require(tokenCount <= configuration.maxPositions, "text forward: \(tokenCount) tokens exceed max_position_embeddings \(configuration.maxPositions)")
        let embeddings = Tensor(zeros: [count, tokenCount, c])
        for (prompt, ids) in tokenIDs.enumerated() {
            for position in 0..<tokenCount {
                // Positions past a prompt's own end only exist for longer prompts in the batch; the causal mask keeps them
                // out of this prompt's pooled token, so any id serves: use the end-of-text id as padding does.
                let id = position < ids.count ? ids[position] : configuration.eosTokenID
                try require(id >= 0 && id < configuration.vocabularySize, "text forward: token id \(id) outside the vocabulary of \(configuration.vocabularySize)")
                let target = embeddings.pointer + (prompt * tokenCount + position) * c
                let token = tokenEmbedding.pointer + id * c, place = positionEmbedding.pointer + position * c
                for j in 0..<c { target[j] = token[j] + place[j] }
            }
        }
        let output = try encoder.forward(embeddings, dropout: &generator)
        pooledInput = Tensor(zeros: [count, c])
        for prompt in 0..<count {
            (pooledInput.pointer + prompt * c).update(from: output.pointer + (prompt * tokenCount + poolIndices[prompt]) * c, count: c)
        }
        pooled = Tensor(zeros: [count, c]); pooledMean = Tensor(zeros: [count]); pooledRstd = Tensor(zeros: [count])
        // final_layer_norm is per token, so normalizing only the pooled rows gives exactly HF's values.
        try LayerNorm.forward(output: pooled, mean: pooledMean, reciprocalStd: pooledRstd, input: pooledInput,
                              weight: finalNormWeight, bias: finalNormBias, epsilon: configuration.layerNormEpsilon)
        let embeds = Tensor(zeros: [count, projection.outFeatures])
        try Linear.forward(output: embeds, input: pooled, weight: projection.weight, bias: nil)
        return embeds
    }

    /// `final_layer_norm` at the pooled positions of the last forward, before projection: `[K, C]`.
    public var lastPooled: Tensor { pooled }

    /// Backpropagates dL/d embeds `[K, P]` of the last forward into the adapters' gradients.
    public func backward(embedsGradient: Tensor) throws {
        guard encoder.lowestAdaptedLayer != nil else { return }
        let count = poolIndices.count, c = configuration.hiddenSize
        let dPooled = Tensor(zeros: [count, c])
        try Linear.backward(inputGradient: dPooled, weightGradient: nil, biasGradient: nil, outputGradient: embedsGradient,
                            input: pooled, weight: projection.weight)
        let dInput = Tensor(zeros: [count, c])
        try LayerNorm.backward(inputGradient: dInput, weightGradient: nil, biasGradient: nil, outputGradient: dPooled,
                               input: pooledInput, weight: finalNormWeight, mean: pooledMean, reciprocalStd: pooledRstd)
        let dHidden = Tensor(zeros: [count, tokenCount, c])
        for prompt in 0..<count {
            (dHidden.pointer + (prompt * tokenCount + poolIndices[prompt]) * c).update(from: dInput.pointer + prompt * c, count: c)
        }
        try encoder.backward(outputGradient: dHidden)
    }
}
