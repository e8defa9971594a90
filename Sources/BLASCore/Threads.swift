import CBLAS

/// OpenBLAS's thread pool: how many threads each GEMM may use, and which kernel family it picked.
public enum BLASThreads {
    /// Sets the number of threads OpenBLAS uses for every following call (at least 1).
    public static func set(_ count: Int) {
        openblas_set_num_threads(Int32(Swift.max(1, count)))
    }

    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with OpenBLAS on one thread. For skinny products — a LoRA rank of 8 against a width of 768 — waking
    /// a second thread costs more than the work: measured here, 800×768×8 takes 0.20 ms on one thread, 0.68 on two.
    /// Call it only where no other thread is inside BLAS (the thread count is process-wide).
    public static func singleThreaded<Result>(_ body: () throws -> Result) rethrows -> Result {
        let saved = count
        guard saved > 1 else { return try body() }
        set(1)
        defer { set(saved) }
        return try body()
    }

    /// Binds thread k of the compute threads to `cpus[k]`: the calling thread (which then must be the one that
    /// runs the kernels), OpenBLAS's workers and the `WorkerTeam`'s helpers, so that each core has one thread of
    /// each pool. Unbound, the scheduler often woke a team helper onto the caller's core while OpenBLAS's idle
    /// worker spun on the other: bf16 products then ran at half speed. Needs `cpus.count >= count`.
    public static func bind(to cpus: [Int32]) {
        let threads = count
        guard cpus.count >= threads, threads > 1 else { return }
        _ = clipcv_bind_current_thread(cpus[0])
        for worker in 0..<(threads - 1) { _ = clipcv_bind_openblas_thread(Int32(worker), cpus[worker + 1]) }
        WorkerTeam.shared.bindHelpers(to: Array(cpus[1..<threads]))
    }

    /// The CPU kernel family OpenBLAS selected, e.g. "Haswell" or "SkylakeX".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
