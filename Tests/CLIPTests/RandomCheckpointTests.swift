import BLASCore
import Foundation
import XCTest
@testable import CLIP

final class RandomCheckpointTests: XCTestCase {
    func testWrittenCheckpointLoadsWithItsByteLevelTokenizer() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-random-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = try CLIPConfiguration.preset(named: "demo")
        try RandomCheckpoint.write(configuration, weights: RandomWeights(seed: 4), to: directory)
        let checkpoint = try Checkpoint(directory: directory)
        XCTAssertEqual(checkpoint.configuration, configuration)
        XCTAssertTrue(checkpoint.problems.isEmpty, "\(checkpoint.problems)")
        let model = try CLIPModel(checkpoint: checkpoint)
        XCTAssertEqual(model.logitScale, 2.6592)
        let ids = try Tokenizer(directory: directory).encode("CT ok")
        let symbols = BytePairEncoder.byteSymbols
        func id(_ byte: Character, last: Bool = false) -> Int {
            symbols.firstIndex(of: String(UnicodeScalar(byte.asciiValue!)))! + (last ? 256 : 0)
        }
        XCTAssertEqual(ids, [Tokenizer.startOfText, id("c"), id("t", last: true), id("o"), id("k", last: true), Tokenizer.endOfText])
    }
}
