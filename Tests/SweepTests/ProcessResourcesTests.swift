import XCTest
@testable import Sweep

final class ProcessResourcesTests: XCTestCase {
    func testThreadsPerRankNeverOversubscribeANode() {
        // 16 cores, 4 ranks, not bound: 4 threads each.
        XCTAssertEqual(ThreadBudget.threadsPerRank(ownCores: 16, nodeCores: 16, ranksOnNode: 4), 4)
        // Bound with --map-by ppr:4:node:PE=4: each rank sees its 4 cores.
        XCTAssertEqual(ThreadBudget.threadsPerRank(ownCores: 4, nodeCores: 16, ranksOnNode: 4), 4)
        // Bound to one core each (Open MPI's default for -np 2): one thread.
        XCTAssertEqual(ThreadBudget.threadsPerRank(ownCores: 1, nodeCores: 2, ranksOnNode: 2), 1)
        // Bound per socket, two ranks a socket: the socket's 8 cores shared by 2.
        XCTAssertEqual(ThreadBudget.threadsPerRank(ownCores: 8, nodeCores: 16, ranksOnNode: 4), 4)
        // Oversubscribed (3 ranks on 2 cores): still one thread each.
        XCTAssertEqual(ThreadBudget.threadsPerRank(ownCores: 2, nodeCores: 2, ranksOnNode: 3), 1)
        // Uneven: 6 cores, 4 ranks → 1 (6/4 rounds down, never 2×4 > 6).
        XCTAssertEqual(ThreadBudget.threadsPerRank(ownCores: 6, nodeCores: 6, ranksOnNode: 4), 1)
        // The user's word wins.
        XCTAssertEqual(ThreadBudget.threadsPerRank(ownCores: 1, nodeCores: 2, ranksOnNode: 2, override: 3), 3)
        XCTAssertEqual(ThreadBudget.threadsPerRank(ownCores: 1, nodeCores: 2, ranksOnNode: 2, override: 0), 1)
    }

    func testAllowedCPUsMatchTheAffinityMask() throws {
        let cpus = ProcessResources.allowedCPUs()
        let count = ProcessResources.count(cpus)
        XCTAssertGreaterThanOrEqual(count, 1)
        XCTAssertLessThanOrEqual(count, ProcessInfo.processInfo.processorCount)
        let list = try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("Cpus_allowed_list:") }.map { $0.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces) }
        // Cross-check with the kernel's list form, e.g. "0-1,4".
        var expected: [Int] = []
        for range in try XCTUnwrap(list).split(separator: ",") {
            let ends = range.split(separator: "-").compactMap { Int($0) }
            expected += Array(ends[0]...(ends.last ?? ends[0]))
        }
        let fromMask = (0..<cpus.count * 64).filter { cpus[$0 / 64] >> UInt64($0 % 64) & 1 == 1 }
        XCTAssertEqual(fromMask, expected)
        XCTAssertEqual(ProcessResources.cpus(cpus).map(Int.init), expected)
    }

    func testThreadsAreBoundOnlyWhereTheCPUsGoRound() {
        let node: [Int32] = [0, 1, 2, 3, 4, 5, 6, 7]
        // Unbound ranks (every rank sees the whole node): rank r takes the r-th slice.
        XCTAssertEqual(ThreadBudget.cpusToBind(own: node, node: node, localRank: 0, ranksOnNode: 4, threads: 2), [0, 1])
        XCTAssertEqual(ThreadBudget.cpusToBind(own: node, node: node, localRank: 3, ranksOnNode: 4, threads: 2), [6, 7])
        // Bound by the launcher (--map-by ppr:2:node:PE=4): each rank within its own set.
        XCTAssertEqual(ThreadBudget.cpusToBind(own: [4, 5, 6, 7], node: node, localRank: 1, ranksOnNode: 2, threads: 4), [4, 5, 6, 7])
        // Oversubscribed, or more threads than the own set: the scheduler places them.
        XCTAssertNil(ThreadBudget.cpusToBind(own: [0, 1], node: [0, 1], localRank: 1, ranksOnNode: 3, threads: 1))
        XCTAssertNil(ThreadBudget.cpusToBind(own: [0, 1], node: [0, 1], localRank: 0, ranksOnNode: 2, threads: 2))
        XCTAssertNil(ThreadBudget.cpusToBind(own: [2], node: node, localRank: 0, ranksOnNode: 8, threads: 2))
        // One thread: nothing to place.
        XCTAssertNil(ThreadBudget.cpusToBind(own: [0], node: [0, 1], localRank: 0, ranksOnNode: 2, threads: 1))
    }

    func testPeakResidentMemoryIsReadAndCanBeReset() throws {
        let before = try XCTUnwrap(ProcessResources.peakResidentMegabytes())
        XCTAssertGreaterThan(before, 1)
        // Touch 64 MiB so the high-water mark rises at least that far above the current size.
        var block = [UInt8](repeating: 1, count: 64 << 20)
        block[block.count - 1] = 2
        let raised = try XCTUnwrap(ProcessResources.peakResidentMegabytes())
        XCTAssertGreaterThanOrEqual(raised, 64)
        XCTAssertEqual(block.last, 2)
        block = []
        if ProcessResources.resetPeakResident() {
            XCTAssertLessThan(try XCTUnwrap(ProcessResources.peakResidentMegabytes()), raised - 32)
        }
    }
}
