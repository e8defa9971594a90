import Foundation

/// A cohort as listed in a manifest CSV: one row per case.
///
/// Columns (header required, any order, extra columns ignored):
/// - `case_id` (required): unique, non-empty.
/// - `label` (required unless loaded with `requireLabels: false`): a class index `0…K-1`, or a class name equal to
///   one of `classes` (the class prompts, in order) or of `labelNames` — position in that list is the index.
/// - `image` (required): path of a PNG, JPEG, NIfTI (`.nii`, `.nii.gz`) or NPY file, relative to the CSV's folder
///   unless absolute.
/// - `slice` (optional): axial slice index `k` of a volume (0-based).
/// - `mask` (optional): path of a mask image or volume (non-zero = region of interest), relative like `image`.
/// - `fold` (optional): a precomputed test fold `0…K-1` (see `FoldAssignment(foldColumnOf:)`).
/// - `text` (optional): free text kept with the case.
///
/// Optional cells may be empty. Loading checks the table, the labels, unique ids and that every referenced file
/// exists and is a readable regular file; decoding the images is left to `CaseImageReader`.
public struct Manifest: Sendable {
    public struct Case: Sendable, Equatable {
        public let id: String
        /// Class index; nil only for an empty label cell in a manifest loaded with `requireLabels: false`.
        public let label: Int?
        public let image: URL
        public let slice: Int?
        public let mask: URL?
        public let fold: Int?
        public let text: String?
        /// 1-based data row (the header is not counted) and 1-based line in the file, for messages.
        public let row: Int
        public let line: Int
    }

    public let url: URL
    public let cases: [Case]
    /// True when the manifest has a `fold` column (then every case has a fold).
    public let hasFoldColumn: Bool

    /// Reads and validates the manifest at `url`.
    /// - Parameters:
    ///   - classes: class names in index order (in the CLI, the `--classes` prompts); a label cell equal to
    ///     `classes[i]` means class i, and numeric labels must be below `classes.count`. Empty: numeric labels only
    ///     (any index ≥ 0) unless `labelNames` are given.
    ///   - labelNames: further names per class index (e.g. `["non-responder", "responder"]`), matched like `classes`.
    ///   - requireLabels: false for cases to be predicted, whose `label` column may be absent or have empty cells.
    public init(contentsOf url: URL, classes: [String] = [], labelNames: [String] = [], requireLabels: Bool = true) throws {
        let table = try CSVTable(contentsOf: url)
        self.url = url
        let path = url.path
        let required = requireLabels ? ["case_id", "label", "image"] : ["case_id", "image"]
        for name in required where table.column(name) == nil {
            throw ManifestError(file: path, row: nil, line: nil,
                                problem: "missing column '\(name)' (header: \(table.header.joined(separator: ",")))")
        }
        if let duplicate = Dictionary(grouping: table.header, by: { $0 }).first(where: { !$0.key.isEmpty && $0.value.count > 1 })?.key {
            throw ManifestError(file: path, row: nil, line: nil, problem: "column '\(duplicate)' appears twice in the header")
        }
        if !classes.isEmpty, !labelNames.isEmpty, classes.count != labelNames.count {
            throw ManifestError(file: path, row: nil, line: nil,
                                problem: "\(labelNames.count) label names given for \(classes.count) classes")
        }
        let labels = LabelParser(classes: classes, labelNames: labelNames)
        let directory = url.deletingLastPathComponent()
        let idColumn = table.column("case_id")!, imageColumn = table.column("image")!
        let labelColumn = table.column("label"), sliceColumn = table.column("slice"), maskColumn = table.column("mask")
        let foldColumn = table.column("fold"), textColumn = table.column("text")

        var cases: [Case] = []
        var firstRow: [String: Int] = [:]
        for row in table.rows {
            func fail(_ problem: String) -> ManifestError {
                ManifestError(file: path, row: row.number, line: row.line, problem: problem)
            }
            func cell(_ column: Int?) -> String? {
                guard let column else { return nil }
                let value = row.fields[column].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? nil : value
            }
            func index(_ column: Int?, _ name: String) throws -> Int? {
                guard let text = cell(column) else { return nil }
                guard let value = Int(text), value >= 0 else { throw fail("\(name) '\(text)' is not an integer ≥ 0") }
                return value
            }
            func file(_ column: Int?, _ name: String) throws -> URL? {
                guard let text = cell(column) else { return nil }
                let file = text.hasPrefix("/") ? URL(fileURLWithPath: text) : directory.appendingPathComponent(text)
                if let problem = Self.fileProblem(file) { throw fail("\(name) '\(text)' \(problem) (\(file.path))") }
                return file
            }

            guard let id = cell(idColumn) else { throw fail("empty case_id") }
            if let first = firstRow[id] { throw fail("duplicate case_id '\(id)' (first on row \(first))") }
            firstRow[id] = row.number

            var label: Int?
            if let text = cell(labelColumn) {
                guard let parsed = labels.index(of: text) else { throw fail("unknown label '\(text)' (\(labels.expected))") }
                label = parsed
            } else if requireLabels {
                throw fail("empty label (\(labels.expected))")
            }
            guard let image = try file(imageColumn, "image") else { throw fail("empty image path") }
            let fold = try index(foldColumn, "fold")
            if foldColumn != nil, fold == nil { throw fail("empty fold (the fold column must be filled for every case)") }
            cases.append(Case(id: id, label: label, image: image, slice: try index(sliceColumn, "slice"),
                              mask: try file(maskColumn, "mask"), fold: fold, text: cell(textColumn),
                              row: row.number, line: row.line))
        }
        guard !cases.isEmpty else { throw ManifestError(file: path, row: nil, line: nil, problem: "has no cases") }
        self.cases = cases
        self.hasFoldColumn = foldColumn != nil
    }

    public var caseIDs: [String] { cases.map(\.id) }

    /// Every case's label. Only for manifests loaded with labels required (the default): an unlabeled case traps.
    public var labels: [Int] {
        cases.map { item in
            guard let label = item.label else { preconditionFailure("case \(item.id) has no label; load with requireLabels: true") }
            return label
        }
    }

    /// Why `file` cannot be used, or nil when it is a readable regular file.
    static func fileProblem(_ file: URL) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory) else { return "does not exist" }
        if isDirectory.boolValue { return "is a directory, not a file" }
        guard FileManager.default.isReadableFile(atPath: file.path) else { return "is not readable" }
        return nil
    }
}

/// Maps a label cell to a class index: a number, or a class name (prompt or label name) by its position.
struct LabelParser {
    let classes: [String]
    let labelNames: [String]

    var classCount: Int? { classes.isEmpty && labelNames.isEmpty ? nil : max(classes.count, labelNames.count) }

    func index(of text: String) -> Int? {
        if let number = Int(text) {
            guard number >= 0, number < (classCount ?? Int.max) else { return nil }
            return number
        }
        return classes.firstIndex(of: text) ?? labelNames.firstIndex(of: text)
    }

    var expected: String {
        guard let classCount else { return "expected a class index 0, 1, …" }
        let names = (classes + labelNames).map { "'\($0)'" }.joined(separator: ", ")
        return "expected 0…\(classCount - 1) or one of \(names)"
    }
}

/// A manifest that does not describe a usable cohort. Names the file and, for a row's problem, the 1-based data
/// row (header not counted) and the file line it starts on.
public struct ManifestError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let row: Int?
    public let line: Int?
    public let problem: String

    public var description: String {
        if let row, let line { return "\(file), row \(row) (line \(line)): \(problem)" }
        return "\(file): \(problem)"
    }
}
