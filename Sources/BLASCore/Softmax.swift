/// Softmax over the last dimension, optionally causal (row `i` of each square `[T, T]` block sees columns ≤ i;
/// masked entries get probability exactly 0, as an additive −∞ mask gives).
///   forward:  p = exp(x − max) / Σ exp(x − max)
///   backward: dx += p · (dp − Σ p·dp)
public enum Softmax {
    public static func forward(output p: Tensor, input x: Tensor, causal: Bool = false) throws {
        try requireSameShape(p, x, "softmax")
        let columns = x.lastDimension
        if causal { try require(x.shape.count >= 2 && x.shape[x.shape.count - 2] == columns, "softmax: causal mask needs square [.., T, T] blocks, got \(x.shape)") }
        for row in 0..<x.rowCount {
            let visible = causal ? row % columns + 1 : columns
            forwardRow(x.pointer + row * columns, p.pointer + row * columns, visible: visible, columns: columns, scale: 1)
        }
    }

    public static func backward(inputGradient dx: Tensor, outputGradient dp: Tensor, output p: Tensor) throws {
        try requireSameShape(dx, p, "softmax backward")
        try requireSameShape(dp, p, "softmax backward")
        let columns = p.lastDimension
        for row in 0..<p.rowCount {
            let offset = row * columns
            backwardRow(dx: dx.pointer + offset, dp: dp.pointer + offset, p: p.pointer + offset, columns: columns, scale: 1, accumulate: true)
        }
    }

    /// Softmax of `scale · x[0..<visible]` into `p`, zeros in `p[visible..<columns]`.
    @inline(__always)
    static func forwardRow(_ x: UnsafePointer<Float>, _ p: UnsafeMutablePointer<Float>, visible: Int, columns: Int, scale: Float) {
        var maximum = -Float.infinity
        for j in 0..<visible { maximum = Swift.max(maximum, x[j]) }
        let maxV = FloatVector(repeating: maximum), scaleV = FloatVector(repeating: scale)
        var sumV = FloatVector(), j = 0
        while j + lanes <= visible {
            let e = vectorExp((load(x + j) - maxV) * scaleV)
            store(e, p + j); sumV += e
            j += lanes
        }
        var total = sumV.sum()
        while j < visible { let e = scalarExp((x[j] - maximum) * scale); p[j] = e; total += e; j += 1 }
        let inverse = 1 / total, inverseV = FloatVector(repeating: inverse)
        j = 0
        while j + lanes <= visible { store(load(p + j) * inverseV, p + j); j += lanes }
        while j < visible { p[j] *= inverse; j += 1 }
        if visible < columns { (p + visible).update(repeating: 0, count: columns - visible) }
    }

    /// `dx (+)= scale · p · (dp − Σ p·dp)` for one row; with `accumulate` false, `dx` may alias `dp`.
    @inline(__always)
    static func backwardRow(dx: UnsafeMutablePointer<Float>, dp: UnsafePointer<Float>, p: UnsafePointer<Float>,
                            columns: Int, scale: Float, accumulate: Bool) {
        let weighted = vectorDot(p, dp, columns)
        let weightedV = FloatVector(repeating: weighted), scaleV = FloatVector(repeating: scale)
        var j = 0
        if accumulate {
            while j + lanes <= columns {
                store(load(dx + j) + scaleV * load(p + j) * (load(dp + j) - weightedV), dx + j); j += lanes
            }
            while j < columns { dx[j] += scale * p[j] * (dp[j] - weighted); j += 1 }
        } else {
            while j + lanes <= columns {
                store(scaleV * load(p + j) * (load(dp + j) - weightedV), dx + j); j += lanes
            }
            while j < columns { dx[j] = scale * p[j] * (dp[j] - weighted); j += 1 }
        }
    }
}
