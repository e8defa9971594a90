import XCTest
@testable import Cohort

final class FoldsTests: XCTestCase {
    /// 124 responders and 58 non-responders, interleaved like a real cohort listing.
    let cohort: [Int] = (0..<182).map { ($0 * 58) % 182 < 124 ? 1 : 0 }

    func testEveryCaseIsTestedExactlyOncePerRepeat() throws {
        let folds = try FoldAssignment.stratified(labels: cohort, folds: 5, repeats: 3, seed: 42)
        XCTAssertEqual(folds.foldCount, 5)
        XCTAssertEqual(folds.repeatCount, 3)
        XCTAssertEqual(folds.caseCount, 182)
        for r in 0..<3 {
            let splits = (0..<5).map { folds.split(repeat: r, fold: $0) }
            XCTAssertEqual(splits.flatMap(\.test).sorted(), Array(0..<182))
            for split in splits {
                XCTAssertEqual(Set(split.train).union(split.test), Set(0..<182))
                XCTAssertTrue(Set(split.train).isDisjoint(with: split.test))
                XCTAssertEqual(split.train, split.train.sorted())
                XCTAssertTrue(split.test.allSatisfy { folds.testFold(case: $0, repeat: r) == split.fold })
            }
        }
        XCTAssertEqual(folds.splits.map { [$0.repeat, $0.fold] }, (0..<3).flatMap { r in (0..<5).map { [r, $0] } })
    }

    func testClassCountsWithinOneOfProportional() throws {
        for (labels, k) in [(cohort, 5), (cohort, 7), ([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2], 3)] {
            let folds = try FoldAssignment.stratified(labels: labels, folds: k, repeats: 4, seed: 7)
            for split in folds.splits {
                for label in Set(labels) {
                    let total = labels.filter { $0 == label }.count
                    let inFold = split.test.filter { labels[$0] == label }.count
                    XCTAssertLessThan(abs(Double(inFold) - Double(total) / Double(k)), 1, "class \(label), \(split)")
                }
                XCTAssertLessThanOrEqual(abs(split.test.count * k - labels.count), k, "fold sizes differ by at most 1")
            }
        }
    }

    func testDeterministicPerSeedAndRepeatsDiffer() throws {
        let a = try FoldAssignment.stratified(labels: cohort, folds: 5, repeats: 2, seed: 42)
        XCTAssertEqual(a, try FoldAssignment.stratified(labels: cohort, folds: 5, repeats: 2, seed: 42))
        XCTAssertNotEqual(a, try FoldAssignment.stratified(labels: cohort, folds: 5, repeats: 2, seed: 43))
        let repeat0 = (0..<182).map { a.testFold(case: $0, repeat: 0) }, repeat1 = (0..<182).map { a.testFold(case: $0, repeat: 1) }
        XCTAssertNotEqual(repeat0, repeat1)
        // Repeat r depends only on (seed, r): asking for more repeats does not change the earlier ones.
        let longer = try FoldAssignment.stratified(labels: cohort, folds: 5, repeats: 3, seed: 42)
        XCTAssertEqual((0..<182).map { longer.testFold(case: $0, repeat: 1) }, repeat1)
    }

    func testFewerCasesOfAClassThanFolds() throws {
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 1]
        assertThrows(FoldError.self, ["cannot make 5 stratified folds: class 1 has only 3 cases (class 0: 6, class 1: 3)"]) {
            try FoldAssignment.stratified(labels: labels, folds: 5, seed: 1)
        }
        let scratch = try ScratchFolder()
        let rows = labels.enumerated().map { "P\($0.offset),\($0.element),p.png" }.joined(separator: "\n")
        try scratch.write("p.png", "x")
        let manifest = try Manifest(contentsOf: try scratch.write("m.csv", "case_id,label,image\n" + rows + "\n"))
        assertThrows(FoldError.self, [manifest.url.path + ": cannot make 4 stratified folds: class 1 has only 3 cases"]) {
            try FoldAssignment.stratified(manifest, folds: 4, seed: 1)
        }
        assertThrows(FoldError.self, ["at least 2 folds"]) { try FoldAssignment.stratified(labels: labels, folds: 1, seed: 1) }
        assertThrows(FoldError.self, ["repeats must be ≥ 1"]) { try FoldAssignment.stratified(labels: labels, folds: 2, repeats: 0, seed: 1) }
    }

    // MARK: reuse

    func manifest(in scratch: ScratchFolder, folds: [Int]? = nil, labels: [Int] = [0, 1, 0, 1, 1, 0]) throws -> Manifest {
        try scratch.write("p.png", "x")
        let header = folds == nil ? "case_id,label,image" : "case_id,label,image,fold"
        var text = header + "\n"
        for index in labels.indices {
            text += "C\(index),\(labels[index]),p.png" + (folds.map { ",\($0[index])" } ?? "") + "\n"
        }
        return try Manifest(contentsOf: try scratch.write("m.csv", text))
    }

    func testFoldColumnIsReusedExactly() throws {
        let scratch = try ScratchFolder()
        let column = [2, 0, 1, 1, 0, 2]
        let folds = try FoldAssignment(foldColumnOf: try manifest(in: scratch, folds: column))
        XCTAssertEqual(folds.foldCount, 3)
        XCTAssertEqual(folds.repeatCount, 1)
        XCTAssertEqual((0..<6).map { folds.testFold(case: $0) }, column)
        XCTAssertEqual(folds.split(repeat: 0, fold: 1), FoldSplit(repeat: 0, fold: 1, train: [0, 1, 4, 5], test: [2, 3]))
        let resolved = try FoldAssignment.resolve(for: try manifest(in: scratch, folds: column), folds: nil, repeats: nil, seed: 9)
        XCTAssertEqual(resolved, folds)
    }

    func testFoldColumnErrors() throws {
        let scratch = try ScratchFolder()
        assertThrows(FoldError.self, ["m.csv: fold column: fold 1 of repeat 0 has no cases (folds must be numbered 0…2)"]) {
            try FoldAssignment(foldColumnOf: try manifest(in: scratch, folds: [0, 2, 0, 2, 0, 2]))
        }
        assertThrows(FoldError.self, ["m.csv: has no fold column"]) { try FoldAssignment(foldColumnOf: try manifest(in: scratch)) }
        let withColumn = try manifest(in: scratch, folds: [0, 1, 0, 1, 0, 1])
        assertThrows(FoldError.self, ["the fold column of \(withColumn.url.path) has 2 folds, but 5 were asked for"]) {
            try FoldAssignment.resolve(for: withColumn, folds: 5, repeats: nil, seed: 1)
        }
    }

    func testScikitLearnFoldsFileIsReusedExactly() throws {
        struct Reference: Decodable {
            struct Split: Decodable { let `repeat`: Int; let fold: Int; let test: [Int] }
            let folds: Int, repeats: Int, labels: [Int], splits: [Split]
        }
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: CohortFixtures.folds("sklearn_splits.json")))
        let cases = try CSVTable(contentsOf: CohortFixtures.folds("sklearn_cases.csv"))
        let ids = cases.rows.map { $0.fields[0] }
        XCTAssertEqual(cases.rows.map { Int($0.fields[1])! }, reference.labels)

        let folds = try FoldAssignment(contentsOf: CohortFixtures.folds("sklearn_folds.csv"), caseIDs: ids, labels: reference.labels)
        XCTAssertEqual(folds.foldCount, reference.folds)
        XCTAssertEqual(folds.repeatCount, reference.repeats)
        XCTAssertEqual(folds.splits.map(\.test), reference.splits.map(\.test))
        XCTAssertEqual(folds.splits.map { [$0.repeat, $0.fold] }, reference.splits.map { [$0.repeat, $0.fold] })
        // scikit-learn's StratifiedKFold keeps the same balance our stratified folds promise.
        for split in folds.splits {
            for label in [0, 1] {
                let total = reference.labels.filter { $0 == label }.count
                XCTAssertLessThan(abs(Double(split.test.filter { reference.labels[$0] == label }.count) - Double(total) / 4), 1)
            }
        }
    }

    func testOurFoldsFileRoundTripsAndWinsInResolve() throws {
        let scratch = try ScratchFolder()
        let labels = [0, 1, 0, 1, 1, 0, 1, 0]
        let m = try manifest(in: scratch, labels: labels)
        let made = try FoldAssignment.stratified(m, folds: 2, repeats: 3, seed: 5)
        let text = made.csv(caseIDs: m.caseIDs, labels: m.labels)
        XCTAssertTrue(text.hasPrefix("case_id,label,repeat,fold\nC0,0,0,"), text)
        let file = try scratch.write("folds.csv", text)
        XCTAssertEqual(try FoldAssignment(contentsOf: file, manifest: m), made)
        XCTAssertEqual(try FoldAssignment.resolve(for: m, folds: 2, repeats: 3, seed: 999, file: file), made)
        assertThrows(FoldError.self, ["the folds file \(file.path) has 3 repeats, but 1 were asked for"]) {
            try FoldAssignment.resolve(for: m, folds: 2, repeats: 1, seed: 1, file: file)
        }
        XCTAssertEqual(try FoldAssignment.resolve(for: m, folds: 2, repeats: 3, seed: 5), made, "no file, no column: stratified")
    }

    func testFoldsFileErrorsNameFileAndRow() throws {
        let scratch = try ScratchFolder()
        let ids = ["A", "B", "C", "D"]
        func check(_ text: String, _ fragments: [String], labels: [Int]? = nil) throws {
            let file = try scratch.write("f.csv", text)
            assertThrows(FoldError.self, [file.path] + fragments) { try FoldAssignment(contentsOf: file, caseIDs: ids, labels: labels) }
        }
        try check("case_id,repeat\nA,0\n", ["missing column 'fold'"])
        try check("case_id,fold\nA,0\nB,1\nE,0\n", ["row 3 (line 4): case_id 'E' is not in the manifest"])
        try check("case_id,fold\nA,0\nB,x\n", ["row 2 (line 3): fold 'x' is not an integer ≥ 0"])
        try check("case_id,fold\nA,0\nB,1\nC,0\nA,1\nD,1\n", ["row 4 (line 5): case 'A' is listed twice in repeat 0 (folds 0 and 1)"])
        try check("case_id,fold\nA,0\nB,1\nC,0\n", ["case 'D' has no fold in repeat 0"])
        try check("case_id,fold,repeat\nA,0,0\nB,1,0\nC,0,0\nD,1,0\nA,0,2\nB,1,2\nC,0,2\nD,1,2\n", ["repeat 1 is missing"])
        try check("case_id,fold\nA,0\nB,2\nC,0\nD,2\n", ["fold 1 of repeat 0 has no cases"])
        try check("case_id,label,fold\nA,0,0\nB,0,1\n", ["row 2 (line 3): label '0' of case 'B' differs from the manifest's 1"], labels: [0, 1, 0, 1])
        try check("case_id,fold\n", ["lists no cases"])
    }
}
