extension CLIPConfiguration {
    /// Every tensor of transformers' `CLIPModel` state dict for this configuration, with its shape, in the order
    /// vision tower, text tower, projections, logit scale. Linear weights are [out, in]; the patch embedding is a
    /// bias-free convolution [hidden, channels, patch, patch]; `logit_scale` is a scalar (shape []).
    public var parameterShapes: [(name: String, shape: [Int])] {
        let v = vision, t = text
        var shapes: [(name: String, shape: [Int])] = [
            ("vision_model.embeddings.class_embedding", [v.hiddenSize]),
            ("vision_model.embeddings.patch_embedding.weight", [v.hiddenSize, v.channelCount, v.patchSize, v.patchSize]),
            ("vision_model.embeddings.position_embedding.weight", [v.tokenCount, v.hiddenSize]),
            ("vision_model.pre_layrnorm.weight", [v.hiddenSize]),  // sic: transformers' spelling
            ("vision_model.pre_layrnorm.bias", [v.hiddenSize]),
        ]
        shapes += Self.encoderLayerShapes(prefix: "vision_model.encoder.layers", count: v.layerCount,
                                          hidden: v.hiddenSize, intermediate: v.intermediateSize)
        shapes += [
            ("vision_model.post_layernorm.weight", [v.hiddenSize]),
            ("vision_model.post_layernorm.bias", [v.hiddenSize]),
            ("text_model.embeddings.token_embedding.weight", [t.vocabularySize, t.hiddenSize]),
            ("text_model.embeddings.position_embedding.weight", [t.maxPositions, t.hiddenSize]),
        ]
        shapes += Self.encoderLayerShapes(prefix: "text_model.encoder.layers", count: t.layerCount,
                                          hidden: t.hiddenSize, intermediate: t.intermediateSize)
        shapes += [
            ("text_model.final_layer_norm.weight", [t.hiddenSize]),
            ("text_model.final_layer_norm.bias", [t.hiddenSize]),
            ("visual_projection.weight", [projectionDimension, v.hiddenSize]),
            ("text_projection.weight", [projectionDimension, t.hiddenSize]),
            ("logit_scale", []),
        ]
        return shapes
    }

    /// Parameter counts of the parts of the model: the two towers (embeddings, encoder layers, final layer norms),
    /// the two projections, and the logit scale.
    public var parameterCounts: (vision: Int, text: Int, projections: Int, logitScale: Int) {
        var counts = (vision: 0, text: 0, projections: 0, logitScale: 0)
        for (name, shape) in parameterShapes {
            let count = shape.reduce(1, *)
            if name.hasPrefix("vision_model.") { counts.vision += count }
            else if name.hasPrefix("text_model.") { counts.text += count }
            else if name.hasSuffix("_projection.weight") { counts.projections += count }
            else { counts.logitScale += count }
        }
        return counts
    }

    /// Buffers that some checkpoints store but that are not parameters (old exports kept `position_ids`).
    public static let ignoredBuffers: Set<String> = [
        "text_model.embeddings.position_ids", "vision_model.embeddings.position_ids",
    ]

    private static func encoderLayerShapes(prefix: String, count: Int, hidden: Int, intermediate: Int) -> [(name: String, shape: [Int])] {
        (0..<count).flatMap { layer -> [(name: String, shape: [Int])] in
            let p = "\(prefix).\(layer)."
            return [
                (p + "layer_norm1.weight", [hidden]), (p + "layer_norm1.bias", [hidden]),
                (p + "self_attn.q_proj.weight", [hidden, hidden]), (p + "self_attn.q_proj.bias", [hidden]),
                (p + "self_attn.k_proj.weight", [hidden, hidden]), (p + "self_attn.k_proj.bias", [hidden]),
                (p + "self_attn.v_proj.weight", [hidden, hidden]), (p + "self_attn.v_proj.bias", [hidden]),
                (p + "self_attn.out_proj.weight", [hidden, hidden]), (p + "self_attn.out_proj.bias", [hidden]),
                (p + "layer_norm2.weight", [hidden]), (p + "layer_norm2.bias", [hidden]),
                (p + "mlp.fc1.weight", [intermediate, hidden]), (p + "mlp.fc1.bias", [intermediate]),
                (p + "mlp.fc2.weight", [hidden, intermediate]), (p + "mlp.fc2.bias", [hidden]),
            ]
        }
    }
}
