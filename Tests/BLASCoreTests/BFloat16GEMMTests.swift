import CDNNL
import Foundation
import XCTest
@testable import BLASCore
import TestSupport

/// The bf16 backend of `GEMM` (oneDNN) against fp32 OpenBLAS, and the fp32 default it must not disturb.
///
/// Products are at least 2²⁴ multiply-adds with every side ≥ 64, or `GEMM` keeps them in fp32. The reference is
/// OpenBLAS's fp32 product of the same operands (checked against scalar loops in KernelTests): exact on small
/// integers, within fp32 rounding otherwise.
final class BFloat16GEMMTests: XCTestCase {
    private let transposes = [(false, false), (true, false), (false, true), (true, true)]

    override func tearDown() {
        GEMM.precision = .float32
        super.tearDown()
    }

    func testDefaultPrecisionIsFloat32() {
        XCTAssertEqual(GEMM.precision, .float32)
        XCTAssertFalse(GEMM.usesBFloat16(m: 800, n: 768, k: 3072))
        // Values that bf16 cannot hold: the default product equals the fp32 reference bit for bit.
        let product = Product(m: 256, n: 256, k: 256, transposeA: false, transposeB: true, seed: 10)
        product.run()
        XCTAssertEqual(product.relativeError(), 0)
        XCTAssertTrue(GEMM.implementation(m: 800, n: 768, k: 3072).hasPrefix("OpenBLAS"))
    }

    func testIntegerMatricesAreExactInEveryTransposeCombination() {
        GEMM.precision = .bfloat16
        for (transposeA, transposeB) in transposes {
            // Integers up to 8 are exact in bf16 and every partial sum is exact in fp32; alpha, beta are powers of 2.
            let product = Product(m: 256, n: 264, k: 272, transposeA: transposeA, transposeB: transposeB, seed: 11,
                                  integers: true, alpha: 2, beta: 0.5)
            product.run()
            XCTAssertEqual(product.relativeError(), 0, "transposeA \(transposeA) transposeB \(transposeB)")
        }
    }

    func testRandomMatricesWithinBFloat16Tolerance() {
        GEMM.precision = .bfloat16
        for (transposeA, transposeB) in transposes {
            let product = Product(m: 288, n: 256, k: 256, transposeA: transposeA, transposeB: transposeB, seed: 12,
                                  alpha: 0.75, beta: -1.5)
            product.run()
            let error = product.relativeError()
            XCTAssertLessThanOrEqual(error, 1e-2, "transposeA \(transposeA) transposeB \(transposeB)")
            // bf16 keeps 8 significant bits: an error this far above fp32 rounding shows the bf16 path ran.
            XCTAssertGreaterThan(error, 1e-5, "transposeA \(transposeA) transposeB \(transposeB)")
        }
    }

    func testStridedOperandsAndColumnBlockOutput() {
        GEMM.precision = .bfloat16
        for (transposeA, transposeB) in transposes {
            // Operands read as column blocks of wider matrices, the result written into the middle third of C.
            let product = Product(m: 256, n: 256, k: 288, transposeA: transposeA, transposeB: transposeB, seed: 13,
                                  integers: true, beta: 1, padA: 24, padB: 40, blockOffsetC: 256, ldc: 768)
            product.run()
            XCTAssertEqual(product.relativeError(), 0, "transposeA \(transposeA) transposeB \(transposeB)")
            XCTAssertTrue(product.untouchedOutsideBlock(), "columns outside the output block were written")
        }
    }

    func testSmallProductsStayInFloat32() {
        GEMM.precision = .bfloat16
        // One attention head of ViT-B/32, a 128³ product and a rank-8 LoRA product: exactly OpenBLAS's results.
        for (m, n, k) in [(50, 50, 64), (128, 128, 128), (800, 8, 768)] {
            XCTAssertFalse(GEMM.usesBFloat16(m: m, n: n, k: k), "\(m)×\(n)×\(k)")
            XCTAssertTrue(GEMM.implementation(m: m, n: n, k: k).hasPrefix("OpenBLAS"), "\(m)×\(n)×\(k)")
            let product = Product(m: m, n: n, k: k, transposeA: false, transposeB: true, seed: 14)
            product.run()
            XCTAssertEqual(product.relativeError(), 0, "\(m)×\(n)×\(k)")
        }
        XCTAssertTrue(GEMM.usesBFloat16(m: 256, n: 256, k: 256))
        XCTAssertTrue(GEMM.implementation(m: 800, n: 768, k: 3072).hasPrefix("oneDNN"))
    }

    func testTensorFormUsesTheSelectedPrecision() throws {
        let a = randomTensor([256, 272], seed: 15), b = randomTensor([272, 256], seed: 16)
        let float32 = Tensor(zeros: [256, 256]), bfloat16 = Tensor(zeros: [256, 256])
        try GEMM.multiply(a, b, into: float32)
        GEMM.precision = .bfloat16
        try GEMM.multiply(a, b, into: bfloat16)
        let difference = zip(float32.values, bfloat16.values).map { abs($0 - $1) }.max() ?? 0
        let largest = float32.values.map(abs).max() ?? 0
        XCTAssertGreaterThan(difference, 0)
        XCTAssertLessThanOrEqual(difference / largest, 1e-2)
    }

    /// A frozen weight is rounded once and kept: products through `Linear` give the same bits with the kept
    /// rounding as without it (forward and backward), and only constant tensors keep one.
    func testConstantWeightsKeepTheirRoundingAndGiveTheSameProducts() throws {
        GEMM.precision = .bfloat16
        let x = randomTensor([256, 320], seed: 17), dy = randomTensor([256, 288], seed: 18)
        let frozen = randomTensor([288, 320], seed: 19), plain = frozen.clone()
        frozen.markConstant()
        var results: [[Float]] = []
        for weight in [plain, frozen, frozen] {
            let y = Tensor(zeros: [256, 288]), dx = Tensor(zeros: [256, 320])
            try Linear.forward(output: y, input: x, weight: weight, bias: nil)
            try Linear.backward(inputGradient: dx, weightGradient: nil, biasGradient: nil, outputGradient: dy, input: x, weight: weight)
            results.append(y.values + dx.values)
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[1], results[2])
        XCTAssertNil(plain.bfloat16Copy)
        XCTAssertNotNil(frozen.bfloat16Copy)
        // Views of a constant tensor are constant; the rounded values are bf16 of the weights.
        XCTAssertTrue(try frozen.rows(0..<2).isConstant)
        XCTAssertEqual(frozen.bfloat16Copy![5], bfloat16Bits(SIMD8(repeating: frozen[5]))[0])
    }

    func testRowBlocksFollowBLASThreads() {
        let saved = BLASThreads.count
        defer { BLASThreads.set(saved) }
        GEMM.precision = .bfloat16
        for threads in [1, 2, 3] {
            BLASThreads.set(threads)
            // 300 rows: one block per thread, 100 rows each; every block exact on integers.
            for (transposeA, transposeB) in transposes {
                let product = Product(m: 300, n: 256, k: 256, transposeA: transposeA, transposeB: transposeB, seed: 17,
                                      integers: true, beta: 1)
                product.run()
                XCTAssertEqual(product.relativeError(), 0, "\(threads) threads, transposeA \(transposeA) transposeB \(transposeB)")
            }
        }
        let blocks = { (m: Int, threads: Int) in
            BFloat16Product(transposeA: false, transposeB: false, m: m, n: 64, k: 64, ldc: 64, alpha: 1, beta: 0, threads: threads).blocks
        }
        XCTAssertEqual(blocks(100, 3), [0..<33, 33..<66, 66..<100])
        XCTAssertEqual(blocks(800, 2), [0..<400, 400..<800])
        XCTAssertEqual(blocks(64, 4), [0..<32, 32..<64], "at least 32 rows per thread")
        XCTAssertEqual(blocks(64, 1), [0..<64])
        // The OpenMP team stays at one thread: the threads are ours (Dispatch), not oneDNN's spinning team.
        XCTAssertEqual(Int(omp_get_max_threads()), 1)
    }

    func testConcurrentCallersGetTheirOwnResults() {
        GEMM.precision = .bfloat16
        let products = (0..<4).map { Product(m: 256 + 8 * $0, n: 256, k: 256, transposeA: $0 % 2 == 1, transposeB: false,
                                             seed: 20 + UInt64($0), integers: true) }
        DispatchQueue.concurrentPerform(iterations: products.count) { products[$0].run() }
        for product in products { XCTAssertEqual(product.relativeError(), 0) }
    }

    func testRoundingToNearestEven() {
        func rounded(_ value: Float) -> UInt16 { bfloat16Bits(SIMD8(repeating: value))[0] }
        XCTAssertEqual(rounded(1), 0x3F80)
        XCTAssertEqual(rounded(1 + 0x1p-8), 0x3F80, "halfway, to the even neighbour below")
        XCTAssertEqual(rounded(1 + 3 * 0x1p-8), 0x3F82, "halfway, to the even neighbour above")
        XCTAssertEqual(rounded(1 + 0x1p-8 + 0x1p-20), 0x3F81, "above halfway rounds up")
        XCTAssertEqual(rounded(-2.5), 0xC020)
        XCTAssertEqual(rounded(.infinity), 0x7F80)
        XCTAssertEqual(rounded(.greatestFiniteMagnitude), 0x7F80, "overflows to infinity as IEEE rounding does")
        let nan = rounded(Float(bitPattern: 0x7FFF_FFFF))
        XCTAssertEqual(nan & 0x7F80, 0x7F80)
        XCTAssertNotEqual(nan & 0x007F, 0, "NaN stays NaN")
        // The vector loop and its scalar tail agree: a row of 11 (8 + 3) equals element-wise rounding.
        let values: [Float] = (0..<11).map { Float($0) * 0.3141 - 1.7 }
        var output = [UInt16](repeating: 0, count: 11)
        values.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer {
                roundToBFloat16(source.baseAddress!, rows: 1, columns: 11, stride: 11, into: $0.baseAddress!)
            }
        }
        XCTAssertEqual(output, values.map(rounded))
    }
}

/// One `GEMM.multiply` call on (possibly strided) operands, and the same product in fp32 OpenBLAS.
private final class Product: @unchecked Sendable {
    let m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float, beta: Float
    let lda: Int, ldb: Int, ldc: Int, blockOffsetC: Int
    let a: [Float], b: [Float], initialC: [Float]
    var c: [Float]

    init(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, seed: UInt64, integers: Bool = false,
         alpha: Float = 1, beta: Float = 0, padA: Int = 0, padB: Int = 0, blockOffsetC: Int = 0, ldc: Int? = nil) {
        (self.m, self.n, self.k, self.transposeA, self.transposeB, self.alpha, self.beta) = (m, n, k, transposeA, transposeB, alpha, beta)
        let (aRows, aColumns) = transposeA ? (k, m) : (m, k)
        let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
        lda = aColumns + padA
        ldb = bColumns + padB
        self.ldc = ldc ?? n
        self.blockOffsetC = blockOffsetC
        var generator = SeededGenerator(seed: seed)
        func values(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                integers ? Float(Int(generator.nextUniform() * 17) - 8) : generator.nextUniform() * 2 - 1
            }
        }
        a = values(aRows * lda)
        b = values(bRows * ldb)
        initialC = values(m * self.ldc)
        c = initialC
    }

    func run() { c = product(initialC) }

    private func product(_ start: [Float]) -> [Float] {
        var result = start
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                result.withUnsafeMutableBufferPointer { c in
                    GEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                  a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                                  beta: beta, c: c.baseAddress! + blockOffsetC, ldc: ldc)
                }
            }
        }
        return result
    }

    /// max |C − reference| / max |reference| over the output block; the reference is computed in fp32.
    func relativeError() -> Double {
        let saved = GEMM.precision
        GEMM.precision = .float32
        let reference = product(initialC)
        GEMM.precision = saved
        var worst = 0.0, largest = 0.0
        for i in 0..<m {
            for j in 0..<n {
                let index = i * ldc + blockOffsetC + j
                worst = max(worst, abs(Double(c[index]) - Double(reference[index])))
                largest = max(largest, abs(Double(reference[index])))
            }
        }
        return worst / largest
    }

    func untouchedOutsideBlock() -> Bool {
        (0..<c.count).allSatisfy { index in
            let column = index % ldc
            return (blockOffsetC..<blockOffsetC + n).contains(column) || c[index] == initialC[index]
        }
    }
}
