/// Fully connected layer `y = x · Wᵀ + b`, with `x [N, in]`, `W [out, in]` (PyTorch's layout), `b [out]`.
public enum Linear {
    /// `y[N, out] = x[N, in] · Wᵀ + b`. `outputStride` lets `y` be a column block of a wider buffer
    /// (e.g. the q, k or v third of a fused `[N, 3C]` QKV buffer): row `i` starts at `y + i · outputStride`.
    public static func forward(output y: UnsafeMutablePointer<Float>, outputStride: Int,
                               input x: Tensor, weight: Tensor, bias: Tensor?) throws {
        let (rows, inFeatures, outFeatures) = try dimensions(x, weight, bias)
        try require(outputStride >= outFeatures, "linear: output stride \(outputStride) < out features \(outFeatures)")
        if let bias {
            WorkerTeam.shared.splitRows(rows, width: outFeatures) { range in
                for row in range { (y + row * outputStride).update(from: bias.pointer, count: outFeatures) }
            }
        }
        GEMM.multiply(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                      a: x.pointer, lda: inFeatures, b: weight.pointer, ldb: inFeatures,
                      beta: bias == nil ? 0 : 1, c: y, ldc: outputStride, constantB: weight)
    }

    public static func forward(output y: Tensor, input x: Tensor, weight: Tensor, bias: Tensor?) throws {
        try requireWritable(y, "linear")
        try require(y.rowCount == x.rowCount && y.lastDimension == weight.shape.first,
                    "linear: output \(y.shape) should be [\(x.rowCount), \(weight.shape.first ?? 0)]")
        try forward(output: y.pointer, outputStride: y.lastDimension, input: x, weight: weight, bias: bias)
    }

    /// Accumulates `dx += dy · W`, `dW += dyᵀ · x`, `db += Σ_rows dy`. Pass nil for any gradient that is not
    /// wanted: frozen weights get no dW/db and cost no FLOPs. `dy` may be a column block of a wider buffer
    /// (`gradientStride`), mirroring `forward(output:outputStride:…)`. With `accumulatingInput` false, dx is
    /// written (`dx = dy · W`) instead: the first contribution to a gradient buffer needs no zeroing first.
    public static func backward(inputGradient dx: Tensor?, weightGradient dW: Tensor?, biasGradient db: Tensor?,
                                outputGradient dy: UnsafePointer<Float>, gradientStride: Int,
                                input x: Tensor, weight: Tensor, accumulatingInput: Bool = true) throws {
        let (rows, inFeatures, outFeatures) = try dimensions(x, weight, nil)
        if let dx {
            try requireWritable(dx, "linear backward")
            try require(dx.shape == x.shape, "linear backward: input gradient \(dx.shape) should match input \(x.shape)")
            GEMM.multiply(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                          a: dy, lda: gradientStride, b: weight.pointer, ldb: inFeatures,
                          beta: accumulatingInput ? 1 : 0, c: dx.pointer, ldc: inFeatures, constantB: weight)
        }
        if let dW {
            try require(dW.shape == weight.shape, "linear backward: weight gradient \(dW.shape) should match weight \(weight.shape)")
            GEMM.multiply(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
                          a: dy, lda: gradientStride, b: x.pointer, ldb: inFeatures,
                          beta: 1, c: dW.pointer, ldc: inFeatures)
        }
        if let db {
            try require(db.count == outFeatures, "linear backward: bias gradient \(db.shape) should be [\(outFeatures)]")
            for row in 0..<rows {
                let dyRow = dy + row * gradientStride
                for j in 0..<outFeatures { db.pointer[j] += dyRow[j] }
            }
        }
    }

    public static func backward(inputGradient dx: Tensor?, weightGradient dW: Tensor?, biasGradient db: Tensor?,
                                outputGradient dy: Tensor, input x: Tensor, weight: Tensor) throws {
        try require(dy.rowCount == x.rowCount && dy.lastDimension == weight.shape.first,
                    "linear backward: output gradient \(dy.shape) should be [\(x.rowCount), \(weight.shape.first ?? 0)]")
        try backward(inputGradient: dx, weightGradient: dW, biasGradient: db, outputGradient: dy.pointer,
                     gradientStride: dy.lastDimension, input: x, weight: weight)
    }

    private static func dimensions(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?) throws -> (Int, Int, Int) {
        try require(weight.shape.count == 2, "linear: weight must be [out, in], got \(weight.shape)")
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        try require(x.lastDimension == inFeatures, "linear: input \(x.shape) has \(x.lastDimension) features, weight \(weight.shape) expects \(inFeatures)")
        if let bias { try require(bias.count == outFeatures, "linear: bias \(bias.shape) should be [\(outFeatures)]") }
        return (x.rowCount, inFeatures, outFeatures)
    }
}
