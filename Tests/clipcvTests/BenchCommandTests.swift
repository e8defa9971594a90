import Foundation
import XCTest

/// The benchmark JSON contract (issue keys), on the small demo architecture so it stays fast; no timing is asserted.
final class BenchCommandTests: XCTestCase {
    func json(_ arguments: [String]) throws -> [String: Any] {
        let result = try Executable.run(["bench"] + arguments + ["--repeats", "1", "--threads", "1"])
        XCTAssertEqual(result.status, 0, result.errors)
        return try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as! [String: Any]
    }

    func testTrainReportsTheStepBreakdown() throws {
        for precision in ["fp32", "bf16"] {
            let report = try json(["train", "--arch", "demo", "--placement", "highest:2", "--precision", precision])
            for key in ["step_s", "forward_s", "backward_s", "optimizer_s", "gflops", "peak_rss_mb", "sgemm_fraction"] {
                XCTAssertTrue((report[key] as? NSNumber).map { $0.doubleValue > 0 } == true, "\(precision) \(key): \(report[key] ?? "missing")")
            }
            XCTAssertEqual(report["precision"] as? String, precision)
        }
    }

    func testEncodeAndJobReport() throws {
        let encode = try json(["encode", "--arch", "demo"])
        XCTAssertEqual(encode["images"] as? Int, 16)
        XCTAssertTrue((encode["images_s"] as? NSNumber).map { $0.doubleValue > 0 } == true)
        let job = try json(["job", "--arch", "demo"])
        XCTAssertEqual(job["steps"] as? Int, 300)
        let step = (job["step_s"] as! NSNumber).doubleValue, scoring = (job["scoring_s"] as! NSNumber).doubleValue
        XCTAssertEqual((job["estimate_s"] as! NSNumber).doubleValue, 300 * step + scoring, accuracy: 1e-9)
    }

    func testUnknownBenchmarkIsAUsageError() throws {
        let result = try Executable.run(["bench", "frobnicate"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.errors.hasPrefix("clipcv: bench: unknown benchmark 'frobnicate'"), result.errors)
    }
}
