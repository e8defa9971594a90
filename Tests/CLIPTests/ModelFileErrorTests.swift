import XCTest
@testable import CLIP

final class ModelFileErrorTests: XCTestCase {
    func testDescriptionIsTheMessage() {
        XCTAssertEqual("\(ModelFileError("model.safetensors: missing tensor 'logit_scale'"))", "model.safetensors: missing tensor 'logit_scale'")
    }
}
