import Evaluation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Sweep

final class SweepReportTests: XCTestCase {
    /// A finished sweep of the fake runner on `ranks` in-memory ranks, and its report written into the directory.
    private func finishedSweep(_ name: String, placements: [String] = ["lowest:2", "highest:1", "layers:0,2,5"],
                               repetitions: Int = 1, ranks: Int = 1) throws -> (URL, SweepReport) {
        let url = temporaryDirectory(name)
        let plan = try makePlan(placements: placements, folds: 3, repetitions: repetitions)
        try runSweep(try RunDirectory(url: url, plan: plan, resume: false), ranks: ranks)
        let report = try SweepReport(runDirectory: url, bootstrapResamples: 200)
        try report.write(to: url)
        return (url, report)
    }

    private func read(_ url: URL, _ name: String) throws -> String {
        try String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
    }

    func testPredictionsAndMetricsAreByteIdenticalForOneAndThreeRanks() throws {
        let (one, _) = try finishedSweep("one", ranks: 1)
        let (three, _) = try finishedSweep("three", ranks: 3)
        for name in ["predictions.csv", "metrics.csv"] {
            XCTAssertEqual(try read(one, name), try read(three, name), name)
        }
        let ranks = Set(try RunDirectory.readRecords(in: three, plan: try RunDirectory.readPlan(in: three)).map(\.rank))
        XCTAssertGreaterThan(ranks.count, 1)
    }

    func testPredictionsFollowPlanOrderAndQuotePlacementsWithCommas() throws {
        let (url, report) = try finishedSweep("order")
        let lines = try read(url, "predictions.csv").split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "case_id,label,placement,repeat,fold,score")
        XCTAssertEqual(lines.count, 1 + FakeCohort.cases.count * report.plan.methods.count)
        // Fold 0 of repeat 0 first: every method in plan order, each with its test cases in cohort order.
        XCTAssertTrue(lines[1].hasPrefix("case-00,1,lowest:2,0,0,"), lines[1])
        XCTAssertTrue(lines[9].hasPrefix("case-00,1,highest:1,0,0,"), lines[9])
        XCTAssertTrue(lines[17].hasPrefix(#"case-00,1,"layers:0,2,5",0,0,"#), lines[17])
        XCTAssertTrue(lines[25].hasPrefix("case-00,1,zero-shot,0,0,"), lines[25])
        XCTAssertTrue(lines[2].hasPrefix("case-03,1,lowest:2,0,0,"), lines[2])
        // Scores round-trip exactly.
        let records = try RunDirectory.readRecords(in: url, plan: report.plan)
        XCTAssertEqual(Double(lines[1].split(separator: ",").last!), records[0].outcome!.scores[0].score)
    }

    func testMetricsMatchTheEvaluationOfEachFold() throws {
        let (url, report) = try finishedSweep("metrics", repetitions: 2)
        let records = try RunDirectory.readRecords(in: url, plan: report.plan)
        let rows = try read(url, "metrics.csv").split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(rows[0].joined(separator: ","), "placement,kind,repeat,fold,n,auc,acc,sensitivity,specificity,balanced_accuracy,f1")
        XCTAssertEqual(rows.count, 1 + report.plan.jobs.count)
        let job = records.first { $0.job.id == "highest:1|r1|f2" }!
        let scores = job.outcome!.scores
        let expected = try BinaryMetrics(labels: scores.map(\.label), scores: scores.map(\.score))
        let row = try XCTUnwrap(rows.first { $0.prefix(4) == ["highest:1", "fine-tune", "1", "2"] })
        XCTAssertEqual(Int(row[4]), expected.count)
        XCTAssertEqual(Double(row[5]), expected.auc)
        XCTAssertEqual(Double(row[6]), expected.accuracy)

        // The summary is the mean ± ddof-1 std of those fold AUCs.
        let method = try XCTUnwrap(report.methods.first { $0.name == "highest:1" })
        let foldAUCs = try records.filter { $0.job.placement == "highest:1" }.map { record in
            try XCTUnwrap(try BinaryMetrics(labels: record.outcome!.scores.map(\.label), scores: record.outcome!.scores.map(\.score)).auc)
        }
        XCTAssertEqual(method.metrics?.summary.auc, MeanAndDeviation(foldAUCs))
        XCTAssertEqual(method.metrics?.pooled.count, 2)
        XCTAssertEqual(method.comparisons.map(\.repetition), report.best == "highest:1" ? [] : [0, 1])
    }

    func testBestPlacementAndDeLongAgainstIt() throws {
        let (_, report) = try finishedSweep("best")
        // The fake runner gives `lowest:*` the strongest signal.
        XCTAssertEqual(report.best, "lowest:2")
        let best = try XCTUnwrap(report.methods.first { $0.name == "lowest:2" })
        XCTAssertTrue(best.comparisons.isEmpty)
        let zeroShot = try XCTUnwrap(report.methods.first { $0.name == "zero-shot" })
        let comparison = try XCTUnwrap(zeroShot.comparisons.first)
        XCTAssertEqual(comparison.cases, FakeCohort.cases.count)
        XCTAssertEqual(comparison.bestAUC, best.metrics?.pooled.first?.metrics.auc)
        XCTAssertEqual(comparison.auc, zeroShot.metrics?.pooled.first?.metrics.auc)
        XCTAssertNotNil(comparison.pValue)
    }

    func testMarkdownHasOneRowPerMethodAndStatesTheConventions() throws {
        let (url, report) = try finishedSweep("markdown")
        let text = try read(url, "report.md")
        XCTAssertEqual(text, report.markdown())
        XCTAssertTrue(text.contains("| placement | jobs | AUC mean ± std | ACC mean ± std | pooled AUC [95% CI] | sensitivity | specificity | DeLong p vs best | time per job |"))
        let rows = text.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| placement") }
        XCTAssertEqual(rows.count, 5)
        XCTAssertTrue(rows[0].hasPrefix("| **lowest:2** (best) | 3/3 | 0."), String(rows[0]))
        XCTAssertTrue(rows[2].hasPrefix("| layers:0,2,5 | 3/3 | "), String(rows[2]))
        XCTAssertTrue(rows[3].hasPrefix("| zero-shot (baseline) | 3/3 | "), String(rows[3]))
        XCTAssertTrue(rows[4].hasPrefix("| linear-probe (baseline) | 3/3 | "), String(rows[4]))
        XCTAssertTrue(text.contains("sample standard deviation (ddof 1) over the 3 (repeat, fold) pairs"))
        XCTAssertTrue(text.contains("stratified bootstrap (200 resamples"))
        XCTAssertTrue(text.contains("- cohort: `cohort-abc`"))
        XCTAssertTrue(text.contains("- checkpoint: `ckpt-def` (/models/tiny)"))
        XCTAssertTrue(text.contains("`epochs` = `3`, `lr` = `0.001`"))
        // The pooled AUC cell holds a value and its interval.
        let pooledCell = rows[0].split(separator: "|")[4].trimmingCharacters(in: .whitespaces)
        XCTAssertNotNil(pooledCell.range(of: #"^0\.\d{3} \[0\.\d{3}, (0\.\d{3}|1\.000)\]$"#, options: .regularExpression), pooledCell)
    }

    func testReportJSONCarriesTheSameNumbers() throws {
        let (url, report) = try finishedSweep("json")
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try read(url, "report.json").utf8)) as? [String: Any])
        XCTAssertEqual(object["best_placement"] as? String, "lowest:2")
        XCTAssertEqual(object["std_ddof"] as? Int, 1)
        let methods = try XCTUnwrap(object["methods"] as? [[String: Any]])
        XCTAssertEqual(methods.map { $0["placement"] as? String }, report.plan.methods)
        let summary = try XCTUnwrap((methods[0]["metrics"] as? [String: Any])?["summary"] as? [String: Any])
        XCTAssertEqual((summary["auc"] as? [String: Any])?["mean"] as? Double, report.methods[0].metrics?.summary.auc?.mean)
    }

    func testChartsAreWellFormedSVGWithEveryMethod() throws {
        let (url, report) = try finishedSweep("charts")
        for name in ["roc.svg", "auc_by_placement.svg"] {
            let parsed = try SVGContents(url.appendingPathComponent(name))
            XCTAssertEqual(parsed.root, "svg", name)
            for method in report.plan.methods {
                XCTAssertTrue(parsed.texts.contains { $0.hasPrefix(method) }, "\(name) names \(method)")
            }
        }
        let roc = try SVGContents(url.appendingPathComponent("roc.svg"))
        XCTAssertEqual(roc.counts["polyline"], 5, "one curve per method")
        XCTAssertTrue(roc.texts.contains("False positive rate (1 − specificity)"))
        XCTAssertTrue(roc.texts.contains("True positive rate (sensitivity)"))
        XCTAssertTrue(roc.texts.contains("chance"))
        let auc = try SVGContents(url.appendingPathComponent("auc_by_placement.svg"))
        XCTAssertEqual(auc.counts["circle"], 3, "a point per placement")
        XCTAssertEqual(auc.counts["polygon"], 2, "a diamond per baseline")
        XCTAssertTrue(auc.texts.contains("AUC"))
    }

    func testFailedAndMissingJobsAreListed() throws {
        let url = temporaryDirectory()
        let plan = try makePlan(placements: ["all", "broken:1"], folds: 3, repetitions: 1)
        let directory = try RunDirectory(url: url, plan: plan, resume: false)
        try runSweep(directory, ranks: 2)
        // Pretend the last job was never run.
        let lines = try Data(contentsOf: url.appendingPathComponent("results.jsonl")).split(separator: 0x0A)
        let lastIndex = plan.jobs.count - 1
        let kept = lines.filter { !String(decoding: $0, as: UTF8.self).contains(#""index":\#(lastIndex),"#) }
        try kept.map { Data($0) + Data([0x0A]) }.reduce(Data(), +).write(to: url.appendingPathComponent("results.jsonl"))

        let report = try SweepReport(runDirectory: url, bootstrapResamples: 50)
        XCTAssertEqual(report.failures.map(\.job.id), ["broken:1|r0|f0", "broken:1|r0|f1", "broken:1|r0|f2"])
        XCTAssertEqual(report.missing.map(\.id), ["linear-probe|r0|f2"])
        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("- `broken:1|r0|f1` failed: image case-03.png is unreadable"))
        XCTAssertTrue(markdown.contains("- `linear-probe|r0|f2` not run (run the sweep again with `--resume`)"))
        XCTAssertTrue(markdown.contains("| broken:1 | 0/3 | — | — | — | — | — | — | — |"), markdown)
        XCTAssertTrue(markdown.contains("| linear-probe (baseline) | 2/3 | "))
        XCTAssertNoThrow(try SVGContents(text: report.aucChart()))
        XCTAssertNoThrow(try SVGContents(text: report.rocChart()))
    }

    func testRebuildingFromTheRunDirectoryGivesTheSameFiles() throws {
        let (url, _) = try finishedSweep("rebuild")
        let before = try SweepReport.files.map { try read(url, $0) }
        for name in SweepReport.files { try FileManager.default.removeItem(at: url.appendingPathComponent(name)) }
        try SweepReport(runDirectory: url, bootstrapResamples: 200).write(to: url)
        XCTAssertEqual(try SweepReport.files.map { try read(url, $0) }, before)
    }

    func testCSVFieldQuoting() {
        XCTAssertEqual(csvField("lowest:5"), "lowest:5")
        XCTAssertEqual(csvField("layers:0,2"), "\"layers:0,2\"")
        XCTAssertEqual(csvField("a\"b"), "\"a\"\"b\"")
    }
}

/// The elements and texts of an SVG file, parsed with Foundation's XMLParser (which fails on malformed XML).
private struct SVGContents {
    var root: String?
    var counts: [String: Int] = [:]
    var texts: [String] = []

    init(_ url: URL) throws { try self.init(text: try String(contentsOf: url, encoding: .utf8)) }

    init(text: String) throws {
        final class Delegate: NSObject, XMLParserDelegate {
            var root: String?
            var counts: [String: Int] = [:]
            var texts: [String] = []
            var inText = false
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                if root == nil { root = name }
                counts[name, default: 0] += 1
                if name == "text" { inText = true; texts.append("") }
            }
            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                if name == "text" { inText = false }
            }
            func parser(_ parser: XMLParser, foundCharacters string: String) {
                if inText { texts[texts.count - 1] += string }
            }
        }
        let parser = XMLParser(data: Data(text.utf8))
        let delegate = Delegate()
        parser.delegate = delegate
        guard parser.parse() else {
            throw FakeFailure(description: "malformed SVG: \(parser.parserError.map { "\($0)" } ?? "unknown") at line \(parser.lineNumber)")
        }
        root = delegate.root; counts = delegate.counts; texts = delegate.texts
    }
}
