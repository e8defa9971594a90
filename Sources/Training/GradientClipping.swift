import BLASCore

/// `torch.nn.utils.clip_grad_norm_`: scales all gradients by min(1, maxNorm / (‖g‖₂ + 1e-6)), ‖g‖ over all tensors.
/// Returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ gradients: [Tensor], maxNorm: Double) -> Double {
    var sumOfSquares = 0.0
    for gradient in gradients {
        for i in 0..<gradient.count { sumOfSquares += Double(gradient[i]) * Double(gradient[i]) }
    }
    let norm = sumOfSquares.squareRoot()
    let coefficient = Float(min(1, maxNorm / (norm + 1e-6)))
    if coefficient < 1 {
        for gradient in gradients { for i in 0..<gradient.count { gradient[i] *= coefficient } }
    }
    return norm
}
