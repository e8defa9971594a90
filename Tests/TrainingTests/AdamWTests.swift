import XCTest
import BLASCore
@testable import Training

final class AdamWTests: XCTestCase {
    /// First step of torch.optim.AdamW(lr=0.1, weight_decay=0.1) on p=[1, -2] with g=[0.5, -0.25]:
    /// p·(1−0.01) − 0.1·sign(g) (m/√v = ±1 on the first step, up to ε).
    func testFirstStepMatchesTorch() throws {
        let p = try Tensor(shape: [2], values: [1, -2]), g = try Tensor(shape: [2], values: [0.5, -0.25])
        let optimizer = AdamW(parameters: [p], settings: AdamWSettings(weightDecay: 0.1))
        try optimizer.step(gradients: [g], learningRate: 0.1)
        XCTAssertEqual(p[0], 0.99 - 0.1, accuracy: 1e-6)
        XCTAssertEqual(p[1], -1.98 + 0.1, accuracy: 1e-6)
    }
}
