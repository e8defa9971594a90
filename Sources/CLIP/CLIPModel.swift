import BLASCore
import Foundation

/// transformers' `CLIPModel` with frozen weights and LoRA adapters at a chosen placement.
public final class CLIPModel: @unchecked Sendable {
    public let configuration: CLIPConfiguration
    public let vision: VisionTower
    public let text: TextTower
    /// The stored (log) logit scale; logits use exp of it.
    public let logitScale: Float
    public private(set) var placement = Placement(vision: .none, text: .none, description: "none")
    public private(set) var loraSettings: LoRASettings?

    /// Builds the model from a weight lookup `(name, expected shape) → tensor` (a checkpoint, or weights made in memory).
    public init(configuration: CLIPConfiguration, weights lookup: (String, [Int]) throws -> Tensor) throws {
        self.configuration = configuration
        // Every base weight stays frozen: products may keep derived copies (bf16 roundings) of them.
        func weights(_ name: String, _ shape: [Int]) throws -> Tensor {
            let tensor = try lookup(name, shape)
            tensor.markConstant()
            return tensor
        }
        vision = try VisionTower(configuration: configuration.vision, projectionDimension: configuration.projectionDimension, weights: weights)
        text = try TextTower(configuration: configuration.text, projectionDimension: configuration.projectionDimension, weights: weights)
        logitScale = try weights("logit_scale", [])[0]
    }

    public convenience init(checkpoint: Checkpoint) throws {
        try self.init(configuration: checkpoint.configuration, weights: checkpoint.tensor)
    }

    public func stack(_ tower: Tower) -> TransformerStack { tower == .vision ? vision.encoder : text.encoder }

    /// Puts freshly initialized adapters (PEFT's init: A Kaiming-uniform, B zero) on the placement's layers,
    /// replacing any adapters already there. Initialization order is fixed (vision then text, layers ascending,
    /// targets q, k, v, o, fc1, fc2), so the same generator gives the same adapters.
    public func placeAdapters(_ placement: Placement, settings: LoRASettings, generator: inout SeededGenerator) throws {
        try placeAdapters(placement, settings: settings) { tower, layer, target, frozen in
            try LoRAAdapter(inFeatures: frozen.inFeatures, outFeatures: frozen.outFeatures, settings: settings, generator: &generator)
        }
    }

    /// Puts adapters made by `make(tower, layer, target, frozen linear)` on the placement's layers (nil: that
    /// module stays frozen, as in a PEFT file whose layers carry different targets).
    public func placeAdapters(_ placement: Placement, settings: LoRASettings,
                              make: (Tower, Int, LoRATarget, FrozenLinear) throws -> LoRAAdapter?) throws {
        try require(settings.rank >= 1, "LoRA rank must be at least 1, got \(settings.rank)")
        try require(!settings.targets.isEmpty, "LoRA needs at least one target module")
        var chosen: [Tower: [Int]] = [:]
        for tower in Tower.allCases { chosen[tower] = try placement.layers(of: tower, layerCount: stack(tower).layers.count) }
        for tower in Tower.allCases {
            let stack = stack(tower)
            for (index, layer) in stack.layers.enumerated() {
                layer.adapters = [:]
                guard chosen[tower]!.contains(index) else { continue }
                for target in LoRATarget.allCases where settings.targets.contains(target) {
                    layer.adapters[target] = try make(tower, index, target, layer.projection(target))
                }
            }
            stack.releaseWorkspace()
        }
        self.placement = placement
        self.loraSettings = settings
    }

    /// The frozen base model: no adapter anywhere.
    public func removeAdapters() throws {
        try placeAdapters(Placement(vision: .none, text: .none, description: "none"), settings: loraSettings ?? LoRASettings()) { _, _, _, _ in nil }
    }

    /// Every adapter with its PEFT module name, e.g. `base_model.model.vision_model.encoder.layers.0.self_attn.q_proj`.
    public var adapters: [(name: String, adapter: LoRAAdapter)] {
        Tower.allCases.flatMap { tower in
            stack(tower).adapters.map { ("base_model.model.\(tower.modulePrefix).encoder.layers.\($0.layer).\($0.target.modulePath)", $0.adapter) }
        }
    }

    /// The trainable tensors (A then B of each adapter, in `adapters` order) and their gradient buffers.
    public var trainableParameters: [Tensor] { adapters.flatMap { [$0.adapter.a, $0.adapter.b] } }
    public var parameterGradients: [Tensor] { adapters.flatMap { [$0.adapter.aGradient, $0.adapter.bGradient] } }

    public func zeroGradients() { adapters.forEach { $0.adapter.zeroGradients() } }
}

/// CLIP's outputs for images and prompts: L2-normalized embeddings and `logits_per_image = exp(logit_scale) · cos`.
public struct EmbeddingOutputs {
    public let imageEmbedsNormalized: Tensor
    public let textEmbedsNormalized: Tensor
    /// `[images, prompts]`.
    public let logitsPerImage: Tensor

    public init(imageEmbeds: Tensor, textEmbeds: Tensor, logitScale: Float) throws {
        imageEmbedsNormalized = Tensor(zeros: imageEmbeds.shape)
        textEmbedsNormalized = Tensor(zeros: textEmbeds.shape)
        try L2Normalize.forward(output: imageEmbedsNormalized, norms: Tensor(zeros: [imageEmbeds.shape[0]]), input: imageEmbeds)
        try L2Normalize.forward(output: textEmbedsNormalized, norms: Tensor(zeros: [textEmbeds.shape[0]]), input: textEmbeds)
        logitsPerImage = Tensor(zeros: [imageEmbeds.shape[0], textEmbeds.shape[0]])
        try GEMM.multiply(imageEmbedsNormalized, textEmbedsNormalized, into: logitsPerImage, transposeB: true,
                          alpha: Float(Foundation.exp(Double(logitScale))))
    }
}

extension CLIPModel {
    /// Embeddings and logits of images `[N, 3, S, S]` against tokenized prompts, without dropout.
    public func embed(pixels: Tensor, tokenIDs: [[Int]]) throws -> EmbeddingOutputs {
        var none: SeededGenerator? = nil
        let imageEmbeds = try vision.forward(pixels: pixels, dropout: &none).clone()
        let textEmbeds = try text.forward(tokenIDs: tokenIDs, dropout: &none)
        return try EmbeddingOutputs(imageEmbeds: imageEmbeds, textEmbeds: textEmbeds, logitScale: logitScale)
    }
}
