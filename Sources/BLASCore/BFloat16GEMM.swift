import CDNNL
import Synchronization

/// The bf16 backend of `GEMM`: oneDNN's matmul with bf16 operands and fp32 accumulation and output.
///
/// Debian's OpenBLAS 0.3.21 has no `sbgemm`, so oneDNN does the product; on CPUs with AVX512-BF16 it picks
/// `brg:avx512_core_bf16`. Each call rounds op(A) and op(B) to bf16 into dense scratch buffers (the brgemm
/// kernels want dense operands) and lets oneDNN write `C` in place, `alpha` as an output scale and `beta` as a
/// sum post-op. A constant B (a frozen weight, see `Tensor.isConstant`) is rounded once and kept beside the
/// tensor: rounding took 7 % of a bf16 training step, two thirds of it the weights. The copies are private to
/// each rank: 2 bytes per weight, 174 MB for ViT-B/32's vision tower.
///
/// Threads: the rows of C are split into one block per `BLASThreads.count` thread, each block a single-threaded
/// oneDNN primitive run by a thread of the `WorkerTeam`. oneDNN's own OpenMP team would do the same split, but its
/// idle threads spin for milliseconds after every product and take the core from the OpenBLAS threads of the fp32
/// products in between (and from the other ranks on a shared node).
enum BFloat16GEMM {
    /// Products with a side shorter than this, or fewer multiply-adds than `minimumMultiplyAdds`, stay in fp32
    /// OpenBLAS. Measured on 2 threads (GFLOP/s fp32 → bf16): 64³ 115 → 43, 128³ 144 → 138, 256³ 180 → 180–229,
    /// 800×768×3072 190 → 380; one attention head 50×50×64 72 → 54–72 and its P·V 107 → 53–82. Below 256³ the
    /// rounding and the per-call work (two parallel phases, memory objects) cost more than the faster kernel
    /// saves. The rank-r LoRA products (a side of 8) stay fp32 too, so the trained tensors keep full precision,
    /// as do the text tower's products over a few dozen prompt tokens (about 1.5 % of a ViT-B/32 training step).
    static let minimumDimension = 64
    static let minimumMultiplyAdds = 1 << 24
    /// Fewer rows per thread than this are not worth a second thread.
    static let minimumBlockRows = 32

    static func accepts(m: Int, n: Int, k: Int) -> Bool {
        Swift.min(m, n, k) >= minimumDimension && m * n * k >= minimumMultiplyAdds
    }

    static func multiply(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, constantB: Tensor?
    ) {
        let product = BFloat16Product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, ldc: ldc,
                              alpha: alpha, beta: beta, threads: BLASThreads.count)
        // B's storage is (n × k when transposed, else k × n) with row stride ldb; a whole constant tensor of that
        // storage has its rounding cached.
        let (bRows, bColumns) = transposeB ? (n, k) : (k, n)
        let cached = constantB.flatMap {
            $0.isConstant && UnsafePointer($0.pointer) == b && $0.count == bRows * bColumns && ldb == bColumns ? $0 : nil
        }
        backend.withLock { $0.run(product, a: a, lda: lda, b: b, ldb: ldb, c: c, constantB: cached) }
    }

    /// oneDNN's name for the kernel that runs this product's row blocks, e.g. "brg:avx512_core_bf16".
    static func implementation(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, ldc: Int,
                               alpha: Float, beta: Float) -> String {
        let product = BFloat16Product(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, ldc: ldc,
                              alpha: alpha, beta: beta, threads: BLASThreads.count)
        return backend.withLock { backend in
            Set(product.blocks.map { backend.matmul(for: product.key(rows: $0.count)).implementation }).sorted().joined(separator: ", ")
        }
    }
}

/// One product and its split into row blocks of C, one per thread.
struct BFloat16Product {
    let transposeA: Bool, transposeB: Bool
    let m: Int, n: Int, k: Int, ldc: Int
    let alpha: Float, beta: Float
    let blocks: [Range<Int>]

    init(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, ldc: Int, alpha: Float, beta: Float, threads: Int) {
        (self.transposeA, self.transposeB, self.m, self.n, self.k, self.ldc, self.alpha, self.beta) =
            (transposeA, transposeB, m, n, k, ldc, alpha, beta)
        blocks = evenSplit(m, into: Swift.min(Swift.max(1, threads), Swift.max(1, m / BFloat16GEMM.minimumBlockRows)))
    }

    func key(rows: Int) -> MatmulKey {
        MatmulKey(transposeA: transposeA, transposeB: transposeB, m: rows, n: n, k: k, ldc: ldc, alpha: alpha, beta: beta)
    }
}

/// `0..<count` cut into `parts` contiguous ranges whose sizes differ by at most one.
func evenSplit(_ count: Int, into parts: Int) -> [Range<Int>] {
    (0..<parts).map { count * $0 / parts..<count * ($0 + 1) / parts }
}

/// Everything a single-threaded matmul primitive is specialised for. Operand strides follow from the shape and
/// transposes because both operands are dense bf16 copies (A per row block).
struct MatmulKey: Hashable {
    let transposeA: Bool, transposeB: Bool
    let m: Int, n: Int, k: Int, ldc: Int
    let alpha: Float, beta: Float
}

/// One created primitive with its descriptors; memory objects are made per call around the caller's pointers.
/// Sendable because it is only reached through `backend`'s lock, and executing a primitive from several threads
/// at once is allowed (each with its own scratchpad and stream).
final class MatmulPrimitive: @unchecked Sendable {
    private let primitive: dnnl_primitive_t
    private let aDescriptor: dnnl_memory_desc_t, bDescriptor: dnnl_memory_desc_t
    private let cDescriptor: dnnl_memory_desc_t, scratchpadDescriptor: dnnl_memory_desc_t
    let implementation: String
    let scratchpadBytes: Int

    init(_ key: MatmulKey, engine: dnnl_engine_t) {
        let (m, n, k) = (Int64(key.m), Int64(key.n), Int64(key.k))
        var aDescriptor = dnnl_memory_desc_t(), bDescriptor = dnnl_memory_desc_t(), cDescriptor = dnnl_memory_desc_t()
        checked(dnnl_memory_desc_init_by_strides(&aDescriptor, 2, [m, k], dnnl_bf16, key.transposeA ? [1, m] : [k, 1]), "source descriptor")
        checked(dnnl_memory_desc_init_by_strides(&bDescriptor, 2, [k, n], dnnl_bf16, key.transposeB ? [1, k] : [n, 1]), "weights descriptor")
        checked(dnnl_memory_desc_init_by_strides(&cDescriptor, 2, [m, n], dnnl_f32, [Int64(key.ldc), 1]), "destination descriptor")
        var operation = dnnl_matmul_desc_t()
        checked(dnnl_matmul_desc_init(&operation, &aDescriptor, &bDescriptor, nil, &cDescriptor), "matmul descriptor")

        // C = alpha · (A·B) + beta · C: alpha is an output scale, beta the scale of a sum post-op.
        var attributes: dnnl_primitive_attr_t?
        checked(dnnl_primitive_attr_create(&attributes), "attributes")
        defer { dnnl_primitive_attr_destroy(attributes) }
        // Our scratchpad per thread: the library's would be shared by concurrent executions.
        checked(dnnl_primitive_attr_set_scratchpad_mode(attributes, dnnl_scratchpad_mode_user), "scratchpad mode")
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
        var scratchpadDescriptor = dnnl_primitive_desc_query_md(descriptor, dnnl_query_scratchpad_md, 0).pointee
        scratchpadBytes = dnnl_memory_desc_get_size(&scratchpadDescriptor)
        (self.aDescriptor, self.bDescriptor, self.cDescriptor, self.scratchpadDescriptor) =
            (aDescriptor, bDescriptor, cDescriptor, scratchpadDescriptor)
        var primitive: dnnl_primitive_t?
        checked(dnnl_primitive_create(&primitive, descriptor), "matmul primitive")
        self.primitive = primitive!
    }

    /// Runs on the calling thread (OpenMP team of one).
    func execute(a: UnsafeMutablePointer<UInt16>, b: UnsafeMutablePointer<UInt16>, c: UnsafeMutablePointer<Float>,
                 scratchpad: UnsafeMutableRawPointer, engine: dnnl_engine_t, stream: dnnl_stream_t) {
        omp_set_num_threads(1)
        func memory(_ descriptor: dnnl_memory_desc_t, _ data: UnsafeMutableRawPointer) -> dnnl_memory_t {
            var descriptor = descriptor, memory: dnnl_memory_t?
            checked(dnnl_memory_create(&memory, &descriptor, engine, data), "memory object")
            return memory!
        }
        let arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC, memory: memory(aDescriptor, a)),
                         dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS, memory: memory(bDescriptor, b)),
                         dnnl_exec_arg_t(arg: DNNL_ARG_DST, memory: memory(cDescriptor, c)),
                         dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: memory(scratchpadDescriptor, scratchpad))]
        defer { for argument in arguments { dnnl_memory_destroy(argument.memory) } }
        checked(dnnl_primitive_execute(primitive, stream, Int32(arguments.count), arguments), "matmul execution")
        checked(dnnl_stream_wait(stream), "stream wait")
    }

    deinit { dnnl_primitive_destroy(primitive) }
}

/// The CPU engine, a stream and scratchpad per thread, the primitive cache and the bf16 operand copies; used
/// under `backend`'s lock. Products from several callers are serialised (they would compete for the same cores
/// anyway), which is what makes the unchecked Sendable true.
final class OneDNNBackend: @unchecked Sendable {
    private let engine: dnnl_engine_t
    private var streams: [dnnl_stream_t] = []
    /// Creating a primitive costs 0.1–0.5 ms (JIT code generation); a training step repeats the same shapes.
    private var primitives: [MatmulKey: MatmulPrimitive] = [:]
    private var roundedA = AlignedBuffer(), roundedB = AlignedBuffer()
    private var scratchpads: [AlignedBuffer] = []

    init() {
        // Primitives are created for one thread: oneDNN sizes its work split by the caller's OpenMP team.
        omp_set_num_threads(1)
        var engine: dnnl_engine_t?
        checked(dnnl_engine_create(&engine, dnnl_cpu, 0), "CPU engine")
        self.engine = engine!
    }

    func matmul(for key: MatmulKey) -> MatmulPrimitive {
        if let cached = primitives[key] { return cached }
        // Bounded for callers that stream ever-new shapes; a training run uses a few dozen.
        if primitives.count >= 512 { primitives.removeAll() }
        omp_set_num_threads(1)
        let created = MatmulPrimitive(key, engine: engine)
        primitives[key] = created
        return created
    }

    func run(_ product: BFloat16Product, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
             c: UnsafeMutablePointer<Float>, constantB: Tensor?) {
        let blocks = product.blocks
        while streams.count < blocks.count {
            var stream: dnnl_stream_t?
            checked(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
            streams.append(stream!)
        }
        while scratchpads.count < blocks.count { scratchpads.append(AlignedBuffer()) }
        let matmuls = blocks.map { matmul(for: product.key(rows: $0.count)) }
        let work = BlockWork(
            product: product, a: a, lda: lda, b: b, ldb: ldb, c: c,
            aRounded: roundedA.reserve(bytes: 2 * product.m * product.k).assumingMemoryBound(to: UInt16.self),
            bRounded: constantB.map(Self.rounding(of:)) ?? roundedB.reserve(bytes: 2 * product.k * product.n).assumingMemoryBound(to: UInt16.self),
            roundsB: constantB == nil,
            matmuls: matmuls, scratchpads: blocks.indices.map { scratchpads[$0].reserve(bytes: matmuls[$0].scratchpadBytes) },
            engine: engine, streams: streams)
        if constantB != nil {
            // B is rounded already: each thread rounds its rows of A and multiplies them, one parallel region.
            parallel(blocks.count) { work.round(block: $0); work.multiply(block: $0) }
        } else {
            // All of B must be rounded before any block multiplies: two parallel phases.
            parallel(blocks.count) { work.round(block: $0) }
            parallel(blocks.count) { work.multiply(block: $0) }
        }
    }

    /// The kept bf16 rounding of a constant tensor, made now if it is the first use.
    private static func rounding(of constant: Tensor) -> UnsafeMutablePointer<UInt16> {
        if let copy = constant.bfloat16Copy { return copy }
        let copy = UnsafeMutablePointer<UInt16>.allocate(capacity: constant.count)
        roundToBFloat16(constant.pointer, rows: 1, columns: constant.count, stride: constant.count, into: copy)
        constant.bfloat16Copy = copy
        return copy
    }

    deinit {
        primitives.removeAll()
        for stream in streams { dnnl_stream_destroy(stream) }
        dnnl_engine_destroy(engine)
    }
}

/// What the threads of one product share: the caller's operands, the rounded copies, one primitive, scratchpad
/// and stream per row block. Sendable because each thread writes only its own rows of the copies and of C.
struct BlockWork: @unchecked Sendable {
    let product: BFloat16Product
    let a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>
    let aRounded: UnsafeMutablePointer<UInt16>, bRounded: UnsafeMutablePointer<UInt16>
    /// False when `bRounded` is a constant B's kept rounding.
    let roundsB: Bool
    let matmuls: [MatmulPrimitive]
    let scratchpads: [UnsafeMutableRawPointer]
    let engine: dnnl_engine_t, streams: [dnnl_stream_t]

    /// Rounds this block's rows of op(A) to a dense copy (stored transposed, k × rows, when A is) and a share of B.
    func round(block: Int) {
        let rows = product.blocks[block], k = product.k
        if product.transposeA {
            roundToBFloat16(a + rows.lowerBound, rows: k, columns: rows.count, stride: lda, into: aRounded + rows.lowerBound * k)
        } else {
            roundToBFloat16(a + rows.lowerBound * lda, rows: rows.count, columns: k, stride: lda, into: aRounded + rows.lowerBound * k)
        }
        guard roundsB else { return }
        let (bRows, bColumns) = product.transposeB ? (product.n, k) : (k, product.n)
        let share = evenSplit(bRows, into: product.blocks.count)[block]
        roundToBFloat16(b + share.lowerBound * ldb, rows: share.count, columns: bColumns, stride: ldb,
                        into: bRounded + share.lowerBound * bColumns)
    }

    func multiply(block: Int) {
        let rows = product.blocks[block]
        matmuls[block].execute(a: aRounded + rows.lowerBound * product.k, b: bRounded, c: c + rows.lowerBound * product.ldc,
                               scratchpad: scratchpads[block], engine: engine, stream: streams[block])
    }
}

/// `body(0..<count)` on `count` threads of the team (the caller's among them).
private func parallel(_ count: Int, _ body: (Int) -> Void) {
    WorkerTeam.shared.run(parts: count, body)
}

/// A 64-byte-aligned buffer that only grows.
final class AlignedBuffer {
    private var pointer: UnsafeMutableRawPointer?
    private var capacity = 0

    func reserve(bytes: Int) -> UnsafeMutableRawPointer {
        if let pointer, capacity >= bytes { return pointer }
        pointer?.deallocate()
        capacity = Swift.max(bytes, 2 * capacity, 64)
        let allocated = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        pointer = allocated
        return allocated
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
