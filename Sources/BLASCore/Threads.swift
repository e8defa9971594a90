import CBLAS

/// OpenBLAS's thread pool: how many threads each GEMM may use, and which kernel family it picked.
public enum BLASThreads {
    /// Sets the number of threads OpenBLAS uses for every following call (at least 1).
    public static func set(_ count: Int) {
        openblas_set_num_threads(Int32(Swift.max(1, count)))
    }

    public static var count: Int { Int(openblas_get_num_threads()) }

    /// The CPU kernel family OpenBLAS selected, e.g. "Haswell" or "SkylakeX".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
