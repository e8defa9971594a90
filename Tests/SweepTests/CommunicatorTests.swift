import XCTest
@testable import Sweep

final class CommunicatorTests: XCTestCase {
    func testMPIErrorDescribesTheCall() {
        XCTAssertEqual(MPIError(description: "MPI_Send failed: x").description, "MPI_Send failed: x")
    }
}
