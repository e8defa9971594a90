import CDNNL
import Synchronization

/// The bf16 backend of `GEMM`: oneDNN's matmul with bf16 operands and fp32 accumulation and output.
///
/// Debian's OpenBLAS 0.3.21 has no `sbgemm`, so oneDNN does the product; on CPUs with AVX512-BF16 it picks
/// `brg:avx512_core_bf16`. Each call rounds op(A) and op(B) to bf16 into dense scratch buffers (the brgemm
/// kernels want dense operands) and lets oneDNN write `C` in place with its leading dimension, `alpha` as an
/// output scale and `beta` as a sum post-op. Rounding every call costs 0.2 ms per 800×3072 operand on this
/// machine (about 3 % of the 800×768×3072 product); caching bf16 copies of the frozen weights would save that
/// but cost every rank 2 private bytes per weight (176 MB for ViT-B/32), which the ranks of a node could no
/// longer share.
enum BFloat16GEMM {
    /// Products with any side shorter than this stay in fp32 OpenBLAS: per-head attention (50×50×64) and the
    /// rank-r LoRA products are faster there (the bf16 rounding and oneDNN's per-call overhead are not repaid)
    /// and keep full precision where the trained tensors are involved.
    static let minimumDimension = 64

    static func accepts(m: Int, n: Int, k: Int) -> Bool {
        Swift.min(m, n, k) >= minimumDimension
    }

    static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let key = MatmulKey(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, ldc: ldc,
                            alpha: alpha, beta: beta, threads: BLASThreads.count)
        backend.withLock { backend in
            omp_set_num_threads(Int32(key.threads))
            let matmul = backend.matmul(for: key)
            // op(A) is stored m×k (or k×m when transposed), op(B) k×n (or n×k): round each to a dense copy.
            let (aRows, aColumns) = transposeA ? (k, m) : (m, k)
            let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
            let (aBF16, bBF16) = backend.scratch(aRows * aColumns, bRows * bColumns)
            roundToBFloat16(a, rows: aRows, columns: aColumns, stride: lda, into: aBF16)
            roundToBFloat16(b, rows: bRows, columns: bColumns, stride: ldb, into: bBF16)
            matmul.execute(a: aBF16, b: bBF16, c: c, stream: backend.stream)
        }
    }

    /// oneDNN's name for the kernel that runs this product, e.g. "brg:avx512_core_bf16".
    static func implementation(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, ldc: Int,
                               alpha: Float, beta: Float) -> String {
        let key = MatmulKey(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, ldc: ldc,
                            alpha: alpha, beta: beta, threads: BLASThreads.count)
        return backend.withLock { backend in
            omp_set_num_threads(Int32(key.threads))
            return backend.matmul(for: key).implementation
        }
    }
}

/// Everything a matmul primitive is specialised for. Operand strides follow from the shape and transposes
/// because both operands are dense bf16 copies; the thread count is included because oneDNN partitions the
/// work for the OpenMP team size current when the primitive is created.
struct MatmulKey: Hashable {
    let transposeA: Bool, transposeB: Bool
    let m: Int, n: Int, k: Int, ldc: Int
    let alpha: Float, beta: Float
    let threads: Int
}

/// One created primitive with its memory objects, whose data pointers are swapped in per call.
/// Sendable because it is only reached through `backend`'s lock.
final class MatmulPrimitive: @unchecked Sendable {
    private let primitive: dnnl_primitive_t
    private let memoryA: dnnl_memory_t, memoryB: dnnl_memory_t, memoryC: dnnl_memory_t
    let implementation: String

    init(_ key: MatmulKey, engine: dnnl_engine_t) {
        var aDescriptor = dnnl_memory_desc_t(), bDescriptor = dnnl_memory_desc_t(), cDescriptor = dnnl_memory_desc_t()
        let (m, n, k) = (Int64(key.m), Int64(key.n), Int64(key.k))
        checked(dnnl_memory_desc_init_by_strides(&aDescriptor, 2, [m, k], dnnl_bf16, key.transposeA ? [1, m] : [k, 1]), "source descriptor")
        checked(dnnl_memory_desc_init_by_strides(&bDescriptor, 2, [k, n], dnnl_bf16, key.transposeB ? [1, k] : [n, 1]), "weights descriptor")
        checked(dnnl_memory_desc_init_by_strides(&cDescriptor, 2, [m, n], dnnl_f32, [Int64(key.ldc), 1]), "destination descriptor")
        var operation = dnnl_matmul_desc_t()
        checked(dnnl_matmul_desc_init(&operation, &aDescriptor, &bDescriptor, nil, &cDescriptor), "matmul descriptor")

        // C = alpha · (A·B) + beta · C: alpha is an output scale, beta the scale of a sum post-op.
        var attributes: dnnl_primitive_attr_t?
        checked(dnnl_primitive_attr_create(&attributes), "attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        if key.alpha != 1 {
            var alpha = key.alpha
            checked(dnnl_primitive_attr_set_output_scales(attributes, 1, 0, &alpha), "output scale")
        }
        if key.beta != 0 {
            var postOps: dnnl_post_ops_t?
            checked(dnnl_post_ops_create(&postOps), "post-ops")
            defer { dnnl_post_ops_destroy(postOps) }
            checked(dnnl_post_ops_append_sum(postOps, key.beta), "sum post-op")
            checked(dnnl_primitive_attr_set_post_ops(attributes, postOps), "post-ops")
        }

        var descriptor: dnnl_primitive_desc_t?
        checked(dnnl_primitive_desc_create(&descriptor, &operation, attributes, engine, nil), "matmul \(key)")
        defer { dnnl_primitive_desc_destroy(descriptor) }
        var name: UnsafePointer<CChar>?
        checked(dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name), "implementation query")
        implementation = name.map { String(cString: $0) } ?? "unknown"
        var primitive: dnnl_primitive_t?
        checked(dnnl_primitive_create(&primitive, descriptor), "matmul primitive")
        self.primitive = primitive!

        func memory(_ descriptor: inout dnnl_memory_desc_t) -> dnnl_memory_t {
            var memory: dnnl_memory_t?
            checked(dnnl_memory_create(&memory, &descriptor, engine, nil), "memory object")
            return memory!
        }
        memoryA = memory(&aDescriptor)
        memoryB = memory(&bDescriptor)
        memoryC = memory(&cDescriptor)
    }

    func execute(a: UnsafeMutablePointer<UInt16>, b: UnsafeMutablePointer<UInt16>, c: UnsafeMutablePointer<Float>,
                 stream: dnnl_stream_t) {
        checked(dnnl_memory_set_data_handle(memoryA, a), "source pointer")
        checked(dnnl_memory_set_data_handle(memoryB, b), "weights pointer")
        checked(dnnl_memory_set_data_handle(memoryC, c), "destination pointer")
        let arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: memoryA),
                         dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: memoryB),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: memoryC)]
        checked(dnnl_primitive_execute(primitive, stream, Int32(arguments.count), arguments), "matmul execution")
        checked(dnnl_stream_wait(stream), "stream wait")
    }

    deinit {
        dnnl_primitive_destroy(primitive)
        dnnl_memory_destroy(memoryA)
        dnnl_memory_destroy(memoryB)
        dnnl_memory_destroy(memoryC)
    }
}

/// The CPU engine and stream, the primitive cache and the bf16 scratch operands; used under `backend`'s lock.
/// Products from several threads are serialised (they would compete for the same cores anyway), which is
/// what makes the unchecked Sendable true.
final class OneDNNBackend: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// Creating a primitive costs 0.1–0.5 ms (JIT code generation); a training step repeats the same shapes.
    private var primitives: [MatmulKey: MatmulPrimitive] = [:]
    private var scratchA = ScratchBuffer(), scratchB = ScratchBuffer()

    init() {
        var engine: dnnl_engine_t?, stream: dnnl_stream_t?
        checked(dnnl_engine_create(&engine, dnnl_cpu, 0), "CPU engine")
        checked(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
        self.engine = engine!
        self.stream = stream!
    }

    func matmul(for key: MatmulKey) -> MatmulPrimitive {
        if let cached = primitives[key] { return cached }
        // Bounded for callers that stream ever-new shapes; a training run uses a few dozen.
        if primitives.count >= 512 { primitives.removeAll() }
        let created = MatmulPrimitive(key, engine: engine)
        primitives[key] = created
        return created
    }

    func scratch(_ countA: Int, _ countB: Int) -> (UnsafeMutablePointer<UInt16>, UnsafeMutablePointer<UInt16>) {
        (scratchA.reserve(countA), scratchB.reserve(countB))
    }

    deinit {
        primitives.removeAll()
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }
}

/// A 64-byte-aligned buffer of bf16 values that only grows.
struct ScratchBuffer: ~Copyable {
    private var pointer: UnsafeMutablePointer<UInt16>?
    private var capacity = 0

    init() {}

    mutating func reserve(_ count: Int) -> UnsafeMutablePointer<UInt16> {
        if let pointer, capacity >= count { return pointer }
        pointer?.deallocate()
        capacity = Swift.max(count, 2 * capacity)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
        let typed = raw.bindMemory(to: UInt16.self, capacity: capacity)
        pointer = typed
        return typed
    }

    deinit { pointer?.deallocate() }
}

private let backend = Mutex(OneDNNBackend())

private func checked(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    precondition(status == dnnl_success, "oneDNN: \(what()) failed with status \(status.rawValue)")
}

// MARK: - fp32 → bf16

/// bf16 bit patterns of eight floats, rounded to nearest even (as oneDNN and PyTorch round); NaN stays a
/// quiet NaN instead of being rounded into infinity.
@inline(__always)
func bfloat16Bits(_ values: SIMD8<Float>) -> SIMD8<UInt16> {
    let bits = unsafeBitCast(values, to: SIMD8<UInt32>.self)
    let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
    let quietNaN = (bits &>> 16) | 0x40
    // All ones where the magnitude exceeds infinity's bits (NaN): the sign of 0x7F800000 − magnitude. Bit
    // arithmetic, because Swift compiles integer SIMD comparisons to a loop over lanes.
    let magnitude = unsafeBitCast(bits & 0x7FFF_FFFF, to: SIMD8<Int32>.self)
    let isNaN = unsafeBitCast((SIMD8<Int32>(repeating: 0x7F80_0000) &- magnitude) &>> 31, to: SIMD8<UInt32>.self)
    return SIMD8<UInt16>(truncatingIfNeeded: (rounded & ~isNaN) | (quietNaN & isNaN))
}

/// Rounds a `rows × columns` matrix with row stride `stride` into a dense bf16 matrix.
func roundToBFloat16(_ source: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int,
                     into destination: UnsafeMutablePointer<UInt16>) {
    for row in 0..<rows {
        let input = source + row * stride, output = destination + row * columns
        var j = 0
        while j + 8 <= columns {
            let rounded = bfloat16Bits(UnsafeRawPointer(input + j).loadUnaligned(as: SIMD8<Float>.self))
            UnsafeMutableRawPointer(output + j).storeBytes(of: rounded, as: SIMD8<UInt16>.self)
            j += 8
        }
        while j < columns {
            output[j] = bfloat16Bits(SIMD8(repeating: input[j]))[0]
            j += 1
        }
    }
}
