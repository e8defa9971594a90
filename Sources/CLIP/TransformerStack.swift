import BLASCore

/// A tower's stack of encoder layers with the buffers its forward and backward use.
///
/// Buffers are allocated for the largest batch seen and reused (a smaller batch uses leading rows), so a training
/// step allocates nothing. Activations are saved only from the lowest adapted layer up: below it nothing is
/// trained, so nothing needs a backward.
public final class TransformerStack: @unchecked Sendable {
    public let shape: EncoderShape
    public let layers: [EncoderLayer]
    /// How many leading tokens of each item the tower reads from the last layer (nil: all of them). The vision tower
    /// reads its class token alone, so its last layer computes q, attention, out_proj and the MLP for that token only:
    /// about 9 GFLOP (a fifteenth) less in ViT-B/32's forward at batch 16, and as much again in backward.
    public let outputTokens: Int?
    private var workspace: Workspace?

    init(shape: EncoderShape, prefix: String, outputTokens: Int? = nil, weights: (String, [Int]) throws -> Tensor) throws {
        self.shape = shape
        self.outputTokens = outputTokens
        layers = try (0..<shape.layerCount).map {
            try EncoderLayer(shape: shape, prefix: "\(prefix).layers.\($0)", weights: weights)
        }
    }

    /// Index of the lowest layer carrying an adapter; nil when the tower is frozen.
    public var lowestAdaptedLayer: Int? { layers.firstIndex { !$0.adapters.isEmpty } }

    /// Runs layers `startLayer..<layerCount` on `input [B, T, C]` (the output of layer `startLayer − 1`, or the
    /// embeddings) and returns the last layer's output `[B, n, C]` for the `outputTokens` n (a view into the
    /// workspace, valid until the next call). With `startLayer` = layerCount, `input` already is that output.
    /// `generator` draws LoRA dropout masks when training; nil for evaluation.
    func forward(_ input: Tensor, from startLayer: Int = 0, dropout generator: inout SeededGenerator?) throws -> Tensor {
        try require(input.shape.count == 3 && input.shape[2] == shape.width,
                    "encoder input \(input.shape) should be [B, T, \(shape.width)]")
        guard startLayer < layers.count else { return input }
        let batch = input.shape[0]
        let space = try workspace(batch: batch, tokens: input.shape[1])
        try run(layers: startLayer..<layers.count, on: input, in: space, dropout: &generator)
        space.lastBatch = batch
        return try space.streams[layers.count].rows(0..<batch)
    }

    /// Runs the frozen layers `0..<count` only, returning a copy of their output (for the frozen-prefix cache).
    func forwardPrefix(_ input: Tensor, layerCount count: Int) throws -> Tensor {
        let batch = input.shape[0]
        let space = try workspace(batch: batch, tokens: input.shape[1])
        var noDropout: SeededGenerator? = nil
        try run(layers: 0..<count, on: input, in: space, dropout: &noDropout)
        return try space.streams[count].rows(0..<batch).clone()
    }

    private func run(layers range: Range<Int>, on input: Tensor, in space: Workspace, dropout generator: inout SeededGenerator?) throws {
        let batch = input.shape[0]
        try space.streams[range.lowerBound].rows(0..<batch).copy(from: input)
        for index in range {
            let output = try space.streams[index + 1].rows(0..<batch)
            let saved = try (space.saved[index] ?? space.transient).prefix(batch: batch, queries: output.shape[1])
            try layers[index].forward(input: try space.streams[index].rows(0..<batch), output: output,
                                      saved: saved, scratch: try space.scratch.prefix(batch: batch), dropout: &generator)
        }
    }

    /// Backpropagates `outputGradient` (dL/d last layer output, `[B, n, C]` of the last forward) down to the lowest
    /// adapted layer, accumulating every adapter's gradients.
    func backward(outputGradient: Tensor) throws {
        guard let lowest = lowestAdaptedLayer, let space = workspace else { return }
        let batch = space.lastBatch, queries = space.queries
        try require(outputGradient.shape == [batch, queries, shape.width],
                    "encoder backward: gradient \(outputGradient.shape) should be [\(batch), \(queries), \(shape.width)]")
        // Layer gradients flow through `gradient` in place; the last layer's, with fewer tokens, starts in its own buffer.
        let gradient = try space.streamGradient.rows(0..<batch)
        let lastGradient = queries < space.tokens ? try space.lastLayerGradient.rows(0..<batch) : gradient
        try lastGradient.copy(from: outputGradient)
        let gradients = try space.gradients.prefix(batch: batch), scratch = try space.scratch.prefix(batch: batch)
        for index in stride(from: layers.count - 1, through: lowest, by: -1) {
            guard let saved = space.saved[index] else { throw ShapeError("encoder backward: layer \(index) saved no activations") }
            let layerGradient = index == layers.count - 1 ? lastGradient : gradient
            try layers[index].backward(outputGradient: layerGradient, inputGradient: gradient, input: try space.streams[index].rows(0..<batch),
                                       saved: saved.prefix(batch: batch, queries: layerGradient.shape[1]), scratch: scratch,
                                       gradients: gradients, needsInputGradient: index > lowest)
        }
    }

    /// Every adapter of the stack, by layer index and target.
    var adapters: [(layer: Int, target: LoRATarget, adapter: LoRAAdapter)] {
        layers.enumerated().flatMap { index, layer in
            LoRATarget.allCases.compactMap { target in layer.adapters[target].map { (index, target, $0) } }
        }
    }

    /// Drops the buffers (e.g. after adapters were placed, so saved-activation slots are rebuilt).
    func releaseWorkspace() { workspace = nil }

    private func workspace(batch: Int, tokens: Int) throws -> Workspace {
        let outputAdapted = layers.map { $0.adapters[.output] != nil }
        if let space = workspace, space.tokens == tokens, space.capacity >= batch, space.savedFrom == lowestAdaptedLayer,
           space.outputAdapted == outputAdapted {
            return space
        }
        let space = Workspace(shape: shape, layerCount: layers.count, capacity: batch, tokens: tokens,
                              queries: min(outputTokens ?? tokens, tokens), savedFrom: lowestAdaptedLayer, outputAdapted: outputAdapted)
        workspace = space
        return space
    }

    private final class Workspace {
        /// `queries`: tokens per item the last layer computes past its key/value projections (≤ tokens).
        let capacity: Int, tokens: Int, queries: Int, savedFrom: Int?, outputAdapted: [Bool]
        /// streams[i] = input of layer i; streams[L] = output of the stack, `[capacity, queries, C]`.
        let streams: [Tensor]
        let saved: [LayerActivations?]
        /// Activations of frozen layers, overwritten layer after layer (none when every layer keeps its own).
        lazy var transient = LayerActivations(shape: shape, batch: capacity, tokens: tokens, queries: tokens, keepsAttentionOutput: true)
        private let shape: EncoderShape
        let scratch: LayerScratch
        let gradients: LayerGradients
        let streamGradient: Tensor, lastLayerGradient: Tensor
        var lastBatch = 0

        /// `outputAdapted[i]`: layer i's out_proj has an adapter, which needs the attention output again in backward.
        init(shape: EncoderShape, layerCount: Int, capacity: Int, tokens: Int, queries: Int, savedFrom: Int?, outputAdapted: [Bool]) {
            self.capacity = capacity
            self.tokens = tokens
            self.queries = queries
            self.savedFrom = savedFrom
            self.outputAdapted = outputAdapted
            streams = (0...layerCount).map { Tensor(zeros: [capacity, $0 == layerCount ? queries : tokens, shape.width]) }
            saved = (0..<layerCount).map { index in
                savedFrom.map { index >= $0 } == true
                    ? LayerActivations(shape: shape, batch: capacity, tokens: tokens, queries: index == layerCount - 1 ? queries : tokens,
                                       keepsAttentionOutput: outputAdapted[index])
                    : nil
            }
            self.shape = shape
            scratch = LayerScratch(shape: shape, batch: capacity, tokens: tokens, queries: queries)
            let trains = savedFrom != nil
            gradients = LayerGradients(shape: shape, batch: trains ? capacity : 0, tokens: trains ? tokens : 0, queries: queries)
            streamGradient = Tensor(zeros: [trains ? capacity : 0, tokens, shape.width])
            lastLayerGradient = Tensor(zeros: [trains && queries < tokens ? capacity : 0, queries, shape.width])
        }
    }
}
