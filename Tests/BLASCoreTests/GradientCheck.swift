import XCTest
@testable import BLASCore

/// Deterministic test data.
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    let tensor = Tensor(zeros: shape)
    for i in 0..<tensor.count { tensor[i] = (generator.nextUniform() * 2 - 1) * scale }
    return tensor
}

/// Σ output ⊙ projection in Double: a scalar loss whose gradient with respect to `output` is `projection`.
func project(_ output: Tensor, _ projection: Tensor) -> Double {
    (0..<output.count).reduce(0.0) { $0 + Double(output[$1]) * Double(projection[$1]) }
}

/// Compares analytic gradients with central finite differences of `loss` for every element of every input.
/// Relative error = max |analytic − numeric| / max |numeric| per input, which must stay ≤ `tolerance`.
func assertGradientsMatch(inputs: [(name: String, tensor: Tensor, gradient: Tensor)], step: Float = 1e-2,
                          tolerance: Double = 1e-3, file: StaticString = #filePath, line: UInt = #line,
                          loss: () throws -> Double) rethrows {
    for (name, tensor, gradient) in inputs {
        var worstDifference = 0.0, largest = 0.0
        for i in 0..<tensor.count {
            let saved = tensor[i]
            tensor[i] = saved + step
            let plus = try loss()
            tensor[i] = saved - step
            let minus = try loss()
            tensor[i] = saved
            let numeric = (plus - minus) / (2 * Double(step))
            worstDifference = max(worstDifference, abs(numeric - Double(gradient[i])))
            largest = max(largest, abs(numeric))
        }
        XCTAssertGreaterThan(largest, 0, "\(name): gradient is identically zero, the check proves nothing", file: file, line: line)
        XCTAssertLessThanOrEqual(worstDifference / largest, tolerance, "\(name): relative error \(worstDifference / largest)", file: file, line: line)
    }
}

func assertClose(_ actual: Tensor, _ expected: [Double], tolerance: Double = 1e-5, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
    let scale = max(expected.map(abs).max() ?? 0, 1e-30)
    let worst = zip(actual.values, expected).map { abs(Double($0) - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst / scale, tolerance, "\(message): max relative difference \(worst / scale)", file: file, line: line)
}
