/// Layer normalization over the last dimension `C` of `x [N, C]`:
///   forward:  μ = mean(x), r = 1/√(var(x) + ε), n = (x − μ)·r, y = n·w + b     (saves μ, r per row)
///   backward: g = dy·w;  dx += r · (g − mean(g) − n · mean(g·n));  dw += Σ dy·n;  db += Σ dy
public enum LayerNorm {
    public static func forward(output y: Tensor, mean: Tensor, reciprocalStd rstd: Tensor,
                               input x: Tensor, weight: Tensor, bias: Tensor, epsilon: Float) throws {
        let (rows, channels) = try check(y, mean, rstd, x, weight, bias, "layerNorm")
        let w = weight.pointer, b = bias.pointer
        WorkerTeam.shared.splitRows(rows, width: channels) { rowRange in for row in rowRange {
            let xr = x.pointer + row * channels, yr = y.pointer + row * channels
            let mu = vectorSum(xr, channels) / Float(channels)
            var sq = FloatVector(), i = 0
            let muV = FloatVector(repeating: mu)
            while i + lanes <= channels { let d = load(xr + i) - muV; sq += d * d; i += lanes }
            var variance = sq.sum()
            while i < channels { let d = xr[i] - mu; variance += d * d; i += 1 }
            variance /= Float(channels)
            let r = 1 / (variance + epsilon).squareRoot()
            let rV = FloatVector(repeating: r)
            i = 0
            while i + lanes <= channels {
                store((load(xr + i) - muV) * rV * load(w + i) + load(b + i), yr + i)
                i += lanes
            }
            while i < channels { yr[i] = (xr[i] - mu) * r * w[i] + b[i]; i += 1 }
            mean.pointer[row] = mu
            rstd.pointer[row] = r
        } }
    }

    /// Accumulates into `dx` and, when given, `dWeight`/`dBias` (nil for frozen norms).
    public static func backward(inputGradient dx: Tensor, weightGradient dWeight: Tensor?, biasGradient dBias: Tensor?,
                                outputGradient dy: Tensor, input x: Tensor, weight: Tensor,
                                mean: Tensor, reciprocalStd rstd: Tensor) throws {
        let (rows, channels) = try check(dy, mean, rstd, x, weight, weight, "layerNorm backward")
        try requireSameShape(dx, x, "layerNorm backward")
        if let dWeight { try require(dWeight.count == channels, "layerNorm backward: weight gradient \(dWeight.shape) should be [\(channels)]") }
        if let dBias { try require(dBias.count == channels, "layerNorm backward: bias gradient \(dBias.shape) should be [\(channels)]") }
        let w = weight.pointer
        if dWeight == nil && dBias == nil {
            WorkerTeam.shared.splitRows(rows, width: channels) { for row in $0 { rowBackward(row) } }
        } else {
            for row in 0..<rows { rowBackward(row) }  // the parameter gradients sum over rows: one thread keeps the order
        }

        func rowBackward(_ row: Int) {
            let xr = x.pointer + row * channels, dyr = dy.pointer + row * channels, dxr = dx.pointer + row * channels
            let mu = mean.pointer[row], r = rstd.pointer[row]
            let muV = FloatVector(repeating: mu), rV = FloatVector(repeating: r)
            // mean(g) and mean(g·n)
            var gSum = FloatVector(), gnSum = FloatVector(), i = 0
            while i + lanes <= channels {
                let n = (load(xr + i) - muV) * rV, g = load(dyr + i) * load(w + i)
                gSum += g; gnSum += g * n
                i += lanes
            }
            var gMean = gSum.sum(), gnMean = gnSum.sum()
            while i < channels {
                let n = (xr[i] - mu) * r, g = dyr[i] * w[i]
                gMean += g; gnMean += g * n
                i += 1
            }
            gMean /= Float(channels); gnMean /= Float(channels)
            let gMeanV = FloatVector(repeating: gMean), gnMeanV = FloatVector(repeating: gnMean)
            i = 0
            while i + lanes <= channels {
                let n = (load(xr + i) - muV) * rV, g = load(dyr + i) * load(w + i)
                store(load(dxr + i) + rV * (g - gMeanV - n * gnMeanV), dxr + i)
                i += lanes
            }
            while i < channels {
                let n = (xr[i] - mu) * r, g = dyr[i] * w[i]
                dxr[i] += r * (g - gMean - n * gnMean)
                i += 1
            }
            if dWeight != nil || dBias != nil {
                for c in 0..<channels {
                    dWeight?.pointer[c] += dyr[c] * (xr[c] - mu) * r
                    dBias?.pointer[c] += dyr[c]
                }
            }
        }
    }

    private static func check(_ y: Tensor, _ mean: Tensor, _ rstd: Tensor, _ x: Tensor, _ weight: Tensor, _ bias: Tensor,
                              _ name: String) throws -> (Int, Int) {
        let channels = x.lastDimension, rows = x.rowCount
        try requireSameShape(y, x, name)
        try require(weight.count == channels && bias.count == channels,
                    "\(name): weight \(weight.shape) and bias \(bias.shape) should be [\(channels)] for input \(x.shape)")
        try require(mean.count == rows && rstd.count == rows,
                    "\(name): mean \(mean.shape) and rstd \(rstd.shape) should hold \(rows) rows")
        return (rows, channels)
    }
}
