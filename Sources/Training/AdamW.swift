import BLASCore
import Foundation

/// AdamW exactly as `torch.optim.AdamW` (decoupled weight decay, bias-corrected moments, amsgrad off):
///   p ← p·(1 − lr·wd);  m ← m + (1 − β₁)(g − m);  v ← β₂v + (1 − β₂)g²
///   p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
public struct AdamWSettings: Codable, Equatable, Sendable {
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var epsilon: Double = 1e-8
    public var weightDecay: Double = 0.01
    public init(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }
}

/// Optimizer state for a fixed list of trainable tensors: first and second moments, and the step count.
public final class AdamW {
    public let settings: AdamWSettings
    public let parameters: [Tensor]
    private let firstMoments: [Tensor]
    private let secondMoments: [Tensor]
    public private(set) var stepCount = 0

    public init(parameters: [Tensor], settings: AdamWSettings) {
        self.parameters = parameters
        self.settings = settings
        firstMoments = parameters.map { Tensor(zeros: $0.shape) }
        secondMoments = parameters.map { Tensor(zeros: $0.shape) }
    }

    /// One update of every parameter from its gradient (same order as `parameters`).
    public func step(gradients: [Tensor], learningRate: Double) throws {
        try require(gradients.count == parameters.count, "AdamW: \(gradients.count) gradients for \(parameters.count) parameters")
        stepCount += 1
        let t = Double(stepCount)
        // Scalars as torch forms them: Python doubles, applied in float32.
        let decay = Float(1 - learningRate * settings.weightDecay)
        let beta1 = Float(settings.beta1), beta2 = Float(settings.beta2)
        let stepSize = Float(learningRate / (1 - pow(settings.beta1, t)))
        let secondCorrectionRoot = Float((1 - pow(settings.beta2, t)).squareRoot())
        let epsilon = Float(settings.epsilon)
        for (index, parameter) in parameters.enumerated() {
            let gradient = gradients[index]
            try require(gradient.count == parameter.count, "AdamW: gradient \(gradient.shape) for parameter \(parameter.shape)")
            let p = parameter.pointer, g = gradient.pointer
            let m = firstMoments[index].pointer, v = secondMoments[index].pointer
            for i in 0..<parameter.count {
                p[i] *= decay
                m[i] += (g[i] - m[i]) * (1 - beta1)
                v[i] = v[i] * beta2 + (1 - beta2) * g[i] * g[i]
                p[i] -= stepSize * m[i] / (v[i].squareRoot() / secondCorrectionRoot + epsilon)
            }
        }
    }
}
