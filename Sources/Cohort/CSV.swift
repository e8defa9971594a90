import Foundation

/// A CSV file read whole: a header line, then data rows (RFC 4180).
///
/// Quoted fields may hold commas, line breaks and doubled quotes (`"a ""b"", c"`); a UTF-8 byte-order mark and
/// CRLF line ends are tolerated; blank lines are skipped. Every row must have as many fields as the header.
/// Rows keep the line they start on so later checks can point at them.
public struct CSVTable: Sendable {
    /// One data row: its fields, its 1-based position among the data rows, and the 1-based line it starts on.
    public struct Row: Sendable {
        public let fields: [String]
        public let number: Int
        public let line: Int
    }

    /// Where the text came from (a path), used in every error message.
    public let source: String
    public let header: [String]
    public let rows: [Row]

    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CSVError(source: url.path, line: nil, problem: "cannot be read (\(Self.reason(error)))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CSVError(source: url.path, line: nil, problem: "is not UTF-8 text")
        }
        try self.init(text: text, source: url.path)
    }

    public init(text: String, source: String) throws {
        self.source = source
        var records = try Self.records(in: text, source: source)
        guard !records.isEmpty else { throw CSVError(source: source, line: nil, problem: "is empty; expected a header line") }
        let header = records.removeFirst()
        self.header = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var rows: [Row] = []
        for record in records {
            guard record.fields.count == header.fields.count else {
                throw CSVError(source: source, line: record.line,
                               problem: "has \(record.fields.count) fields, the header has \(header.fields.count)")
            }
            rows.append(Row(fields: record.fields, number: rows.count + 1, line: record.line))
        }
        self.rows = rows
    }

    /// The index of the column named `name` (exact match after trimming spaces), or nil.
    public func column(_ name: String) -> Int? { header.firstIndex(of: name) }

    /// One CSV line (no line end) for `fields`, quoting those that need it.
    public static func line(_ fields: [String]) -> String {
        fields.map { field in
            guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
            return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",")
    }

    private struct Record { var fields: [String]; var line: Int }

    /// Splits `text` into records, honouring quotes. Works on Unicode scalars so CRLF stays two characters.
    private static func records(in text: String, source: String) throws -> [Record] {
        var scalars = Substring(text).unicodeScalars[...]
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        var records: [Record] = []
        var fields: [String] = []
        var field = String.UnicodeScalarView()
        var line = 1, recordLine = 1
        var inQuotes = false, wasQuoted = false, fieldHasContent = false
        var index = scalars.startIndex

        func endField() {
            fields.append(String(field))
            field = String.UnicodeScalarView()
            wasQuoted = false
            fieldHasContent = false
        }
        func endRecord() {
            endField()
            // A blank line is one empty unquoted field: skip it.
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(fields: fields, line: recordLine)) }
            fields = []
        }

        while index < scalars.endIndex {
            let scalar = scalars[index]
            index = scalars.index(after: index)
            if inQuotes {
                if scalar == "\"" {
                    if index < scalars.endIndex, scalars[index] == "\"" {
                        field.append("\"")
                        index = scalars.index(after: index)
                    } else {
                        inQuotes = false
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.append(scalar)
                }
                continue
            }
            switch scalar {
            case ",":
                endField()
            case "\r", "\n":
                if scalar == "\r", index < scalars.endIndex, scalars[index] == "\n" { index = scalars.index(after: index) }
                endRecord()
                line += 1
                recordLine = line
            case "\"":
                guard !fieldHasContent, !wasQuoted else {
                    throw CSVError(source: source, line: line, problem: "has a stray quote inside an unquoted field")
                }
                inQuotes = true
                wasQuoted = true
            default:
                guard !wasQuoted else {
                    throw CSVError(source: source, line: line, problem: "has text after a closing quote")
                }
                field.append(scalar)
                fieldHasContent = true
            }
        }
        if inQuotes { throw CSVError(source: source, line: recordLine, problem: "has a quoted field that is never closed") }
        if fieldHasContent || wasQuoted || !fields.isEmpty { endRecord() }
        return records
    }

    static func reason(_ error: Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }
}

/// A CSV file that cannot be parsed: names the file and, when known, the line.
public struct CSVError: Error, CustomStringConvertible, Equatable {
    public let source: String
    public let line: Int?
    public let problem: String

    public var description: String {
        if let line { return "\(source), line \(line): \(problem)" }
        return "\(source) \(problem)"
    }
}
