import BLASCore
import Foundation

/// A reference set written by transformers + PEFT (ours under Fixtures/, or ../shared/fixtures/hf-clip-tiny0).
public struct ReferenceFixture {
    public let directory: URL
    public let reference: [String: Any]

    /// The repository's Tests/ directory and root (this file is Tests/TestSupport/ReferenceFixture.swift).
    public static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    public static let repositoryRoot = testsDirectory.deletingLastPathComponent()
    /// The reference set in ../shared beside the repository (present for developers and CI).
    public static let sharedTiny = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/hf-clip-tiny0")

    public init(directory: URL, file: String = "reference.json") throws {
        self.directory = directory
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        reference = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// A nested array of numbers flattened, with its shape.
    public func array(_ key: String) -> (shape: [Int], values: [Float]) {
        ReferenceFixture.flatten(value(key))
    }

    public func value(_ key: String) -> Any {
        var current: Any = reference
        for part in key.split(separator: ".") { current = (current as! [String: Any])[String(part)]! }
        return current
    }

    public func tensor(_ key: String) throws -> Tensor {
        let (shape, values) = array(key)
        return try Tensor(shape: shape, values: values)
    }

    public static func flatten(_ value: Any) -> (shape: [Int], values: [Float]) {
        if let number = value as? NSNumber { return ([], [number.floatValue]) }
        let items = value as! [Any]
        let parts = items.map(flatten)
        return ([items.count] + (parts.first?.shape ?? []), parts.flatMap(\.values))
    }
}

/// max |actual − expected| / max |expected|.
public func relativeError(_ actual: [Float], _ expected: [Float]) -> Double {
    precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) values")
    let scale = Double(expected.map { abs($0) }.max() ?? 0)
    let worst = zip(actual, expected).map { abs(Double($0) - Double($1)) }.max() ?? 0
    return scale == 0 ? worst : worst / scale
}

/// Deterministic test data in [−scale, scale).
public func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    let tensor = Tensor(zeros: shape)
    for i in 0..<tensor.count { tensor[i] = (generator.nextUniform() * 2 - 1) * scale }
    return tensor
}
