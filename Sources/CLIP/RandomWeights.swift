import BLASCore

/// Weights for a CLIP built in memory (benchmarks, the demo, gradient checks), following transformers'
/// `_init_weights` in spirit: linear and embedding weights ~ N(0, 0.02²) scaled like CLIP's init, biases and
/// LayerNorm shifts 0, LayerNorm gains 1, `logit_scale` = log(1/0.07). Each tensor is seeded by its name, so the
/// same name always gets the same values.
public struct RandomWeights: Sendable {
    public let seed: UInt64
    /// Perturb LayerNorm gains/shifts and biases away from 1/0 so that gradient checks exercise every term.
    public let perturbNorms: Bool

    public init(seed: UInt64, perturbNorms: Bool = false) {
        self.seed = seed
        self.perturbNorms = perturbNorms
    }

    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        var generator = SeededGenerator(seed: seed, stream: name)
        let tensor = Tensor(zeros: shape)
        if name == "logit_scale" {
            tensor[0] = 2.6592
        } else if name.contains("layer_norm") || name.contains("layrnorm") || name.contains("final_layer_norm") {
            let isGain = name.hasSuffix(".weight")
            for i in 0..<tensor.count {
                let jitter = perturbNorms ? (generator.nextUniform() - 0.5) * 0.4 : 0
                tensor[i] = (isGain ? 1 : 0) + jitter
            }
        } else if name.hasSuffix(".bias") {
            for i in 0..<tensor.count { tensor[i] = perturbNorms ? generator.nextNormal() * 0.02 : 0 }
        } else {
            // fan-in-scaled normal keeps activations O(1) through deep stacks
            let fanIn = shape.count >= 2 ? shape.dropFirst().reduce(1, *) : shape.last ?? 1
            let std: Float = name.contains("embedding") ? 0.02 : 1 / Float(fanIn).squareRoot()
            for i in 0..<tensor.count { tensor[i] = generator.nextNormal() * std }
        }
        return tensor
    }
}
