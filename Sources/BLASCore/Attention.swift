/// Multi-head scaled-dot-product self-attention on a fused QKV buffer.
///
/// `qkv [B, T, 3C]` holds q in columns 0..<C, k in C..<2C, v in 2C..<3C; head h uses columns h·d..<(h+1)·d of
/// each (d = C / heads). Heads are read in place through GEMM leading dimensions: nothing is transposed or copied.
///   forward:  P = softmax(s · Q Kᵀ [+ causal mask]),  O = P V,      s = d^−½   (saves P)
///   backward: dP = dO Vᵀ,  dV += Pᵀ dO,  dS = P ⊙ (dP − rowsum(P ⊙ dP)),  dQ += s · dS K,  dK += s · dSᵀ Q
///
/// Only the first n ≤ T tokens of each item may ask queries (`output [B, n, C]`, `probabilities [B, H, n, T]`),
/// while all T tokens serve keys and values: a ViT's last layer needs only its class token (n = 1).
///
/// Each (item, head) is a few 50×50×64 products: too small for OpenBLAS to thread, so the heads themselves are
/// spread over `BLASThreads.count` workers of the `WorkerTeam` (each head's arithmetic is the same whichever worker runs it).
public enum Attention {
    public static func forward(output out: Tensor, probabilities probs: Tensor, qkv: Tensor, heads: Int, causal: Bool) throws {
        let (batch, tokens, channels, headSize) = try dimensions(qkv, heads, "attention")
        let queries = try queryCount(out, batch: batch, tokens: tokens, channels: channels, "attention: output")
        try require(probs.shape == [batch, heads, queries, tokens], "attention: probabilities \(probs.shape) should be [\(batch), \(heads), \(queries), \(tokens)]")
        let scale = 1 / Float(headSize).squareRoot()
        let rowStride = 3 * channels
        forEachHead(batch: batch, heads: heads) { b, h, _ in
                let q = qkv.pointer + b * tokens * rowStride + h * headSize
                let k = q + channels, v = q + 2 * channels
                let p = probs.pointer + (b * heads + h) * queries * tokens
                GEMM.multiply(transposeA: false, transposeB: true, m: queries, n: tokens, k: headSize,
                              alpha: scale, a: q, lda: rowStride, b: k, ldb: rowStride, c: p, ldc: tokens)
                for row in 0..<queries {
                    let rowPointer = p + row * tokens
                    Softmax.forwardRow(rowPointer, rowPointer, visible: causal ? row + 1 : tokens, columns: tokens, scale: 1)
                }
                GEMM.multiply(transposeA: false, transposeB: false, m: queries, n: headSize, k: tokens,
                              a: p, lda: tokens, b: v, ldb: rowStride,
                              c: out.pointer + b * queries * channels + h * headSize, ldc: channels)
        }
    }

    /// Accumulates into `qkvGradient` (q rows only for the n query tokens); with `accumulating` false writes it
    /// instead (each of dq, dk, dv gets one product per head), leaving the q rows of non-query tokens as they were.
    /// `scratch` needs at least n·T elements.
    public static func backward(qkvGradient dqkv: Tensor, outputGradient dOut: Tensor, probabilities probs: Tensor,
                                qkv: Tensor, heads: Int, scratch: Tensor, accumulating: Bool = true) throws {
        let (batch, tokens, channels, headSize) = try dimensions(qkv, heads, "attention backward")
        try require(dqkv.shape == qkv.shape, "attention backward: qkv gradient \(dqkv.shape) should be \(qkv.shape)")
        let queries = try queryCount(dOut, batch: batch, tokens: tokens, channels: channels, "attention backward: output gradient")
        try require(probs.shape == [batch, heads, queries, tokens], "attention backward: probabilities \(probs.shape) should be [\(batch), \(heads), \(queries), \(tokens)]")
        try require(scratch.count >= queries * tokens, "attention backward: scratch holds \(scratch.count) floats, needs \(queries * tokens)")
        let scale = 1 / Float(headSize).squareRoot()
        let rowStride = 3 * channels
        let beta: Float = accumulating ? 1 : 0
        // One n×T block of scratch per worker; a smaller scratch means fewer workers.
        let workers = min(scratch.count / (queries * tokens), BLASThreads.count)
        forEachHead(batch: batch, heads: heads, workers: workers) { b, h, worker in
                let dScores = scratch.pointer + worker * queries * tokens
                let offset = b * tokens * rowStride + h * headSize
                let q = qkv.pointer + offset, k = q + channels, v = q + 2 * channels
                let dq = dqkv.pointer + offset, dk = dq + channels, dv = dq + 2 * channels
                let p = probs.pointer + (b * heads + h) * queries * tokens
                let dO = dOut.pointer + b * queries * channels + h * headSize
                // dP = dO Vᵀ
                GEMM.multiply(transposeA: false, transposeB: true, m: queries, n: tokens, k: headSize,
                              a: dO, lda: channels, b: v, ldb: rowStride, c: dScores, ldc: tokens)
                // dV += Pᵀ dO
                GEMM.multiply(transposeA: true, transposeB: false, m: tokens, n: headSize, k: queries,
                              a: p, lda: tokens, b: dO, ldb: channels, beta: beta, c: dv, ldc: rowStride)
                // dS = P ⊙ (dP − rowsum(P ⊙ dP)), in place
                for row in 0..<queries {
                    let r = row * tokens
                    Softmax.backwardRow(dx: dScores + r, dp: dScores + r, p: p + r, columns: tokens, scale: 1, accumulate: false)
                }
                // dQ += s · dS K;  dK += s · dSᵀ Q
                GEMM.multiply(transposeA: false, transposeB: false, m: queries, n: headSize, k: tokens,
                              alpha: scale, a: dScores, lda: tokens, b: k, ldb: rowStride, beta: beta, c: dq, ldc: rowStride)
                GEMM.multiply(transposeA: true, transposeB: false, m: tokens, n: headSize, k: queries,
                              alpha: scale, a: dScores, lda: tokens, b: q, ldb: rowStride, beta: beta, c: dk, ldc: rowStride)
        }
    }

    /// Runs `body(item, head, worker)` for every (item, head), split into contiguous ranges over up to `workers`
    /// threads (default: the BLAS thread budget). Heads write disjoint columns, so they need no coordination.
    private static func forEachHead(batch: Int, heads: Int, workers: Int = BLASThreads.count, _ body: (Int, Int, Int) -> Void) {
        let count = batch * heads, parts = max(1, min(workers, count))
        WorkerTeam.shared.run(parts: parts) { worker in
            for index in (worker * count / parts)..<((worker + 1) * count / parts) { body(index / heads, index % heads, worker) }
        }
    }

    /// n, the query tokens per item, from an output (or its gradient) `[B, n, C]` with n ≤ T.
    private static func queryCount(_ output: Tensor, batch: Int, tokens: Int, channels: Int, _ name: String) throws -> Int {
        try require(output.shape.count == 3 && output.shape[0] == batch && output.shape[2] == channels && output.shape[1] <= tokens,
                    "\(name) \(output.shape) should be [\(batch), n ≤ \(tokens), \(channels)]")
        return output.shape[1]
    }

    private static func dimensions(_ qkv: Tensor, _ heads: Int, _ name: String) throws -> (Int, Int, Int, Int) {
        try require(qkv.shape.count == 3 && qkv.shape[2] % 3 == 0, "\(name): qkv must be [B, T, 3C], got \(qkv.shape)")
        let channels = qkv.shape[2] / 3
        try require(heads > 0 && channels % heads == 0, "\(name): \(channels) channels do not split into \(heads) heads")
        return (qkv.shape[0], qkv.shape[1], channels, channels / heads)
    }
}
