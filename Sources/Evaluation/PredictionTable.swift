import Foundation

/// Predictions read from a CSV file with a header naming the columns `case_id,label,score` and optionally `fold`
/// and `repeat` (any order; other columns ignored; fold and repeat 0 when absent). Quoted fields, a UTF-8 byte
/// order mark and CRLF line ends are accepted. Rows are numbered as the file's lines, the header being row 1.
public struct PredictionTable: Sendable {
    public let predictions: [Prediction]

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EvaluationError("\(url.path): cannot be read (\(error.localizedDescription))")
        }
        try self.init(csv: String(decoding: data, as: UTF8.self), source: url.path)
    }

    /// `source` names the text in errors, e.g. the file's path.
    public init(csv text: String, source: String) throws {
        func failure(_ row: Int, _ problem: String) -> EvaluationError { EvaluationError("\(source) row \(row): \(problem)") }
        let records = try csvRecords(text, failure: failure)
        guard let header = records.first else { throw EvaluationError("\(source): empty file, expected a header case_id,label,score") }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        func column(_ name: String, required: Bool) throws -> Int? {
            let matches = names.indices.filter { names[$0] == name }
            guard matches.count <= 1 else { throw failure(header.row, "column '\(name)' appears \(matches.count) times") }
            if required && matches.isEmpty {
                throw failure(header.row, "no '\(name)' column (header: \(names.joined(separator: ",")); needs case_id,label,score)")
            }
            return matches.first
        }
        let caseColumn = try column("case_id", required: true)!, labelColumn = try column("label", required: true)!
        let scoreColumn = try column("score", required: true)!
        let foldColumn = try column("fold", required: false), repeatColumn = try column("repeat", required: false)

        var predictions: [Prediction] = []
        for record in records.dropFirst() {
            guard record.fields.count == names.count else {
                throw failure(record.row, "\(record.fields.count) fields, the header has \(names.count)")
            }
            func value(_ column: Int) -> String { record.fields[column].trimmingCharacters(in: .whitespaces) }
            func index(_ column: Int?, _ name: String) throws -> Int {
                guard let column else { return 0 }
                guard let number = Int(value(column)), number >= 0 else {
                    throw failure(record.row, "\(name) '\(value(column))' is not a non-negative integer")
                }
                return number
            }
            let caseID = value(caseColumn)
            guard !caseID.isEmpty else { throw failure(record.row, "empty case_id") }
            // 0/1 also when written as floats (1.0), as pandas does for a column with gaps.
            guard let label = Double(value(labelColumn)), label == 0 || label == 1 else {
                throw failure(record.row, "label '\(value(labelColumn))' is not 0 or 1")
            }
            guard let score = Double(value(scoreColumn)), score.isFinite else {
                throw failure(record.row, "score '\(value(scoreColumn))' is not a finite number")
            }
            predictions.append(try Prediction(caseID: caseID, label: Int(label), score: score,
                                              fold: try index(foldColumn, "fold"), repeat: try index(repeatColumn, "repeat")))
        }
        guard !predictions.isEmpty else { throw EvaluationError("\(source): no rows after the header") }
        self.predictions = predictions
    }
}

/// The records of CSV text (RFC 4180: quoted fields may hold commas, newlines and doubled quotes), each with the
/// line it starts on. A leading byte order mark is dropped; blank lines are skipped.
func csvRecords(_ text: String, failure: (Int, String) -> EvaluationError) throws -> [(row: Int, fields: [String])] {
    var records: [(row: Int, fields: [String])] = []
    var fields: [String] = [], field: [UInt8] = []
    var line = 1, recordLine = 1, quoted = false, quoteLine = 1
    var bytes = Array(text.utf8)[...]
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
    func endRecord() {
        fields.append(String(decoding: field, as: UTF8.self))
        field = []
        if fields.count > 1 || !fields[0].trimmingCharacters(in: .whitespaces).isEmpty { records.append((recordLine, fields)) }
        fields = []
    }
    var index = bytes.startIndex
    while index < bytes.endIndex {
        let byte = bytes[index]
        index += 1
        if quoted {
            if byte == UInt8(ascii: "\"") {
                if index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") { field.append(byte); index += 1 } else { quoted = false }
            } else {
                if byte == UInt8(ascii: "\n") { line += 1 }
                field.append(byte)
            }
            continue
        }
        switch byte {
        case UInt8(ascii: "\""):
            quoted = true
            quoteLine = line
        case UInt8(ascii: ","):
            fields.append(String(decoding: field, as: UTF8.self))
            field = []
        case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
            if byte == UInt8(ascii: "\r"), index < bytes.endIndex, bytes[index] == UInt8(ascii: "\n") { index += 1 }
            endRecord()
            line += 1
            recordLine = line
        default:
            field.append(byte)
        }
    }
    guard !quoted else { throw failure(quoteLine, "a quoted field is never closed") }
    if !field.isEmpty || !fields.isEmpty { endRecord() }
    return records
}
