import BLASCore

/// CLIP's image encoder: patch embedding (a bias-free convolution done as one GEMM over unfolded patches),
/// class token, position embeddings, `pre_layrnorm`, the encoder stack, `post_layernorm` on the class token,
/// and `visual_projection`.
public final class VisionTower: @unchecked Sendable {
    public let configuration: VisionConfiguration
    public let encoder: TransformerStack
    let patchWeight: Tensor            // [C, 3·p·p], the conv kernel [C, 3, p, p] seen as a matrix
    let classEmbedding: Tensor         // [C]
    let positionEmbedding: Tensor      // [1 + patches, C]
    let preNormWeight: Tensor, preNormBias: Tensor
    let postNormWeight: Tensor, postNormBias: Tensor
    let projection: FrozenLinear       // [P, C], no bias

    public var patchesPerSide: Int { configuration.imageSize / configuration.patchSize }
    /// Tokens per image: one per patch plus the class token.
    public var tokens: Int { patchesPerSide * patchesPerSide + 1 }

    private var buffers: Buffers?

    init(configuration: VisionConfiguration, projectionDimension: Int, weights: (String, [Int]) throws -> Tensor) throws {
        self.configuration = configuration
        let c = configuration.hiddenSize, p = configuration.patchSize, channels = configuration.channelCount
        let patches = (configuration.imageSize / p) * (configuration.imageSize / p)
        patchWeight = try weights("vision_model.embeddings.patch_embedding.weight", [c, channels, p, p]).reshaped([c, channels * p * p])
        classEmbedding = try weights("vision_model.embeddings.class_embedding", [c])
        positionEmbedding = try weights("vision_model.embeddings.position_embedding.weight", [patches + 1, c])
        preNormWeight = try weights("vision_model.pre_layrnorm.weight", [c])
        preNormBias = try weights("vision_model.pre_layrnorm.bias", [c])
        postNormWeight = try weights("vision_model.post_layernorm.weight", [c])
        postNormBias = try weights("vision_model.post_layernorm.bias", [c])
        projection = FrozenLinear(weight: try weights("visual_projection.weight", [projectionDimension, c]), bias: nil)
        let shape = EncoderShape(width: c, heads: configuration.headCount, intermediate: configuration.intermediateSize,
                                 layerCount: configuration.layerCount, epsilon: configuration.layerNormEpsilon,
                                 activation: configuration.activation, causal: false)
        // Only the class token is pooled: the last layer computes that token alone.
        encoder = try TransformerStack(shape: shape, prefix: "vision_model.encoder", outputTokens: 1, weights: weights)
    }

    /// Embeddings + `pre_layrnorm` of `pixels [B, 3, S, S]`: the encoder's input `[B, tokens, C]` (a workspace view).
    public func encoderInput(pixels: Tensor) throws -> Tensor {
        let s = configuration.imageSize, p = configuration.patchSize, c = configuration.hiddenSize, channels = configuration.channelCount
        try require(pixels.shape.count == 4 && Array(pixels.shape[1...]) == [channels, s, s],
                    "pixel values \(pixels.shape) should be [N, \(channels), \(s), \(s)]")
        let batch = pixels.shape[0], grid = patchesPerSide, patchCount = grid * grid, patchSize = channels * p * p
        let b = try buffers(batch: batch)
        // Unfold: row (image, patch) holds the patch's pixels in the kernel's (channel, y, x) order.
        let patches = try b.patches.rows(0..<batch * patchCount)
        for image in 0..<batch {
            for py in 0..<grid { for px in 0..<grid {
                let row = patches.pointer + ((image * patchCount) + py * grid + px) * patchSize
                for channel in 0..<channels { for ky in 0..<p {
                    let source = pixels.pointer + ((image * channels + channel) * s + py * p + ky) * s + px * p
                    (row + (channel * p + ky) * p).update(from: source, count: p)
                } }
            } }
        }
        let patchEmbeddings = try b.patchEmbeddings.rows(0..<batch * patchCount)
        try GEMM.multiply(patches, patchWeight, into: patchEmbeddings, transposeB: true)
        let embeddings = try b.embeddings.rows(0..<batch)
        for image in 0..<batch {
            let tokenBase = embeddings.pointer + image * tokens * c
            for j in 0..<c { tokenBase[j] = classEmbedding[j] + positionEmbedding[j] }
            for patch in 0..<patchCount {
                let target = tokenBase + (patch + 1) * c
                let source = patchEmbeddings.pointer + (image * patchCount + patch) * c
                let position = positionEmbedding.pointer + (patch + 1) * c
                for j in 0..<c { target[j] = source[j] + position[j] }
            }
        }
        let normalized = try b.normalized.rows(0..<batch)
        try LayerNorm.forward(output: normalized, mean: try b.normMean.rows(0..<batch * tokens), reciprocalStd: try b.normRstd.rows(0..<batch * tokens),
                              input: embeddings, weight: preNormWeight, bias: preNormBias, epsilon: configuration.layerNormEpsilon)
        return normalized
    }

    /// Image embeddings `[B, P]` (projected, not normalized) from pixels.
    public func forward(pixels: Tensor, dropout generator: inout SeededGenerator?) throws -> Tensor {
        try forward(hidden: try encoderInput(pixels: pixels), fromLayer: 0, dropout: &generator)
    }

    /// The output of the frozen layers below `layer` for `pixels` (an owned copy: what the frozen-prefix cache keeps;
    /// the class token alone when `layer` is past the last).
    public func frozenPrefix(pixels: Tensor, belowLayer layer: Int) throws -> Tensor {
        try encoder.forwardPrefix(try encoderInput(pixels: pixels), layerCount: layer)
    }

    /// Image embeddings from `hidden [B, tokens, C]`, the input of encoder layer `fromLayer`.
    public func forward(hidden: Tensor, fromLayer: Int, dropout generator: inout SeededGenerator?) throws -> Tensor {
        let batch = hidden.shape[0]
        let output = try encoder.forward(hidden, from: fromLayer, dropout: &generator)  // [B, 1, C]: the class tokens
        let b = try buffers(batch: batch)
        let classTokens = try b.classTokens.rows(0..<batch)
        try classTokens.copy(from: output)
        let pooled = try b.pooled.rows(0..<batch)
        try LayerNorm.forward(output: pooled, mean: try b.pooledMean.rows(0..<batch), reciprocalStd: try b.pooledRstd.rows(0..<batch),
                              input: classTokens, weight: postNormWeight, bias: postNormBias, epsilon: configuration.layerNormEpsilon)
        let embeds = try b.embeds.rows(0..<batch)
        try Linear.forward(output: embeds, input: pooled, weight: projection.weight, bias: nil)
        return embeds
    }

    /// `post_layernorm(CLS)` of the last forward, before projection: `[B, C]`.
    public func lastPooled(batch: Int) throws -> Tensor { try buffers!.pooled.rows(0..<batch) }

    /// Backpropagates dL/d embeds `[B, P]` of the last forward into the adapters' gradients.
    public func backward(embedsGradient: Tensor) throws {
        guard encoder.lowestAdaptedLayer != nil, let b = buffers else { return }
        let batch = embedsGradient.shape[0]
        let dPooled = try b.pooledGradient.rows(0..<batch)
        dPooled.zero()
        try Linear.backward(inputGradient: dPooled, weightGradient: nil, biasGradient: nil, outputGradient: embedsGradient,
                            input: try b.pooled.rows(0..<batch), weight: projection.weight)
        let dClass = try b.classGradient.rows(0..<batch)
        dClass.zero()
        try LayerNorm.backward(inputGradient: dClass, weightGradient: nil, biasGradient: nil, outputGradient: dPooled,
                               input: try b.classTokens.rows(0..<batch), weight: postNormWeight,
                               mean: try b.pooledMean.rows(0..<batch), reciprocalStd: try b.pooledRstd.rows(0..<batch))
        try encoder.backward(outputGradient: try dClass.reshaped([batch, 1, dClass.lastDimension]))
    }

    private func buffers(batch: Int) throws -> Buffers {
        if let b = buffers, b.capacity >= batch { return b }
        let b = Buffers(configuration: configuration, tokens: tokens, projection: projection.outFeatures, capacity: batch)
        buffers = b
        return b
    }

    private final class Buffers {
        let capacity: Int
        let patches: Tensor, patchEmbeddings: Tensor, embeddings: Tensor, normalized: Tensor, normMean: Tensor, normRstd: Tensor
        let classTokens: Tensor, pooled: Tensor, pooledMean: Tensor, pooledRstd: Tensor, embeds: Tensor
        let pooledGradient: Tensor, classGradient: Tensor

        init(configuration: VisionConfiguration, tokens: Int, projection: Int, capacity: Int) {
            self.capacity = capacity
            let c = configuration.hiddenSize, p = configuration.patchSize
            let patchCount = tokens - 1
            patches = Tensor(zeros: [capacity * patchCount, configuration.channelCount * p * p])
            patchEmbeddings = Tensor(zeros: [capacity * patchCount, c])
            embeddings = Tensor(zeros: [capacity, tokens, c])
            normalized = Tensor(zeros: [capacity, tokens, c])
            normMean = Tensor(zeros: [capacity * tokens]); normRstd = Tensor(zeros: [capacity * tokens])
            classTokens = Tensor(zeros: [capacity, c]); pooled = Tensor(zeros: [capacity, c])
            pooledMean = Tensor(zeros: [capacity]); pooledRstd = Tensor(zeros: [capacity])
            embeds = Tensor(zeros: [capacity, projection])
            pooledGradient = Tensor(zeros: [capacity, c]); classGradient = Tensor(zeros: [capacity, c])
        }
    }
}
