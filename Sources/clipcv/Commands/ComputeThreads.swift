import BLASCore
import Foundation
import Sweep

/// Sets how many compute threads (OpenBLAS's and the worker team's) this process uses, and binds them one per CPU
/// when the CPUs go round (see `BLASThreads.bind`). `CLIPCV_BIND_THREADS=0` leaves placement to the scheduler,
/// e.g. when other programs share the cores.
func useComputeThreads(count: Int, cpus: [Int32]?) {
    BLASThreads.set(count)
    if let cpus, ProcessInfo.processInfo.environment["CLIPCV_BIND_THREADS"] != "0" { BLASThreads.bind(to: cpus) }
}

/// A single process (no MPI): `requested` threads, or one per CPU it may use.
func useComputeThreads(requested: Int? = nil) {
    let own = ProcessResources.cpus(ProcessResources.allowedCPUs())
    let count = max(1, requested ?? own.count)
    useComputeThreads(count: count, cpus: ThreadBudget.cpusToBind(own: own, node: own, localRank: 0, ranksOnNode: 1, threads: count))
}
