import Foundation

/// Folds reused from elsewhere: a manifest's `fold` column, or a folds file (`case_id,fold[,repeat]`, e.g. written by
/// `clipcv folds` or from scikit-learn's `StratifiedKFold`), and the folds file writer.
extension FoldAssignment {
    /// The folds of the manifest's `fold` column (one repeat; K = the largest fold + 1, every fold used).
    public init(foldColumnOf manifest: Manifest) throws {
        let folds = manifest.cases.map(\.fold)
        guard manifest.hasFoldColumn, folds.allSatisfy({ $0 != nil }) else {
            throw FoldError(file: manifest.url.path, problem: "has no fold column")
        }
        do {
            try self.init(testFolds: [folds.map { $0! }])
        } catch let error as FoldError {
            throw FoldError(file: manifest.url.path, problem: "fold column: \(error.problem)")
        }
    }

    /// Reads a folds file. Columns (header required): `case_id`, `fold`, optional `repeat` (0 when absent) and
    /// optional `label` (checked against `labels` when both are given); others are ignored. Every case of
    /// `caseIDs` must have exactly one fold in every repeat, and nothing else may be listed.
    public init(contentsOf url: URL, caseIDs: [String], labels: [Int]? = nil) throws {
        let table = try CSVTable(contentsOf: url)
        let path = url.path
        for name in ["case_id", "fold"] where table.column(name) == nil {
            throw FoldError(file: path, problem: "missing column '\(name)' (header: \(table.header.joined(separator: ",")))")
        }
        let idColumn = table.column("case_id")!, foldColumn = table.column("fold")!
        let repeatColumn = table.column("repeat"), labelColumn = table.column("label")
        let caseIndex = Dictionary(caseIDs.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })

        var folds: [Int: [Int?]] = [:]  // repeat → fold per case
        for row in table.rows {
            func fail(_ problem: String) -> FoldError {
                FoldError(file: path, problem: "row \(row.number) (line \(row.line)): \(problem)")
            }
            func number(_ column: Int, _ name: String) throws -> Int {
                let text = row.fields[column].trimmingCharacters(in: .whitespaces)
                guard let value = Int(text), value >= 0 else { throw fail("\(name) '\(text)' is not an integer ≥ 0") }
                return value
            }
            let id = row.fields[idColumn].trimmingCharacters(in: .whitespaces)
            guard let index = caseIndex[id] else { throw fail("case_id '\(id)' is not in the manifest") }
            let fold = try number(foldColumn, "fold")
            let r = try repeatColumn.map { try number($0, "repeat") } ?? 0
            if let labelColumn, let labels {
                let text = row.fields[labelColumn].trimmingCharacters(in: .whitespaces)
                guard Int(text) == labels[index] else {
                    throw fail("label '\(text)' of case '\(id)' differs from the manifest's \(labels[index])")
                }
            }
            if let previous = folds[r]?[index] ?? nil {
                throw fail("case '\(id)' is listed twice in repeat \(r) (folds \(previous) and \(fold))")
            }
            folds[r, default: [Int?](repeating: nil, count: caseIDs.count)][index] = fold
        }
        let repeats = folds.keys.sorted()
        guard !repeats.isEmpty else { throw FoldError(file: path, problem: "lists no cases") }
        if let gap = (0..<repeats.count).first(where: { !folds.keys.contains($0) }) {
            throw FoldError(file: path, problem: "repeat \(gap) is missing (repeats must be numbered 0…\(repeats.last!))")
        }
        var testFolds: [[Int]] = []
        for r in repeats {
            let perCase = folds[r]!
            if let missing = perCase.firstIndex(where: { $0 == nil }) {
                throw FoldError(file: path, problem: "case '\(caseIDs[missing])' has no fold in repeat \(r)")
            }
            testFolds.append(perCase.map { $0! })
        }
        do {
            try self.init(testFolds: testFolds)
        } catch let error as FoldError {
            throw FoldError(file: path, problem: error.problem)
        }
    }

    /// Reads a folds file for the cases of `manifest` (labels checked when the manifest has them all).
    public init(contentsOf url: URL, manifest: Manifest) throws {
        let labels = manifest.cases.allSatisfy { $0.label != nil } ? manifest.labels : nil
        try self.init(contentsOf: url, caseIDs: manifest.caseIDs, labels: labels)
    }

    /// The folds a job uses: the folds file when given, else the manifest's fold column when it has one, else
    /// stratified folds. `folds` and `repeats` (nil: 5 and 1) must agree with reused folds when given.
    public static func resolve(for manifest: Manifest, folds: Int?, repeats: Int?, seed: UInt64,
                               file: URL? = nil) throws -> FoldAssignment {
        let reused: FoldAssignment, source: String
        if let file {
            reused = try FoldAssignment(contentsOf: file, manifest: manifest)
            source = "folds file \(file.path)"
        } else if manifest.hasFoldColumn {
            reused = try FoldAssignment(foldColumnOf: manifest)
            source = "fold column of \(manifest.url.path)"
        } else {
            return try stratified(manifest, folds: folds ?? 5, repeats: repeats ?? 1, seed: seed)
        }
        if let folds, folds != reused.foldCount {
            throw FoldError(file: nil, problem: "the \(source) has \(reused.foldCount) folds, but \(folds) were asked for")
        }
        if let repeats, repeats != reused.repeatCount {
            throw FoldError(file: nil, problem: "the \(source) has \(reused.repeatCount) repeat\(reused.repeatCount == 1 ? "" : "s"), but \(repeats) were asked for")
        }
        return reused
    }

    /// The folds as CSV text, `case_id,label,repeat,fold`, one row per case and repeat (repeat-major, manifest
    /// order), readable back by `init(contentsOf:caseIDs:labels:)`.
    public func csv(caseIDs: [String], labels: [Int]) -> String {
        precondition(caseIDs.count == caseCount && labels.count == caseCount, "one id and label per case")
        var text = "case_id,label,repeat,fold\n"
        for r in 0..<repeatCount {
            for index in 0..<caseCount {
                text += CSVTable.line([caseIDs[index], String(labels[index]), String(r), String(testFold(case: index, repeat: r))]) + "\n"
            }
        }
        return text
    }
}
