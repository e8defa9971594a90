import CBLAS
import Synchronization

/// Row-major matrix multiply with fp32 operands and results: `C = alpha · op(A) · op(B) + beta · C`.
///
/// Every matrix product in clipcv goes through here, so the arithmetic precision is one process-wide switch
/// (`GEMM.precision`) and nothing above this type changes with it.
public enum GEMM {
    /// How products are computed; inputs and outputs stay fp32 either way.
    public enum Precision: String, Sendable, CaseIterable {
        /// OpenBLAS `sgemm`: the default, and what every parity test uses.
        case float32 = "fp32"
        /// Operands rounded to bf16, fp32 accumulation (oneDNN); small products (a side shorter than 64 or
        /// fewer than 2²⁴ multiply-adds: per-head attention, LoRA rank, short prompts) stay fp32.
        case bfloat16 = "bf16"
    }

    /// The precision of every following product, process-wide; `.float32` unless set.
    public static var precision: Precision {
        get { selectedPrecision.load(ordering: .relaxed) == 0 ? .float32 : .bfloat16 }
        set { selectedPrecision.store(newValue == .float32 ? 0 : 1, ordering: .relaxed) }
    }

    /// Whether `.bfloat16` computes an m×n×k product in bf16; smaller ones stay fp32 (faster there).
    public static func usesBFloat16(m: Int, n: Int, k: Int) -> Bool {
        precision == .bfloat16 && BFloat16GEMM.accepts(m: m, n: n, k: k)
    }

    /// Floating-point operations issued since the last `resetFlopCount()` (2·m·n·k per product), for benchmarks.
    public static var flopCount: Int { issuedFlops.load(ordering: .relaxed) }
    public static func resetFlopCount() { issuedFlops.store(0, ordering: .relaxed) }

    /// `C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C`, with leading dimensions (row strides) given
    /// explicitly so that column blocks of wider matrices (one head of a fused QKV buffer) can be used in place.
    /// `constantB`: the tensor B is, when it is a whole constant tensor (a frozen weight), whose bf16 rounding
    /// can then be made once and kept.
    @inline(__always)
    public static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, constantB: Tensor? = nil
    ) {
        guard m > 0, n > 0 else { return }
        issuedFlops.add(2 * m * n * k, ordering: .relaxed)
        if usesBFloat16(m: m, n: n, k: k) {
            BFloat16GEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, constantB: constantB)
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Which kernel computes this product under the current precision, e.g. "OpenBLAS sgemm (Haswell)" or
    /// "oneDNN brg:avx512_core_bf16" (for benchmark reports).
    public static func implementation(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                                      ldc: Int? = nil, alpha: Float = 1, beta: Float = 0) -> String {
        guard usesBFloat16(m: m, n: n, k: k) else {
            return "OpenBLAS sgemm (\(BLASThreads.coreName))"
        }
        let name = BFloat16GEMM.implementation(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                               ldc: ldc ?? n, alpha: alpha, beta: beta)
        return "oneDNN \(name)"
    }

    /// Which dimension of C `multiplyInParts` cuts.
    public enum Cut: Sendable { case rows, columns }

    /// The same product as `multiply`, with C's rows (or columns) cut into one part per compute thread, each part a
    /// single-threaded OpenBLAS call on the `WorkerTeam`. For skinny products — a LoRA rank of 8 against a width of
    /// 768 — OpenBLAS's own threads cost more than they save (800×768×8: 0.20 ms on one thread, 0.68 on two), but
    /// two cores each taking half of C still halve the time. No sum over k is cut, so each element of C is
    /// computed the same way whatever the number of parts.
    public static func multiplyInParts(
        cutting cut: Cut, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let length = cut == .rows ? m : n
        let parts = Swift.max(1, Swift.min(BLASThreads.count, length / minimumPartLength))
        BLASThreads.singleThreaded {
            WorkerTeam.shared.run(parts: parts) { part in
                let start = length * part / parts, count = length * (part + 1) / parts - start
                switch cut {
                case .rows:
                    multiply(transposeA: transposeA, transposeB: transposeB, m: count, n: n, k: k, alpha: alpha,
                             a: a + (transposeA ? start : start * lda), lda: lda, b: b, ldb: ldb, beta: beta, c: c + start * ldc, ldc: ldc)
                case .columns:
                    multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: count, k: k, alpha: alpha,
                             a: a, lda: lda, b: b + (transposeB ? start * ldb : start), ldb: ldb, beta: beta, c: c + start, ldc: ldc)
                }
            }
        }
    }

    /// Parts shorter than this are not worth a thread.
    static let minimumPartLength = 64

    /// `count` independent products whose operands start `strideA`, `strideB`, `strideC` elements apart.
    public static func multiplyBatched(
        count: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, strideA: Int,
        b: UnsafePointer<Float>, ldb: Int, strideB: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int
    ) {
        for index in 0..<count {
            multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                     alpha: alpha, a: a + index * strideA, lda: lda, b: b + index * strideB, ldb: ldb,
                     beta: beta, c: c + index * strideC, ldc: ldc)
        }
    }

    /// Tensor form: each operand is seen as a matrix `[rows, lastDimension]`.
    /// `c = alpha · op(a) · op(b) + beta · c`, op = transpose when asked.
    public static func multiply(_ a: Tensor, _ b: Tensor, into c: Tensor, transposeA: Bool = false, transposeB: Bool = false,
                                alpha: Float = 1, beta: Float = 0) throws {
        try requireWritable(c, "gemm")
        let (m, kA) = transposeA ? (a.lastDimension, a.rowCount) : (a.rowCount, a.lastDimension)
        let (kB, n) = transposeB ? (b.lastDimension, b.rowCount) : (b.rowCount, b.lastDimension)
        try require(kA == kB, "gemm: inner dimensions differ: op(A) is \(m)×\(kA), op(B) is \(kB)×\(n) (A \(a.shape), B \(b.shape))")
        try require(c.rowCount == m && c.lastDimension == n, "gemm: output \(c.shape) should be [\(m), \(n)]")
        multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: kA, alpha: alpha,
                 a: a.pointer, lda: a.lastDimension, b: b.pointer, ldb: b.lastDimension,
                 beta: beta, c: c.pointer, ldc: n)
    }
}

private let issuedFlops = Atomic<Int>(0)
private let selectedPrecision = Atomic<UInt8>(0)
