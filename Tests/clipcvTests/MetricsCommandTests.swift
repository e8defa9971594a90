import Foundation
import XCTest

final class MetricsCommandTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Two folds of three cases, written as a spreadsheet might (BOM, CRLF, a quoted field); values worked by hand.
    func testPrintsPerFoldSummaryAndPooledMetrics() throws {
        let path = try write("preds.csv", "\u{FEFF}case_id,label,score,fold\r\n\"a\",1,0.9,0\r\nb,0,0.4,0\r\nc,1,0.3,0\r\n"
                             + "d,0,0.6,1\r\ne,1,0.7,1\r\nf,0,0.2,1\r\n")
        let arguments = ["metrics", "--predictions", path, "--bootstrap", "200", "--seed", "3"]
        let result = try Executable.run(arguments)
        XCTAssertEqual(result.status, 0, result.errors)
        XCTAssertEqual(try Executable.run(arguments).output, result.output, "the same seed gives the same interval")
        // Keys from JSONSerialization; values from JSONDecoder, which parses doubles exactly (corelibs'
        // JSONSerialization can be an ulp off).
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["folds", "summary", "pooled"])
        let metricKeys: Set<String> = ["repeat", "n", "auc", "acc", "sensitivity", "specificity", "balanced_accuracy", "f1"]
        XCTAssertEqual((json["folds"] as? [[String: Any]])?.map { Set($0.keys) }, [metricKeys.union(["fold"]), metricKeys.union(["fold"])])
        XCTAssertEqual((json["pooled"] as? [[String: Any]])?.map { Set($0.keys) }, [metricKeys.union(["auc_ci95"])])
        XCTAssertEqual((json["summary"] as? [String: Any]).map { Set($0.keys) },
                       ["auc", "acc", "sensitivity", "specificity", "balanced_accuracy", "f1", "std_ddof"])
        let report = try JSONDecoder().decode(Report.self, from: Data(result.output.utf8))

        // Fold 0: positives 0.9, 0.3 vs negative 0.4; predicted 1, 0, 0.
        XCTAssertEqual(report.folds[0], Report.Metrics(repeat: 0, fold: 0, n: 3, auc: 0.5, acc: 2.0 / 3, sensitivity: 0.5,
                                                       specificity: 1, balanced_accuracy: 0.75, f1: 2.0 / 3, auc_ci95: nil))
        // Fold 1: positive 0.7 vs negatives 0.6, 0.2; predicted 1, 1, 0.
        XCTAssertEqual(report.folds[1], Report.Metrics(repeat: 0, fold: 1, n: 3, auc: 1, acc: 2.0 / 3, sensitivity: 1,
                                                       specificity: 0.5, balanced_accuracy: 0.75, f1: 2.0 / 3, auc_ci95: nil))
        XCTAssertEqual(report.summary.std_ddof, 1)
        XCTAssertEqual(report.summary.auc.mean, 0.75)
        XCTAssertEqual(report.summary.auc.std, 0.5.squareRoot() / 2, accuracy: 1e-15)  // std([0.5, 1], ddof=1)
        XCTAssertEqual(report.summary.acc, Report.Statistic(mean: 2.0 / 3, std: 0))

        // Pooled: 7 of the 9 positive–negative pairs ordered correctly; predicted 1: a, d, e.
        let pooled = try XCTUnwrap(report.pooled.first)
        XCTAssertEqual(report.pooled.count, 1)
        let interval = try XCTUnwrap(pooled.auc_ci95)
        XCTAssertEqual(pooled, Report.Metrics(repeat: 0, fold: nil, n: 6, auc: 7.0 / 9, acc: 4.0 / 6, sensitivity: 2.0 / 3,
                                              specificity: 2.0 / 3, balanced_accuracy: 2.0 / 3, f1: 2.0 / 3, auc_ci95: interval))
        XCTAssertEqual(interval.count, 2)
        XCTAssertLessThanOrEqual(interval[0], 7.0 / 9)
        XCTAssertGreaterThanOrEqual(interval[1], 7.0 / 9)
    }

    /// The printed report's shape, decoded independently of the Evaluation types.
    struct Report: Decodable {
        struct Metrics: Decodable, Equatable {
            let `repeat`: Int, fold: Int?, n: Int
            let auc: Double?, acc: Double, sensitivity: Double?, specificity: Double?, balanced_accuracy: Double, f1: Double?
            let auc_ci95: [Double]?
        }
        struct Statistic: Decodable, Equatable { let mean: Double, std: Double }
        struct Summary: Decodable {
            let auc: Statistic, acc: Statistic, sensitivity: Statistic, specificity: Statistic
            let balanced_accuracy: Statistic, f1: Statistic, std_ddof: Int
        }
        let folds: [Metrics]
        let summary: Summary
        let pooled: [Metrics]
    }

    func testBadRowIsAOneLineErrorNamingFileAndRow() throws {
        let path = try write("bad.csv", "case_id,label,score\na,1,0.9\nb,2,0.4\n")
        let result = try Executable.run(["metrics", "--predictions", path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.output, "")
        XCTAssertEqual(result.errors, "clipcv: metrics: \(path) row 3: label '2' is not 0 or 1\n")
    }

    func testCaseTwiceInARepeatNamesTheFile() throws {
        let path = try write("twice.csv", "case_id,label,score,fold\na,1,0.9,0\nb,0,0.4,0\na,1,0.8,1\n")
        let result = try Executable.run(["metrics", "--predictions", path])
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errors, "clipcv: metrics: \(path): case 'a' appears more than once in repeat 0\n")
    }
}
