import BLASCore
import CStb
import Foundation
import XCTest
@testable import Cohort

/// Parity with transformers' CLIP image processor on the images of scripts/fixturegen/preprocessing.py.
final class PreprocessingTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/preprocessing")

    struct Case: Decodable {
        let name: String
        let image: String
        let modelDirectory: String?
        let expected: String
        let shape: [Int]
        let resizedHeightWidth: [Int]
    }

    static func cases() throws -> [Case] {
        struct Listing: Decodable { let cases: [Case] }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Listing.self, from: Data(contentsOf: fixtures.appendingPathComponent("cases.json"))).cases
    }

    /// An 8-bit grayscale PNG decoded by stb, as values / 255.
    static func grayImage(_ name: String) throws -> GrayImage {
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        guard let data = stbi_load(fixtures.appendingPathComponent(name).path, &width, &height, &channels, 1) else {
            throw ShapeError("cannot decode \(name)")
        }
        defer { stbi_image_free(data) }
        let pixels = (0..<Int(width * height)).map { Float(data[$0]) / 255 }
        return GrayImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    static func expected(_ item: Case) throws -> [Float] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(item.expected))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func preprocessor(_ item: Case) throws -> CLIPPreprocessor {
        guard let directory = item.modelDirectory else { return CLIPPreprocessor() }
        return try CLIPPreprocessor(modelDirectory: Self.fixtures.appendingPathComponent(directory))
    }

    /// Largest difference from transformers on the [0, 1] scale (normalized differences times the channel's std).
    func largestDifference(_ values: [Float], _ expected: [Float], _ configuration: PreprocessingConfiguration) -> Float {
        let plane = values.count / 3
        var largest: Float = 0
        for i in values.indices {
            let std = configuration.std?[i / plane] ?? 1
            largest = max(largest, abs(values[i] - expected[i]) * std)
        }
        return largest
    }

    func testMatchesTransformersWithinTwoUint8Steps() throws {
        let cases = try Self.cases()
        XCTAssertEqual(cases.count, 6)
        for item in cases {
            let preprocessor = try preprocessor(item)
            let image = try Self.grayImage(item.image)
            let resized = preprocessor.resizedSize(width: image.width, height: image.height)
            XCTAssertEqual([resized.height, resized.width], item.resizedHeightWidth, item.name)
            let values = try preprocessor.pixelValues(image)
            XCTAssertEqual(values.shape, item.shape, item.name)
            let expected = try Self.expected(item)
            XCTAssertEqual(values.count, expected.count, item.name)
            let difference = largestDifference(values.values, expected, preprocessor.configuration)
            XCTAssertLessThanOrEqual(difference, 2.0 / 255, "\(item.name): largest difference \(difference * 255)/255")
        }
    }

    func testFixtureConfigurationsAreReadAsTransformersReadsThem() throws {
        let cases = Dictionary(uniqueKeysWithValues: try Self.cases().map { ($0.name, $0) })
        XCTAssertEqual(try preprocessor(cases["small_64x48_openai"]!).configuration, .openAI)
        let tall = try preprocessor(cases["tall_90x157_bilinear"]!).configuration
        XCTAssertEqual(tall.resize, .shortestEdge(40))
        XCTAssertEqual(tall.centerCrop, .init(height: 40, width: 32))
        XCTAssertEqual(tall.resample, .bilinear)
        XCTAssertEqual(tall.mean, [0.5, 0.4, 0.3])
        let padded = try preprocessor(cases["pad_50x30_exact"]!).configuration
        XCTAssertEqual(padded.resize, .exact(height: 20, width: 36))
        XCTAssertNil(padded.mean)
        XCTAssertEqual(try preprocessor(cases["odd_37x41"]!).configuration.centerCrop, .init(height: 44, width: 44))
    }

    func testWritesIntoOneImageOfABatchOnly() throws {
        let item = try Self.cases().first { $0.name == "wide_300x200" }!
        let preprocessor = try preprocessor(item)
        let image = try Self.grayImage(item.image)
        let batch = Tensor(zeros: [3] + item.shape)
        for i in 0..<batch.count { batch[i] = -7 }
        try preprocessor.write(image, into: batch, at: 1)
        let values = batch.values, size = item.shape.reduce(1, *)
        XCTAssertTrue(values[0..<size].allSatisfy { $0 == -7 })
        XCTAssertTrue(values[(2 * size)...].allSatisfy { $0 == -7 })
        XCTAssertEqual(Array(values[size..<(2 * size)]), try preprocessor.pixelValues(image).values)
    }

    func testGrayIsReplicatedToThreeChannelsBeforeNormalization() throws {
        let image = GrayImage(width: 5, height: 4, pixels: (0..<20).map { Float($0) / 19 })
        let configuration = PreprocessingConfiguration.openAI
        let values = try CLIPPreprocessor(configuration: .init(resize: nil, resample: .bicubic, centerCrop: nil,
                                                               rescaleFactor: 1.0 / 255, mean: configuration.mean,
                                                               std: configuration.std)).pixelValues(image)
        XCTAssertEqual(values.shape, [3, 4, 5])
        for channel in 0..<3 {
            for i in 0..<20 {
                let gray = values[channel * 20 + i] * configuration.std![channel] + configuration.mean![channel]
                XCTAssertEqual(gray, image.pixels[i], accuracy: 1e-6)
            }
        }
    }

    func testResizedSizeRoundsTheLongSideDown() {
        let preprocessor = CLIPPreprocessor()
        XCTAssertTrue(preprocessor.resizedSize(width: 300, height: 200) == (336, 224))
        XCTAssertTrue(preprocessor.resizedSize(width: 48, height: 64) == (224, 298))
        XCTAssertTrue(preprocessor.resizedSize(width: 512, height: 512) == (224, 224))
    }

    func testConstantImageStaysConstantWhenResized() throws {
        // Pillow's weights are normalized per output pixel, so a flat image stays flat at any scale.
        for (width, height) in [(7, 300), (300, 7), (1, 1), (600, 450)] {
            let image = GrayImage(width: width, height: height, pixels: Array(repeating: 0.25, count: width * height))
            let values = try CLIPPreprocessor(configuration: .init(resize: .shortestEdge(24), resample: .bicubic,
                                                                   centerCrop: .init(height: 24, width: 24),
                                                                   rescaleFactor: 1.0 / 255, mean: nil, std: nil))
                .pixelValues(image)
            for value in values.values { XCTAssertEqual(value, 0.25, accuracy: 1e-6) }
        }
    }

    func testBatchOfTheWrongShapeIsRejected() throws {
        let image = GrayImage(width: 10, height: 10, pixels: Array(repeating: 0, count: 100))
        XCTAssertThrowsError(try CLIPPreprocessor().write(image, into: Tensor(zeros: [2, 3, 32, 32]), at: 0)) { error in
            XCTAssertEqual("\(error)", "preprocessing: batch tensor [2, 3, 32, 32] cannot take image 0 of pixel shape [3, 224, 224]")
        }
        XCTAssertThrowsError(try CLIPPreprocessor().write(image, into: Tensor(zeros: [2, 3, 224, 224]), at: 2))
        XCTAssertThrowsError(try CLIPPreprocessor().pixelValues(GrayImage(width: 0, height: 5, pixels: []))) { error in
            XCTAssertEqual("\(error)", "preprocessing: image 0 is empty (0×5)")
        }
    }

    func testBadConfigurationFilesNameFileAndKey() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("clipcv-preprocessing-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("preprocessor_config.json")
        let cases: [(String, String)] = [
            (#"{"size": "big"}"#, #"`size` must be a positive integer, {"shortest_edge": n} or {"height": h, "width": w}, got "big""#),
            (#"{"crop_size": {"height": 10}}"#, #"`crop_size` must be a positive integer or {"height": h, "width": w}, got {"height": 10}"#),
            (#"{"resample": 1}"#, "`resample` 1 is not supported (2 = bilinear, 3 = bicubic)"),
            (#"{"image_mean": [0.5, 0.5]}"#, "`image_mean` must be 3 numbers (R, G, B), got [0.5, 0.5]"),
            (#"{"image_std": [1, 0, 1]}"#, "`image_std` must be positive, got [1.0, 0.0, 1.0]"),
            (#"{"do_resize": 1}"#, "`do_resize` must be true or false, got 1"),
            ("[1, 2]", "is not a JSON object"),
        ]
        for (text, problem) in cases {
            try Data(text.utf8).write(to: file)
            XCTAssertThrowsError(try CLIPPreprocessor(modelDirectory: directory)) { error in
                XCTAssertEqual("\(error)", "\(file.path): \(problem)")
            }
        }
        try Data(#"{"size": 64, "crop_size": 60, "image_mean": 0.5, "image_std": 0.25, "do_rescale": false}"#.utf8).write(to: file)
        let configuration = try PreprocessingConfiguration(modelDirectory: directory)
        XCTAssertEqual(configuration, .init(resize: .shortestEdge(64), resample: .bicubic, centerCrop: .init(height: 60, width: 60),
                                            rescaleFactor: nil, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]))
    }
}
