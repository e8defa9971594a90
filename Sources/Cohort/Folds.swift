import BLASCore
import Foundation

/// Which test fold every case belongs to, for each repeat of a K-fold cross-validation.
///
/// Cases are manifest indices `0..<caseCount`. In each repeat every case is in exactly one test fold, and every
/// fold `0..<foldCount` has at least one case. Made by `stratified(labels:…)`, or taken from a manifest's `fold`
/// column or a folds file (see FoldsFile.swift) so splits made elsewhere are reused exactly.
public struct FoldAssignment: Sendable, Equatable {
    public let foldCount: Int
    /// `testFolds[repeat][case]`.
    private let testFolds: [[Int]]

    public var repeatCount: Int { testFolds.count }
    public var caseCount: Int { testFolds.first?.count ?? 0 }

    /// Folds given per repeat as `testFolds[repeat][case]`. Every repeat must cover the same cases, and every fold
    /// `0..<foldCount` (default: the largest fold + 1) must be used in every repeat.
    public init(testFolds: [[Int]], foldCount: Int? = nil) throws {
        guard let first = testFolds.first, !first.isEmpty else { throw FoldError(file: nil, problem: "no cases to assign to folds") }
        let count = foldCount ?? ((testFolds.flatMap { $0 }.max() ?? 0) + 1)
        guard count >= 2 else { throw FoldError(file: nil, problem: "cross-validation needs at least 2 folds, got \(count)") }
        for (r, folds) in testFolds.enumerated() {
            guard folds.count == first.count else {
                throw FoldError(file: nil, problem: "repeat \(r) assigns \(folds.count) cases, repeat 0 assigns \(first.count)")
            }
            if let bad = folds.first(where: { $0 < 0 || $0 >= count }) {
                throw FoldError(file: nil, problem: "fold \(bad) in repeat \(r) is outside 0…\(count - 1)")
            }
            let used = Set(folds)
            if let empty = (0..<count).first(where: { !used.contains($0) }) {
                throw FoldError(file: nil, problem: "fold \(empty) of repeat \(r) has no cases (folds must be numbered 0…\(count - 1))")
            }
        }
        self.foldCount = count
        self.testFolds = testFolds
    }

    /// Stratified K-fold, repeated `repeats` times with independent shuffles.
    ///
    /// Repeat r draws from `SeededGenerator(seed: seed, stream: "folds", "repeat=r")`: each class's cases (in
    /// label order 0, 1, …) are shuffled (Fisher–Yates) and dealt round-robin to the folds, the deal continuing
    /// where the previous class stopped. So each fold holds ⌊n_c/K⌋ or ⌈n_c/K⌉ cases of every class c (within 1 of
    /// proportional), and fold sizes differ by at most 1.
    /// - Throws: `FoldError` when a class has fewer cases than folds (naming the class and every class's count).
    public static func stratified(labels: [Int], folds: Int, repeats: Int = 1, seed: UInt64) throws -> FoldAssignment {
        guard folds >= 2 else { throw FoldError(file: nil, problem: "cross-validation needs at least 2 folds, got \(folds)") }
        guard repeats >= 1 else { throw FoldError(file: nil, problem: "the number of repeats must be ≥ 1, got \(repeats)") }
        if let negative = labels.first(where: { $0 < 0 }) { throw FoldError(file: nil, problem: "label \(negative) is negative") }
        let byClass = Dictionary(grouping: labels.indices, by: { labels[$0] })
        let classes = byClass.keys.sorted()
        let counts = classes.map { "class \($0): \(byClass[$0]!.count)" }.joined(separator: ", ")
        for label in classes where byClass[label]!.count < folds {
            throw FoldError(file: nil, problem: "cannot make \(folds) stratified folds: class \(label) has only \(byClass[label]!.count) case\(byClass[label]!.count == 1 ? "" : "s") (\(counts))")
        }
        var assignment: [[Int]] = []
        for r in 0..<repeats {
            var generator = SeededGenerator(seed: seed, stream: "folds", "repeat=\(r)")
            var caseFolds = [Int](repeating: 0, count: labels.count)
            var next = 0
            for label in classes {
                var members = byClass[label]!  // ascending case order, so the shuffle alone decides
                for i in stride(from: members.count - 1, to: 0, by: -1) {
                    members.swapAt(i, randomIndex(below: i + 1, using: &generator))
                }
                for member in members {
                    caseFolds[member] = next
                    next = (next + 1) % folds
                }
            }
            assignment.append(caseFolds)
        }
        return try FoldAssignment(testFolds: assignment, foldCount: folds)
    }

    /// Stratified folds of a manifest's labeled cases; errors name the manifest.
    public static func stratified(_ manifest: Manifest, folds: Int, repeats: Int = 1, seed: UInt64) throws -> FoldAssignment {
        do {
            return try stratified(labels: manifest.labels, folds: folds, repeats: repeats, seed: seed)
        } catch let error as FoldError {
            throw FoldError(file: manifest.url.path, problem: error.problem)
        }
    }

    /// The test fold of case `index` (a manifest index) in repeat `r`.
    public func testFold(case index: Int, repeat r: Int = 0) -> Int { testFolds[r][index] }

    /// The training and test cases (ascending manifest indices) of one fold of one repeat.
    public func split(repeat r: Int, fold: Int) -> FoldSplit {
        precondition(fold >= 0 && fold < foldCount, "fold \(fold) of \(foldCount)")
        var train: [Int] = [], test: [Int] = []
        for (index, testFold) in testFolds[r].enumerated() {
            if testFold == fold { test.append(index) } else { train.append(index) }
        }
        return FoldSplit(repeat: r, fold: fold, train: train, test: test)
    }

    /// Every (repeat, fold) split, repeat-major.
    public var splits: [FoldSplit] {
        (0..<repeatCount).flatMap { r in (0..<foldCount).map { split(repeat: r, fold: $0) } }
    }

    /// Uniform in `0..<bound` without modulo bias (Lemire's multiply-shift with rejection): written out here rather
    /// than `Int.random(in:using:)` so folds cannot change with the standard library's implementation.
    private static func randomIndex(below bound: Int, using generator: inout SeededGenerator) -> Int {
        let range = UInt64(bound)
        var (high, low) = generator.next().multipliedFullWidth(by: range)
        if low < range {
            let threshold = (0 &- range) % range
            while low < threshold { (high, low) = generator.next().multipliedFullWidth(by: range) }
        }
        return Int(high)
    }
}

/// One fold of one repeat: the cases to train on and the cases to score.
public struct FoldSplit: Sendable, Equatable {
    public let `repeat`: Int
    public let fold: Int
    public let train: [Int]
    public let test: [Int]
}

/// Folds that cannot be made or reused: names the file (manifest or folds file) when there is one, and the row.
public struct FoldError: Error, CustomStringConvertible, Equatable {
    public let file: String?
    public let problem: String

    public var description: String { file.map { "\($0): \(problem)" } ?? problem }
}
