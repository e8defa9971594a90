import XCTest
@testable import Cohort

final class CSVTests: XCTestCase {
    func testQuotedFieldsHoldCommasQuotesAndLineBreaks() throws {
        let text = "a,b,c\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\nplain,,\"\"\n"
        let table = try CSVTable(text: text, source: "t.csv")
        XCTAssertEqual(table.header, ["a", "b", "c"])
        XCTAssertEqual(table.rows.map(\.fields), [["x, y", "say \"hi\"", "two\nlines"], ["plain", "", ""]])
        XCTAssertEqual(table.rows.map(\.number), [1, 2])
        XCTAssertEqual(table.rows.map(\.line), [2, 4], "the quoted line break moves the next row to line 4")
    }

    func testBOMCRLFBlankLinesAndNoFinalNewline() throws {
        let text = "\u{FEFF}case_id,label\r\n\r\nP1,1\r\nP2,0"
        let table = try CSVTable(text: text, source: "t.csv")
        XCTAssertEqual(table.header, ["case_id", "label"], "the BOM is not part of the first column name")
        XCTAssertEqual(table.rows.map(\.fields), [["P1", "1"], ["P2", "0"]])
        XCTAssertEqual(table.rows.map(\.line), [3, 4])
    }

    func testLineQuotesOnlyWhatNeedsIt() throws {
        let fields = ["plain", "a,b", "say \"x\"", "two\nlines", ""]
        XCTAssertEqual(CSVTable.line(fields), "plain,\"a,b\",\"say \"\"x\"\"\",\"two\nlines\",")
        let table = try CSVTable(text: "1,2,3,4,5\n" + CSVTable.line(fields) + "\n", source: "t.csv")
        XCTAssertEqual(table.rows.first?.fields, fields)
    }

    func testWrongFieldCountNamesTheLine() {
        assertThrows(CSVError.self, ["t.csv, line 3", "has 3 fields, the header has 2"]) {
            try CSVTable(text: "a,b\n1,2\n1,2,3\n", source: "t.csv")
        }
    }

    func testUnclosedQuoteNamesWhereTheFieldStarts() {
        assertThrows(CSVError.self, ["t.csv, line 2", "never closed"]) {
            try CSVTable(text: "a,b\n\"open,2\n3,4\n", source: "t.csv")
        }
    }

    func testStrayQuotesAreErrors() {
        assertThrows(CSVError.self, ["line 2", "stray quote"]) { try CSVTable(text: "a\nab\"c\n", source: "t.csv") }
        assertThrows(CSVError.self, ["line 2", "after a closing quote"]) { try CSVTable(text: "a\n\"ab\"c\n", source: "t.csv") }
    }

    func testEmptyFileNeedsAHeader() {
        assertThrows(CSVError.self, ["t.csv is empty; expected a header line"]) { try CSVTable(text: "\u{FEFF}\r\n", source: "t.csv") }
    }

    func testMissingFileAndNonUTF8() throws {
        let scratch = try ScratchFolder()
        assertThrows(CSVError.self, [scratch.file("none.csv").path, "cannot be read"]) {
            try CSVTable(contentsOf: scratch.file("none.csv"))
        }
        let latin1 = try scratch.write("latin1.csv", bytes: Data([0x61, 0x0A, 0xE9, 0xFF, 0x0A]))
        assertThrows(CSVError.self, [latin1.path, "not UTF-8"]) { try CSVTable(contentsOf: latin1) }
    }
}
