import Foundation

/// Mean cross-entropy of logits `[N, K]` against integer targets, optionally class-weighted as PyTorch's
/// `F.cross_entropy(weight:)`: L = Σᵢ w[yᵢ]·(−log pᵢ[yᵢ]) / Σᵢ w[yᵢ].
///   forward:  p = softmax(logits) (saved), returns L
///   backward: dlogitsᵢ += dL · w[yᵢ] / Σ w[y] · (pᵢ − onehot(yᵢ))
public enum CrossEntropy {
    public static func forward(probabilities p: Tensor, logits: Tensor, targets: [Int], classWeights: [Float]? = nil) throws -> Float {
        let (rows, classes) = try check(p, logits, targets, classWeights, "cross-entropy")
        var weightedLoss = 0.0, totalWeight = 0.0
        for i in 0..<rows {
            let row = i * classes
            Softmax.forwardRow(logits.pointer + row, p.pointer + row, visible: classes, columns: classes, scale: 1)
            // −log p computed as logsumexp − logit, in Double, so tiny probabilities keep full precision.
            let x = UnsafeBufferPointer(start: logits.pointer + row, count: classes)
            let maximum = Double(x.max()!)
            let logSumExp = maximum + log(x.reduce(0.0) { $0 + exp(Double($1) - maximum) })
            let weight = Double(classWeights?[targets[i]] ?? 1)
            weightedLoss += weight * (logSumExp - Double(x[targets[i]]))
            totalWeight += weight
        }
        return Float(weightedLoss / totalWeight)
    }

    public static func backward(logitsGradient dLogits: Tensor, probabilities p: Tensor, targets: [Int],
                                classWeights: [Float]? = nil, lossGradient: Float = 1) throws {
        let (rows, classes) = try check(p, dLogits, targets, classWeights, "cross-entropy backward")
        let totalWeight = targets.reduce(Float(0)) { $0 + (classWeights?[$1] ?? 1) }
        for i in 0..<rows {
            let factor = lossGradient * (classWeights?[targets[i]] ?? 1) / totalWeight
            for c in 0..<classes {
                let indicator: Float = c == targets[i] ? 1 : 0
                dLogits.pointer[i * classes + c] += factor * (p.pointer[i * classes + c] - indicator)
            }
        }
    }

    private static func check(_ p: Tensor, _ logits: Tensor, _ targets: [Int], _ classWeights: [Float]?, _ name: String) throws -> (Int, Int) {
        try requireSameShape(p, logits, name)
        let classes = logits.lastDimension, rows = logits.rowCount
        try require(targets.count == rows, "\(name): \(targets.count) targets for \(rows) rows of logits \(logits.shape)")
        try require(rows > 0, "\(name): no rows")
        if let bad = targets.first(where: { $0 < 0 || $0 >= classes }) {
            throw ShapeError("\(name): target \(bad) outside 0..<\(classes)")
        }
        if let classWeights { try require(classWeights.count == classes, "\(name): \(classWeights.count) class weights for \(classes) classes") }
        return (rows, classes)
    }
}

/// Row-wise L2 normalization `y = x / ‖x‖` (as CLIP's `embeds / embeds.norm(dim=-1)`).
///   forward:  y = x / n, n = ‖x‖ (saved per row)
///   backward: dx += (dy − y·(y·dy)) / n
public enum L2Normalize {
    public static func forward(output y: Tensor, norms: Tensor, input x: Tensor) throws {
        try requireSameShape(y, x, "l2Normalize")
        try require(norms.count == x.rowCount, "l2Normalize: norms \(norms.shape) should hold \(x.rowCount) rows")
        let columns = x.lastDimension
        for row in 0..<x.rowCount {
            let xr = x.pointer + row * columns, yr = y.pointer + row * columns
            let norm = vectorDot(xr, xr, columns).squareRoot()
            norms.pointer[row] = norm
            for j in 0..<columns { yr[j] = xr[j] / norm }
        }
    }

    public static func backward(inputGradient dx: Tensor, outputGradient dy: Tensor, output y: Tensor, norms: Tensor) throws {
        try requireSameShape(dx, y, "l2Normalize backward")
        try requireSameShape(dy, y, "l2Normalize backward")
        let columns = y.lastDimension
        for row in 0..<y.rowCount {
            let yr = y.pointer + row * columns, dyr = dy.pointer + row * columns, dxr = dx.pointer + row * columns
            let projection = vectorDot(yr, dyr, columns), norm = norms.pointer[row]
            for j in 0..<columns { dxr[j] += (dyr[j] - yr[j] * projection) / norm }
        }
    }
}
