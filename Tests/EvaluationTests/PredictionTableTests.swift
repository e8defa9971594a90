import XCTest
@testable import Evaluation

final class PredictionTableTests: XCTestCase {
    func testReadsColumnsByNameWithBOMCRLFAndQuotes() throws {
        let csv = "\u{FEFF}score,\"case_id\",note,label,repeat,fold\r\n"
            + "0.9,\"a, the first\",\"said \"\"hi\"\"\",1,0,2\r\n"
            + "\r\n"
            + " 0.25 ,b,\"two\r\nlines\",0.0,1,0\r\n"
        let table = try PredictionTable(csv: csv, source: "p.csv")
        XCTAssertEqual(table.predictions, [
            try Prediction(caseID: "a, the first", label: 1, score: 0.9, fold: 2, repeat: 0),
            try Prediction(caseID: "b", label: 0, score: 0.25, fold: 0, repeat: 1),
        ])
    }

    func testWithoutFoldAndRepeatColumnsEverythingIsZero() throws {
        let table = try PredictionTable(csv: "case_id,label,score\nx,1,0.7\ny,0,0.2", source: "p.csv")
        XCTAssertEqual(table.predictions.map(\.fold), [0, 0])
        XCTAssertEqual(table.predictions.map(\.repeat), [0, 0])
    }

    func testEveryBadRowIsNamedByFileAndRow() {
        let header = "case_id,label,score,fold\n"
        let cases: [(String, String)] = [
            ("", "p.csv: empty file, expected a header case_id,label,score"),
            ("case_id,label\nx,1\n", "p.csv row 1: no 'score' column (header: case_id,label; needs case_id,label,score)"),
            ("case_id,label,score,score\n", "p.csv row 1: column 'score' appears 2 times"),
            (header, "p.csv: no rows after the header"),
            (header + "x,1,0.5,0\ny,0,0.4\n", "p.csv row 3: 3 fields, the header has 4"),
            (header + "x,1,0.5,0\n\ny,0,high,0\n", "p.csv row 4: score 'high' is not a finite number"),
            (header + "x,1,nan,0\n", "p.csv row 2: score 'nan' is not a finite number"),
            (header + "x,2,0.5,0\n", "p.csv row 2: label '2' is not 0 or 1"),
            (header + "x,,0.5,0\n", "p.csv row 2: label '' is not 0 or 1"),
            (header + "x,responder,0.5,0\n", "p.csv row 2: label 'responder' is not 0 or 1"),
            (header + "x,1,0.5,-1\n", "p.csv row 2: fold '-1' is not a non-negative integer"),
            (header + " ,1,0.5,0\n", "p.csv row 2: empty case_id"),
            (header + "\"x\ny\",1,0.5,0\n\"z,0,0.5,0\n", "p.csv row 4: a quoted field is never closed"),
        ]
        for (csv, message) in cases {
            XCTAssertThrowsError(try PredictionTable(csv: csv, source: "p.csv"), message) { error in
                XCTAssertEqual("\(error)", message)
            }
        }
    }

    func testUnreadableFileIsNamed() {
        XCTAssertThrowsError(try PredictionTable(contentsOf: URL(fileURLWithPath: "/nonexistent/p.csv"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("/nonexistent/p.csv: cannot be read"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }
}
