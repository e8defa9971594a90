import XCTest
@testable import BLASCore
import Synchronization

final class TensorTests: XCTestCase {
    func testReshapeRejectsWrongCount() throws {
        let t = Tensor(zeros: [2, 3])
        XCTAssertThrowsError(try t.reshaped([4, 2])) { error in
            XCTAssertEqual("\(error)", "cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)")
        }
    }

    /// A leading view shares memory with its buffer and refuses to reach past it.
    func testLeadingViewSharesTheFirstElements() throws {
        let t = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let view = try t.leading([2, 2])
        XCTAssertEqual(view.values, [1, 2, 3, 4])
        view[3] = 9
        XCTAssertEqual(t[3], 9)
        XCTAssertThrowsError(try t.leading([7])) { error in
            XCTAssertEqual("\(error)", "cannot view the first 7 elements of [2, 3] (6 elements) as [7]")
        }
    }
}

final class WorkerTeamTests: XCTestCase {
    /// Every part runs exactly once, also when regions follow each other fast and when one is nested in another.
    func testEveryPartRunsOnce() {
        let saved = BLASThreads.count
        defer { BLASThreads.set(saved) }
        BLASThreads.set(3)
        for parts in [1, 2, 3, 5] {
            for _ in 0..<50 {
                let counts = UnsafeMutablePointer<Int>.allocate(capacity: parts)
                counts.initialize(repeating: 0, count: parts)
                WorkerTeam.shared.run(parts: parts) { part in
                    counts[part] += 1
                    WorkerTeam.shared.run(parts: 2) { _ in }  // nested: runs inline on this thread
                }
                XCTAssertEqual(Array(UnsafeBufferPointer(start: counts, count: parts)), Array(repeating: 1, count: parts))
                counts.deallocate()
            }
        }
    }

    /// One range per thread, cut at multiples of the alignment, tiling the whole count.
    func testSplitCutsAtTheAlignment() {
        let saved = BLASThreads.count
        defer { BLASThreads.set(saved) }
        for threads in [1, 2, 3] {
            BLASThreads.set(threads)
            let seen = Mutex<[Range<Int>]>([])
            WorkerTeam.shared.split(1003, grain: 100, alignment: 8) { range in seen.withLock { $0.append(range) } }
            let ranges = seen.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
            XCTAssertEqual(ranges.count, threads)
            XCTAssertEqual(ranges.first?.lowerBound, 0)
            XCTAssertEqual(ranges.last?.upperBound, 1003)
            for (left, right) in zip(ranges, ranges.dropFirst()) {
                XCTAssertEqual(left.upperBound, right.lowerBound)
                XCTAssertEqual(left.upperBound % 8, 0)
            }
        }
    }

    /// Elementwise kernels give the same bits whatever the number of threads.
    func testElementwiseKernelsAreIdenticalForAnyThreadCount() throws {
        let saved = BLASThreads.count
        defer { BLASThreads.set(saved) }
        let x = try Tensor(shape: [300, 301], values: (0..<90300).map { Float(($0 * 7919) % 1000) / 250 - 2 })
        let weight = try Tensor(shape: [301], values: (0..<301).map { 1 + Float($0) / 301 }), bias = Tensor(zeros: [301])
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            BLASThreads.set(threads)
            let y = Tensor(zeros: x.shape), dx = Tensor(zeros: x.shape), normalized = Tensor(zeros: x.shape)
            let mean = Tensor(zeros: [300]), rstd = Tensor(zeros: [300])
            try QuickGELU.forward(output: y, input: x)
            try QuickGELU.backward(inputGradient: dx, outputGradient: x, input: x)
            try LayerNorm.forward(output: normalized, mean: mean, reciprocalStd: rstd, input: x, weight: weight, bias: bias, epsilon: 1e-5)
            try LayerNorm.backward(inputGradient: dx, weightGradient: nil, biasGradient: nil, outputGradient: y, input: x, weight: weight,
                                   mean: mean, reciprocalStd: rstd)
            try Residual.forward(output: y, y, normalized)
            results.append(y.values + dx.values)
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }
}
