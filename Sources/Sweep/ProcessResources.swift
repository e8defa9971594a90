import Foundation

/// This process's memory high-water mark and CPU set, from Linux's `/proc/self` (on other systems: unknown
/// memory, and every active processor).
public enum ProcessResources {
    /// Peak resident set size (VmHWM) in MiB since the process started or since `resetPeakResident()`; nil
    /// where `/proc/self/status` does not exist.
    public static func peakResidentMegabytes() -> Double? {
        statusField("VmHWM").flatMap { Double($0.split(separator: " ").first ?? "") }.map { $0 / 1024 }
    }

    /// Lowers VmHWM to the current resident size (Linux ≥ 4.0), so the next reading is the peak of what follows:
    /// a rank's peak per job rather than over all its jobs. Returns false where that is not possible.
    @discardableResult
    public static func resetPeakResident() -> Bool {
        let descriptor = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return write(descriptor, "5", 1) == 1
    }

    /// Proportional set size in MiB (`Pss` of /proc/self/smaps_rollup): resident memory with every shared page
    /// divided among the processes that map it, so summing it over the ranks of a node counts memory-mapped
    /// weights once. Nil where smaps_rollup does not exist.
    public static func proportionalSetMegabytes() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/self/smaps_rollup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Pss:") {
            return Double(line.dropFirst(4).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "").map { $0 / 1024 }
        }
        return nil
    }

    /// The CPUs this process may run on (its affinity mask, which reflects mpirun's `--bind-to` and cgroup
    /// cpusets), as bit words: bit i of word i/64 is CPU i.
    public static func allowedCPUs() -> [UInt64] {
        // `Cpus_allowed` is hex in comma-separated 32-bit groups, most significant first.
        guard let hex = statusField("Cpus_allowed") else {
            let count = ProcessInfo.processInfo.activeProcessorCount
            return (0..<(count + 63) / 64).map { word in
                let bits = min(64, count - word * 64)
                return bits == 64 ? UInt64.max : (UInt64(1) << UInt64(bits)) - 1
            }
        }
        var words: [UInt64] = []
        for (position, group) in hex.split(separator: ",").reversed().enumerated() {
            let value = UInt64(group, radix: 16) ?? 0
            if position % 2 == 0 { words.append(value) } else { words[words.count - 1] |= value << 32 }
        }
        return words
    }

    /// The CPUs of a mask, ascending.
    public static func cpus(_ mask: [UInt64]) -> [Int32] {
        mask.enumerated().flatMap { word, bits in (0..<64).filter { bits & (1 << UInt64($0)) != 0 }.map { Int32(word * 64 + $0) } }
    }

    /// Number of set bits in a CPU mask.
    public static func count(_ cpus: [UInt64]) -> Int { cpus.reduce(0) { $0 + $1.nonzeroBitCount } }

    private static func statusField(_ name: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            return line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}

/// How many BLAS threads each rank gets so that threads × ranks on a node never exceed its cores (DESIGN.md
/// promise 5).
public enum ThreadBudget {
    /// `override` when given; otherwise the node's cores shared evenly by its ranks, but never more than the
    /// cores this rank is bound to, and at least 1.
    ///
    /// - Parameters:
    ///   - ownCores: CPUs in this rank's affinity mask (1 under `--bind-to core`, all under `--bind-to none`).
    ///   - nodeCores: CPUs in the union of the masks of the node's ranks (the cores the job may use there).
    ///   - ranksOnNode: ranks sharing the node (MPI_Comm_split_type shared).
    public static func threadsPerRank(ownCores: Int, nodeCores: Int, ranksOnNode: Int, override: Int? = nil) -> Int {
        if let override { return max(1, override) }
        return max(1, min(ownCores, nodeCores / max(1, ranksOnNode)))
    }

    /// The CPUs to bind this rank's `threads` compute threads to, one each, or nil to leave them to the scheduler.
    /// Bound by the launcher to a set of its own (`--bind-to core`, SLURM), a rank takes the first CPUs of that set;
    /// unbound (every rank may use every CPU of the node), rank r of the node takes the r-th slice of `threads`
    /// CPUs. Nil when the CPUs do not go round (oversubscribed), or for a single thread (nothing to place).
    ///
    /// - Parameters:
    ///   - own: this rank's allowed CPUs; `node`: those of the node's ranks together.
    public static func cpusToBind(own: [Int32], node: [Int32], localRank: Int, ranksOnNode: Int, threads: Int) -> [Int32]? {
        guard threads > 1 else { return nil }
        if own != node { return own.count >= threads ? Array(own.prefix(threads)) : nil }
        let first = localRank * threads
        return ranksOnNode * threads <= node.count ? Array(node[first..<first + threads]) : nil
    }
}
