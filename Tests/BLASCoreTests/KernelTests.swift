import XCTest
import Foundation
@testable import BLASCore
import TestSupport

/// Each kernel: forward against a plain scalar (Double) reference, backward against finite differences.
final class KernelTests: XCTestCase {
    // MARK: GEMM

    func testGEMMAllTransposesAgainstScalarReference() throws {
        for (transposeA, transposeB) in [(false, false), (true, false), (false, true), (true, true)] {
            let m = 5, n = 4, k = 3
            let a = randomTensor(transposeA ? [k, m] : [m, k], seed: 1), b = randomTensor(transposeB ? [n, k] : [k, n], seed: 2)
            let c = randomTensor([m, n], seed: 3), c0 = c.values
            try GEMM.multiply(a, b, into: c, transposeA: transposeA, transposeB: transposeB, alpha: 0.5, beta: 2)
            var expected: [Double] = []
            for i in 0..<m { for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * m + i] : a[i * k + p], bv = transposeB ? b[j * k + p] : b[p * n + j]
                    sum += Double(av) * Double(bv)
                }
                expected.append(0.5 * sum + 2 * Double(c0[i * n + j]))
            } }
            assertClose(c, expected, "transposeA \(transposeA) transposeB \(transposeB)")
        }
    }

    func testBatchedGEMMIsIndependentProducts() throws {
        let a = randomTensor([3, 2, 4], seed: 4), b = randomTensor([3, 4, 5], seed: 5), c = Tensor(zeros: [3, 2, 5])
        GEMM.multiplyBatched(count: 3, transposeA: false, transposeB: false, m: 2, n: 5, k: 4,
                             a: a.pointer, lda: 4, strideA: 8, b: b.pointer, ldb: 5, strideB: 20, c: c.pointer, ldc: 5, strideC: 10)
        for index in 0..<3 {
            let single = Tensor(zeros: [2, 5])
            try GEMM.multiply(try a.rows(index..<index + 1).reshaped([2, 4]), try b.rows(index..<index + 1).reshaped([4, 5]), into: single)
            XCTAssertEqual(try c.rows(index..<index + 1).values, single.values)
        }
    }

    func testGEMMRejectsMismatchedInnerDimensions() {
        XCTAssertThrowsError(try GEMM.multiply(Tensor(zeros: [2, 3]), Tensor(zeros: [4, 5]), into: Tensor(zeros: [2, 5]))) {
            XCTAssertEqual("\($0)", "gemm: inner dimensions differ: op(A) is 2×3, op(B) is 4×5 (A [2, 3], B [4, 5])")
        }
    }

    // MARK: Linear

    func testLinearForwardAndBackward() throws {
        let x = randomTensor([3, 4], seed: 10), w = randomTensor([5, 4], seed: 11), b = randomTensor([5], seed: 12)
        let y = Tensor(zeros: [3, 5]), r = randomTensor([3, 5], seed: 13)
        try Linear.forward(output: y, input: x, weight: w, bias: b)
        var expected: [Double] = []
        for i in 0..<3 { for o in 0..<5 {
            expected.append((0..<4).reduce(Double(b[o])) { $0 + Double(x[i * 4 + $1]) * Double(w[o * 4 + $1]) })
        } }
        assertClose(y, expected)

        let dx = Tensor(zeros: x.shape), dw = Tensor(zeros: w.shape), db = Tensor(zeros: b.shape)
        try Linear.backward(inputGradient: dx, weightGradient: dw, biasGradient: db, outputGradient: r, input: x, weight: w)
        try assertGradientsMatch(inputs: [("x", x, dx), ("W", w, dw), ("b", b, db)]) {
            try Linear.forward(output: y, input: x, weight: w, bias: b)
            return project(y, r)
        }
    }

    func testLinearFrozenWeightsGetNoGradientWork() throws {
        let x = randomTensor([8, 16], seed: 14), w = randomTensor([32, 16], seed: 15), dy = randomTensor([8, 32], seed: 16)
        GEMM.resetFlopCount()
        try Linear.backward(inputGradient: Tensor(zeros: x.shape), weightGradient: nil, biasGradient: nil, outputGradient: dy, input: x, weight: w)
        XCTAssertEqual(GEMM.flopCount, 2 * 8 * 16 * 32, "only dx = dy·W is computed")
    }

    func testLinearWritesIntoAColumnBlock() throws {
        let x = randomTensor([2, 3], seed: 17), w = randomTensor([2, 3], seed: 18)
        let wide = Tensor(zeros: [2, 6]), narrow = Tensor(zeros: [2, 2])
        try Linear.forward(output: wide.pointer + 2, outputStride: 6, input: x, weight: w, bias: nil)
        try Linear.forward(output: narrow, input: x, weight: w, bias: nil)
        XCTAssertEqual([wide[2], wide[3], wide[8], wide[9]], narrow.values)
        XCTAssertEqual([wide[0], wide[1], wide[4], wide[5]], [0, 0, 0, 0])
    }

    func testLinearRejectsWrongInputWidth() {
        XCTAssertThrowsError(try Linear.forward(output: Tensor(zeros: [2, 5]), input: Tensor(zeros: [2, 3]), weight: Tensor(zeros: [5, 4]), bias: nil)) {
            XCTAssertEqual("\($0)", "linear: input [2, 3] has 3 features, weight [5, 4] expects 4")
        }
    }

    // MARK: LayerNorm

    func testLayerNormForwardAndBackward() throws {
        let rows = 3, channels = 11  // not a multiple of the vector width: tails are exercised
        let x = randomTensor([rows, channels], seed: 20, scale: 2), w = randomTensor([channels], seed: 21), b = randomTensor([channels], seed: 22)
        let y = Tensor(zeros: x.shape), mean = Tensor(zeros: [rows]), rstd = Tensor(zeros: [rows]), r = randomTensor(x.shape, seed: 23)
        try LayerNorm.forward(output: y, mean: mean, reciprocalStd: rstd, input: x, weight: w, bias: b, epsilon: 1e-5)
        var expected: [Double] = []
        for i in 0..<rows {
            let row = (0..<channels).map { Double(x[i * channels + $0]) }
            let mu = row.reduce(0, +) / Double(channels)
            let variance = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(channels)
            for c in 0..<channels { expected.append((row[c] - mu) / (variance + 1e-5).squareRoot() * Double(w[c]) + Double(b[c])) }
        }
        assertClose(y, expected)

        let dx = Tensor(zeros: x.shape), dw = Tensor(zeros: w.shape), db = Tensor(zeros: b.shape)
        try LayerNorm.backward(inputGradient: dx, weightGradient: dw, biasGradient: db, outputGradient: r, input: x, weight: w, mean: mean, reciprocalStd: rstd)
        try assertGradientsMatch(inputs: [("x", x, dx), ("weight", w, dw), ("bias", b, db)]) {
            try LayerNorm.forward(output: y, mean: mean, reciprocalStd: rstd, input: x, weight: w, bias: b, epsilon: 1e-5)
            return project(y, r)
        }
    }

    func testLayerNormRejectsWrongWeight() {
        let x = Tensor(zeros: [2, 4])
        XCTAssertThrowsError(try LayerNorm.forward(output: Tensor(zeros: [2, 4]), mean: Tensor(zeros: [2]), reciprocalStd: Tensor(zeros: [2]),
                                                   input: x, weight: Tensor(zeros: [3]), bias: Tensor(zeros: [4]), epsilon: 1e-5)) {
            XCTAssertEqual("\($0)", "layerNorm: weight [3] and bias [4] should be [4] for input [2, 4]")
        }
    }

    // MARK: Activations

    func testQuickGELUForwardAndBackward() throws {
        let x = randomTensor([37], seed: 30, scale: 4), y = Tensor(zeros: [37]), r = randomTensor([37], seed: 31)
        try QuickGELU.forward(output: y, input: x)
        assertClose(y, x.values.map { Double($0) / (1 + Foundation.exp(-1.702 * Double($0))) }, tolerance: 1e-6)
        let dx = Tensor(zeros: [37])
        try QuickGELU.backward(inputGradient: dx, outputGradient: r, input: x)
        try assertGradientsMatch(inputs: [("x", x, dx)], step: 1e-3) {
            try QuickGELU.forward(output: y, input: x)
            return project(y, r)
        }
    }

    func testGELUForwardAndBackward() throws {
        let x = randomTensor([13], seed: 32, scale: 4), y = Tensor(zeros: [13]), r = randomTensor([13], seed: 33)
        try GELU.forward(output: y, input: x)
        assertClose(y, x.values.map { 0.5 * Double($0) * (1 + Foundation.erf(Double($0) / 2.0.squareRoot())) }, tolerance: 1e-6)
        let dx = Tensor(zeros: [13])
        try GELU.backward(inputGradient: dx, outputGradient: r, input: x)
        try assertGradientsMatch(inputs: [("x", x, dx)], step: 1e-3) {
            try GELU.forward(output: y, input: x)
            return project(y, r)
        }
    }

    func testVectorExpMatchesLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let expected = Foundation.exp(Double(x))
            worst = max(worst, Float(abs(Double(scalarExp(x)) - expected) / expected))
            x += 0.0137
        }
        XCTAssertLessThan(worst, 4e-7, "relative error of the vector exp")
    }

    func testResidualForwardAndBackward() throws {
        let a = randomTensor([9], seed: 34), b = randomTensor([9], seed: 35), y = Tensor(zeros: [9])
        try Residual.forward(output: y, a, b)
        assertClose(y, (0..<9).map { Double(a[$0]) + Double(b[$0]) })
        let dy = randomTensor([9], seed: 36), da = randomTensor([9], seed: 37), da0 = da.values
        try Residual.backward(accumulating: da, outputGradient: dy)
        XCTAssertEqual(da.values, (0..<9).map { da0[$0] + dy[$0] })
    }

    // MARK: Softmax and attention

    func testSoftmaxForwardAndBackward() throws {
        for causal in [false, true] {
            let x = randomTensor([2, 9, 9], seed: 40, scale: 3), p = Tensor(zeros: x.shape), r = randomTensor(x.shape, seed: 41)
            try Softmax.forward(output: p, input: x, causal: causal)
            var expected: [Double] = []
            for row in 0..<18 {
                let visible = causal ? row % 9 + 1 : 9
                let values = (0..<visible).map { Double(x[row * 9 + $0]) }
                let total = values.map { Foundation.exp($0) }.reduce(0, +)
                expected += values.map { Foundation.exp($0) / total } + Array(repeating: 0, count: 9 - visible)
            }
            assertClose(p, expected, tolerance: 1e-6, "causal \(causal)")
            let dx = Tensor(zeros: x.shape)
            try Softmax.backward(inputGradient: dx, outputGradient: r, output: p)
            try assertGradientsMatch(inputs: [("x", x, dx)], step: 1e-3) {
                try Softmax.forward(output: p, input: x, causal: causal)
                return project(p, r)
            }
        }
    }

    /// Attention against a direct per-head Double computation, and its backward by finite differences — with every
    /// token asking queries, and with only the leading ones (a ViT's last layer keeps just its class token).
    func testAttentionForwardAndBackward() throws {
        for causal in [false, true] { for queries in [5, 2, 1] {
            let batch = 2, tokens = 5, heads = 3, headSize = 4, channels = heads * headSize
            let qkv = randomTensor([batch, tokens, 3 * channels], seed: 50, scale: 1.5)
            let out = Tensor(zeros: [batch, queries, channels]), probs = Tensor(zeros: [batch, heads, queries, tokens])
            try Attention.forward(output: out, probabilities: probs, qkv: qkv, heads: heads, causal: causal)
            var expected = [Double](repeating: 0, count: out.count)
            let scale = 1 / Double(headSize).squareRoot()
            func value(_ b: Int, _ t: Int, _ part: Int, _ h: Int, _ d: Int) -> Double {
                Double(qkv[(b * tokens + t) * 3 * channels + part * channels + h * headSize + d])
            }
            for b in 0..<batch { for h in 0..<heads { for i in 0..<queries {
                let visible = causal ? i + 1 : tokens
                let scores = (0..<visible).map { j in (0..<headSize).reduce(0.0) { $0 + value(b, i, 0, h, $1) * value(b, j, 1, h, $1) } * scale }
                let peak = scores.max()!, weights = scores.map { Foundation.exp($0 - peak) }, total = weights.reduce(0, +)
                for d in 0..<headSize {
                    expected[(b * queries + i) * channels + h * headSize + d] = (0..<visible).reduce(0.0) { $0 + weights[$1] / total * value(b, $1, 2, h, d) }
                }
            } } }
            assertClose(out, expected, tolerance: 1e-5, "causal \(causal), \(queries) queries")

            let r = randomTensor(out.shape, seed: 51), dqkv = Tensor(zeros: qkv.shape)
            try Attention.backward(qkvGradient: dqkv, outputGradient: r, probabilities: probs, qkv: qkv, heads: heads,
                                   scratch: Tensor(zeros: [queries * tokens]))
            try assertGradientsMatch(inputs: [("qkv", qkv, dqkv)], step: 1e-2) {
                try Attention.forward(output: out, probabilities: probs, qkv: qkv, heads: heads, causal: causal)
                return project(out, r)
            }
        } }
    }

    /// Products cut into parts give the bits of the whole product, for every cut, transpose and thread count, at
    /// the shapes of a ViT-B/32 LoRA adapter (800 tokens, width 768, rank 8).
    func testProductsInPartsEqualTheWholeProduct() {
        let saved = BLASThreads.count
        defer { BLASThreads.set(saved) }
        let shapes = [(m: 800, n: 8, k: 768), (m: 800, n: 768, k: 8), (m: 8, n: 768, k: 800), (m: 768, n: 8, k: 800)]
        for (m, n, k) in shapes { for (transposeA, transposeB) in [(false, false), (true, false), (false, true)] { for cut in [GEMM.Cut.rows, .columns] {
            let a = randomTensor([m * k], seed: 60), b = randomTensor([k * n], seed: 61), start = randomTensor([m * n], seed: 62)
            let (lda, ldb) = (transposeA ? m : k, transposeB ? k : n)
            BLASThreads.set(1)
            let whole = start.clone()
            GEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5, a: a.pointer, lda: lda,
                          b: b.pointer, ldb: ldb, beta: 1, c: whole.pointer, ldc: n)
            for threads in [2, 3] {
                BLASThreads.set(threads)
                let parts = start.clone()
                GEMM.multiplyInParts(cutting: cut, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5,
                                     a: a.pointer, lda: lda, b: b.pointer, ldb: ldb, beta: 1, c: parts.pointer, ldc: n)
                XCTAssertEqual(parts.values, whole.values, "\(m)×\(n)×\(k) transposes \(transposeA) \(transposeB) \(cut) \(threads) threads")
                XCTAssertEqual(BLASThreads.count, threads)
            }
        } } }
    }

    /// Backward kernels that write their input gradient (`accumulating: false`) give what accumulating into zeros
    /// gives, whatever the buffer held; the activations also in place (dx and dy one buffer).
    func testWritingBackwardsEqualAccumulatingIntoZeros() throws {
        let garbage: Float = 12345
        // Linear: dx = dy·W.
        let x = randomTensor([6, 5], seed: 70), weight = randomTensor([4, 5], seed: 71), dy = randomTensor([6, 4], seed: 72)
        let accumulated = Tensor(zeros: x.shape), written = try Tensor(shape: x.shape, values: Array(repeating: garbage, count: x.count))
        try Linear.backward(inputGradient: accumulated, weightGradient: nil, biasGradient: nil, outputGradient: dy, input: x, weight: weight)
        try Linear.backward(inputGradient: written, weightGradient: nil, biasGradient: nil, outputGradient: dy.pointer,
                            gradientStride: 4, input: x, weight: weight, accumulatingInput: false)
        XCTAssertEqual(written.values, accumulated.values)
        // Activations, in place.
        let input = randomTensor([3, 37], seed: 73), outputGradient = randomTensor([3, 37], seed: 74)
        for gelu in [false, true] {
            let reference = Tensor(zeros: input.shape), inPlace = outputGradient.clone()
            if gelu {
                try GELU.backward(inputGradient: reference, outputGradient: outputGradient, input: input)
                try GELU.backward(inputGradient: inPlace, outputGradient: inPlace, input: input, accumulating: false)
            } else {
                try QuickGELU.backward(inputGradient: reference, outputGradient: outputGradient, input: input)
                try QuickGELU.backward(inputGradient: inPlace, outputGradient: inPlace, input: input, accumulating: false)
            }
            XCTAssertEqual(inPlace.values, reference.values, gelu ? "GELU" : "quick GELU")
        }
        // Attention: dq, dk, dv written (all tokens query here).
        let qkv = randomTensor([2, 5, 24], seed: 75), dOut = randomTensor([2, 5, 8], seed: 76)
        let out = Tensor(zeros: [2, 5, 8]), probabilities = Tensor(zeros: [2, 2, 5, 5])
        try Attention.forward(output: out, probabilities: probabilities, qkv: qkv, heads: 2, causal: false)
        let dqkv = Tensor(zeros: qkv.shape), dqkvWritten = try Tensor(shape: qkv.shape, values: Array(repeating: garbage, count: qkv.count))
        try Attention.backward(qkvGradient: dqkv, outputGradient: dOut, probabilities: probabilities, qkv: qkv, heads: 2, scratch: Tensor(zeros: [50]))
        try Attention.backward(qkvGradient: dqkvWritten, outputGradient: dOut, probabilities: probabilities, qkv: qkv, heads: 2,
                               scratch: Tensor(zeros: [50]), accumulating: false)
        XCTAssertEqual(dqkvWritten.values, dqkv.values)
    }

    /// Heads spread over workers compute exactly what one thread computes.
    func testAttentionIsIdenticalForAnyWorkerCount() throws {
        let qkv = randomTensor([3, 7, 3 * 8], seed: 52), dOut = randomTensor([3, 7, 8], seed: 53)
        let saved = BLASThreads.count
        defer { BLASThreads.set(saved) }
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            BLASThreads.set(threads)
            let out = Tensor(zeros: [3, 7, 8]), probs = Tensor(zeros: [3, 2, 7, 7]), dqkv = Tensor(zeros: qkv.shape)
            try Attention.forward(output: out, probabilities: probs, qkv: qkv, heads: 2, causal: true)
            try Attention.backward(qkvGradient: dqkv, outputGradient: dOut, probabilities: probs, qkv: qkv, heads: 2,
                                   scratch: Tensor(zeros: [threads * 49]))
            results.append(out.values + dqkv.values)
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }

    func testAttentionRejectsMoreQueriesThanTokens() {
        XCTAssertThrowsError(try Attention.forward(output: Tensor(zeros: [1, 3, 4]), probabilities: Tensor(zeros: [1, 2, 3, 2]),
                                                   qkv: Tensor(zeros: [1, 2, 12]), heads: 2, causal: false)) {
            XCTAssertEqual("\($0)", "attention: output [1, 3, 4] should be [1, n ≤ 2, 4]")
        }
    }

    func testAttentionRejectsIndivisibleHeads() {
        XCTAssertThrowsError(try Attention.forward(output: Tensor(zeros: [1, 2, 10]), probabilities: Tensor(zeros: [1, 3, 2, 2]),
                                                   qkv: Tensor(zeros: [1, 2, 30]), heads: 3, causal: false)) {
            XCTAssertEqual("\($0)", "attention: 10 channels do not split into 3 heads")
        }
    }

    // MARK: Loss and normalization

    func testCrossEntropyForwardAndBackward() throws {
        for weights in [nil, [Float(0.7), 1.6, 1.0]] as [[Float]?] {
            let logits = randomTensor([4, 3], seed: 60, scale: 3), p = Tensor(zeros: [4, 3]), targets = [0, 2, 1, 2]
            let loss = try CrossEntropy.forward(probabilities: p, logits: logits, targets: targets, classWeights: weights)
            var numerator = 0.0, denominator = 0.0
            for i in 0..<4 {
                let row = (0..<3).map { Double(logits[i * 3 + $0]) }
                let logSum = Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +))
                let w = Double(weights?[targets[i]] ?? 1)
                numerator += w * (logSum - row[targets[i]]); denominator += w
            }
            XCTAssertEqual(Double(loss), numerator / denominator, accuracy: 1e-6)
            let dLogits = Tensor(zeros: [4, 3])
            try CrossEntropy.backward(logitsGradient: dLogits, probabilities: p, targets: targets, classWeights: weights)
            try assertGradientsMatch(inputs: [("logits", logits, dLogits)], step: 1e-3) {
                Double(try CrossEntropy.forward(probabilities: p, logits: logits, targets: targets, classWeights: weights))
            }
        }
    }

    func testCrossEntropyRejectsTargetOutOfRange() {
        XCTAssertThrowsError(try CrossEntropy.forward(probabilities: Tensor(zeros: [1, 2]), logits: Tensor(zeros: [1, 2]), targets: [2])) {
            XCTAssertEqual("\($0)", "cross-entropy: target 2 outside 0..<2")
        }
    }

    func testL2NormalizeForwardAndBackward() throws {
        let x = randomTensor([3, 7], seed: 70), y = Tensor(zeros: x.shape), norms = Tensor(zeros: [3]), r = randomTensor(x.shape, seed: 71)
        try L2Normalize.forward(output: y, norms: norms, input: x)
        var expected: [Double] = []
        for i in 0..<3 {
            let row = (0..<7).map { Double(x[i * 7 + $0]) }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            expected += row.map { $0 / norm }
        }
        assertClose(y, expected, tolerance: 1e-6)
        let dx = Tensor(zeros: x.shape)
        try L2Normalize.backward(inputGradient: dx, outputGradient: r, output: y, norms: norms)
        try assertGradientsMatch(inputs: [("x", x, dx)], step: 1e-3) {
            try L2Normalize.forward(output: y, norms: norms, input: x)
            return project(y, r)
        }
    }
}
