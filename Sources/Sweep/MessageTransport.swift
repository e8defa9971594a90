import Foundation

/// One message between ranks.
public struct Message: Sendable {
    public let bytes: [UInt8]
    public let source: Int
    public let tag: Int
}

/// The point-to-point messaging the sweep needs. `Communicator` provides it over MPI; tests provide an in-memory
/// world of several ranks, so the scheduler runs unchanged in one process.
public protocol MessageTransport: AnyObject, Sendable {
    var rank: Int { get }
    var size: Int { get }
    /// Whether a thread other than the one that started MPI may send and receive (MPI_THREAD_SERIALIZED or
    /// better). Only then can rank 0 coordinate on a thread of its own while it also runs jobs.
    var allowsMessagingFromAnyThread: Bool { get }
    func send(_ bytes: [UInt8], to destination: Int, tag: Int) throws
    /// A waiting message from `source` (nil: any) with `tag` (nil: any), received without blocking; nil if none.
    func poll(from source: Int?, tag: Int?) throws -> Message?
    /// Ends the processes of every rank (MPI_Abort): for a coordinator that fails while workers wait on it.
    func abort(code: Int32) -> Never
}

/// Message tags of the sweep protocol.
enum SweepTag {
    static let share = 7100
    static let toCoordinator = 7101
    static let toWorker = 7102
}

extension MessageTransport {
    /// Blocks until a matching message arrives. Polls with short sleeps instead of MPI_Probe, which spins at
    /// 100% of a core in Open MPI: a rank that waits should leave its core to the ranks that compute.
    public func wait(from source: Int?, tag: Int?, pollInterval: TimeInterval = 0.002) throws -> Message {
        while true {
            if let message = try poll(from: source, tag: tag) { return message }
            usleep(useconds_t(pollInterval * 1_000_000))
        }
    }

    /// Runs `make` on rank 0 and gives its value (or its error) to every rank: e.g. the plan, built and checked
    /// against the run directory by rank 0 alone. Other ranks throw `SweepError.failedOnRankZero` when it failed.
    public func shareFromRankZero<Value: Codable>(_ make: () throws -> Value) throws -> Value {
        if rank == 0 {
            let result = Result { try make() }
            if size > 1 {
                let shared: SharedValue<Value>
                switch result {
                case .success(let value): shared = SharedValue(value: value, failure: nil)
                case .failure(let error): shared = SharedValue(value: nil, failure: "\(error)")
                }
                let bytes = [UInt8](try JSONEncoder.sweep.encode(shared))
                for destination in 1..<size { try send(bytes, to: destination, tag: SweepTag.share) }
            }
            return try result.get()
        }
        let message = try wait(from: 0, tag: SweepTag.share)
        let shared: SharedValue<Value>
        do { shared = try JSONDecoder().decode(SharedValue<Value>.self, from: Data(message.bytes)) } catch {
            throw SweepError.protocolViolation("rank \(rank) cannot read what rank 0 shared: \(briefly(error))")
        }
        if let value = shared.value { return value }
        throw SweepError.failedOnRankZero(shared.failure ?? "unknown error")
    }
}

private struct SharedValue<Value: Codable>: Codable {
    let value: Value?
    let failure: String?
}
