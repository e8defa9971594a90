import XCTest
@testable import Cohort

final class ManifestTests: XCTestCase {
    let classes = ["a CT of a non-responder", "a CT of a responder"]

    /// A folder with a few image files (contents are not decoded by the manifest).
    func cohort() throws -> ScratchFolder {
        let scratch = try ScratchFolder()
        for name in ["img/p1.png", "img/p2.png", "img/p3.nii.gz", "img/m3.nii.gz", "img/with, comma.png"] {
            try scratch.write(name, "x")
        }
        return scratch
    }

    func testReadsEveryColumnWithPathsRelativeToTheCSV() throws {
        let scratch = try cohort()
        let absolute = scratch.file("img/p2.png").path
        let csv = try scratch.write("m.csv", #"""
        \#u{FEFF}text,case_id,image,label,slice,mask,fold,site\#r
        "first, with ""quotes""",P1,img/p1.png,1,,,0,A\#r
        ,P2,\#(absolute),a CT of a non-responder,,,1,B\#r
        ,P3,img/p3.nii.gz,0,7,img/m3.nii.gz,0,C\#r
        ,P4,"img/with, comma.png",responder,,,1,D\#r

        """#)
        let manifest = try Manifest(contentsOf: csv, classes: classes, labelNames: ["non-responder", "responder"])
        XCTAssertEqual(manifest.caseIDs, ["P1", "P2", "P3", "P4"])
        XCTAssertEqual(manifest.labels, [1, 0, 0, 1])
        XCTAssertEqual(manifest.cases[0].image.path, scratch.file("img/p1.png").path)
        XCTAssertEqual(manifest.cases[1].image.path, absolute)
        XCTAssertEqual(manifest.cases[3].image.lastPathComponent, "with, comma.png")
        XCTAssertEqual(manifest.cases[0].text, "first, with \"quotes\"")
        XCTAssertNil(manifest.cases[1].text)
        XCTAssertEqual(manifest.cases[2].slice, 7)
        XCTAssertEqual(manifest.cases[2].mask?.path, scratch.file("img/m3.nii.gz").path)
        XCTAssertNil(manifest.cases[0].mask)
        XCTAssertEqual(manifest.cases.map(\.fold), [0, 1, 0, 1])
        XCTAssertTrue(manifest.hasFoldColumn)
        XCTAssertEqual(manifest.cases.map(\.row), [1, 2, 3, 4])
    }

    func testNumericLabelsWithoutClassesAndUnlabeledCases() throws {
        let scratch = try cohort()
        let numeric = try scratch.write("n.csv", "case_id,label,image\nP1,2,img/p1.png\nP2,0,img/p2.png\n")
        XCTAssertEqual(try Manifest(contentsOf: numeric).labels, [2, 0])
        XCTAssertFalse(try Manifest(contentsOf: numeric).hasFoldColumn)

        let unlabeled = try scratch.write("u.csv", "case_id,image,label\nP1,img/p1.png,\nP2,img/p2.png,1\n")
        let manifest = try Manifest(contentsOf: unlabeled, classes: classes, requireLabels: false)
        XCTAssertEqual(manifest.cases.map(\.label), [nil, 1])
        let noLabelColumn = try scratch.write("v.csv", "case_id,image\nP1,img/p1.png\n")
        XCTAssertEqual(try Manifest(contentsOf: noLabelColumn, requireLabels: false).cases.first?.label, nil)
    }

    // MARK: every validation error names the file, the row and line, and the problem

    func testMissingColumn() throws {
        let scratch = try cohort()
        let csv = try scratch.write("m.csv", "case_id,image\nP1,img/p1.png\n")
        assertThrows(ManifestError.self, [csv.path, "missing column 'label'", "header: case_id,image"]) {
            try Manifest(contentsOf: csv)
        }
    }

    func testMissingImageFile() throws {
        let scratch = try cohort()
        let csv = try scratch.write("m.csv", "case_id,label,image\nP1,1,img/p1.png\nP2,0,img/gone.png\n")
        assertThrows(ManifestError.self, [csv.path, "row 2 (line 3)", "image 'img/gone.png' does not exist", scratch.file("img/gone.png").path]) {
            try Manifest(contentsOf: csv)
        }
    }

    func testMissingMaskFile() throws {
        let scratch = try cohort()
        let csv = try scratch.write("m.csv", "case_id,label,image,mask\nP1,1,img/p3.nii.gz,img/nomask.nii.gz\n")
        assertThrows(ManifestError.self, [csv.path, "row 1 (line 2)", "mask 'img/nomask.nii.gz' does not exist"]) {
            try Manifest(contentsOf: csv)
        }
    }

    func testUnreadableFile() throws {
        // A directory where a file should be (chmod cannot make a file unreadable to root, who runs CI).
        let scratch = try cohort()
        try FileManager.default.createDirectory(at: scratch.file("img/folder.png"), withIntermediateDirectories: true)
        let csv = try scratch.write("m.csv", "case_id,label,image\nP1,1,img/folder.png\n")
        assertThrows(ManifestError.self, [csv.path, "row 1 (line 2)", "image 'img/folder.png' is a directory, not a file"]) {
            try Manifest(contentsOf: csv)
        }
        if getuid() != 0 {
            let locked = try scratch.write("img/locked.png", "x")
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: locked.path)
            let csv2 = try scratch.write("m2.csv", "case_id,label,image\nP1,1,img/locked.png\n")
            assertThrows(ManifestError.self, ["row 1 (line 2)", "is not readable"]) { try Manifest(contentsOf: csv2) }
        }
    }

    func testUnknownLabel() throws {
        let scratch = try cohort()
        let named = try scratch.write("m.csv", "case_id,label,image\nP1,1,img/p1.png\nP2,a CT of a dog,img/p2.png\n")
        assertThrows(ManifestError.self, [named.path, "row 2 (line 3)", "unknown label 'a CT of a dog'", "expected 0…1 or one of 'a CT of a non-responder'"]) {
            try Manifest(contentsOf: named, classes: classes)
        }
        let outOfRange = try scratch.write("r.csv", "case_id,label,image\nP1,2,img/p1.png\n")
        assertThrows(ManifestError.self, ["row 1 (line 2)", "unknown label '2'"]) { try Manifest(contentsOf: outOfRange, classes: classes) }
        assertThrows(ManifestError.self, ["unknown label 'responder'", "expected a class index"]) {
            try Manifest(contentsOf: try scratch.write("s.csv", "case_id,label,image\nP1,responder,img/p1.png\n"))
        }
        assertThrows(ManifestError.self, ["row 1 (line 2)", "empty label"]) {
            try Manifest(contentsOf: try scratch.write("e.csv", "case_id,label,image\nP1,,img/p1.png\n"))
        }
    }

    func testDuplicateCaseID() throws {
        let scratch = try cohort()
        let csv = try scratch.write("m.csv", "case_id,label,image\nP1,1,img/p1.png\nP2,0,img/p2.png\n\"P1\",0,img/p2.png\n")
        assertThrows(ManifestError.self, [csv.path, "row 3 (line 4)", "duplicate case_id 'P1' (first on row 1)"]) {
            try Manifest(contentsOf: csv)
        }
    }

    func testMalformedCells() throws {
        let scratch = try cohort()
        assertThrows(ManifestError.self, ["row 1 (line 2)", "slice 'two' is not an integer ≥ 0"]) {
            try Manifest(contentsOf: try scratch.write("a.csv", "case_id,label,image,slice\nP1,1,img/p3.nii.gz,two\n"))
        }
        assertThrows(ManifestError.self, ["row 1 (line 2)", "fold '-1' is not an integer ≥ 0"]) {
            try Manifest(contentsOf: try scratch.write("b.csv", "case_id,label,image,fold\nP1,1,img/p1.png,-1\n"))
        }
        assertThrows(ManifestError.self, ["row 2 (line 3)", "empty fold"]) {
            try Manifest(contentsOf: try scratch.write("c.csv", "case_id,label,image,fold\nP1,1,img/p1.png,0\nP2,1,img/p2.png,\n"))
        }
        assertThrows(ManifestError.self, ["row 1 (line 2)", "empty case_id"]) {
            try Manifest(contentsOf: try scratch.write("d.csv", "case_id,label,image\n ,1,img/p1.png\n"))
        }
        assertThrows(ManifestError.self, ["row 1 (line 2)", "empty image path"]) {
            try Manifest(contentsOf: try scratch.write("e.csv", "case_id,label,image\nP1,1,\n"))
        }
        assertThrows(ManifestError.self, ["column 'label' appears twice"]) {
            try Manifest(contentsOf: try scratch.write("f.csv", "case_id,label,image,label\nP1,1,img/p1.png,0\n"))
        }
        assertThrows(ManifestError.self, ["g.csv: has no cases"]) {
            try Manifest(contentsOf: try scratch.write("g.csv", "case_id,label,image\n"))
        }
        assertThrows(ManifestError.self, ["3 label names given for 2 classes"]) {
            try Manifest(contentsOf: try scratch.write("h.csv", "case_id,label,image\nP1,1,img/p1.png\n"),
                         classes: classes, labelNames: ["a", "b", "c"])
        }
    }

    func testCSVSyntaxErrorsNameTheLine() throws {
        let scratch = try cohort()
        let csv = try scratch.write("m.csv", "case_id,label,image\nP1,1,img/p1.png,extra\n")
        assertThrows(CSVError.self, [csv.path, "line 2", "has 4 fields, the header has 3"]) { try Manifest(contentsOf: csv) }
    }
}
