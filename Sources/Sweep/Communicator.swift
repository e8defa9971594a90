import CMPI
import Foundation

/// An MPI error code turned into a message naming the call that failed.
public struct MPIError: Error, CustomStringConvertible {
    public let description: String
}

/// The MPI world this process runs in. Without `mpirun` it is a world of one rank, so every command works alone.
///
/// Only this layer knows about MPI (DESIGN.md): everything below gets plain values.
public final class Communicator: MessageTransport, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Ranks sharing this node's memory (MPI_Comm_split_type shared), for dividing its cores among BLAS threads.
    public let nodeLocalRank: Int
    public let nodeLocalSize: Int
    private let world: MPI_Comm
    private var node: MPI_Comm?

    /// Initializes MPI asking for MPI_THREAD_MULTIPLE (rank 0's coordinator thread talks while its worker computes).
    public init() throws {
        var provided: Int32 = 0
        try Communicator.check(MPI_Init_thread(nil, nil, clipcv_mpi_thread_multiple(), &provided), "MPI_Init_thread")
        world = clipcv_mpi_comm_world()
        var value: Int32 = 0
        MPI_Comm_rank(world, &value); rank = Int(value)
        MPI_Comm_size(world, &value); size = Int(value)
        try Communicator.check(MPI_Comm_split_type(world, clipcv_mpi_comm_type_shared(), Int32(rank), clipcv_mpi_info_null(), &node),
                               "MPI_Comm_split_type")
        MPI_Comm_rank(node, &value); nodeLocalRank = Int(value)
        MPI_Comm_size(node, &value); nodeLocalSize = Int(value)
        threadSupport = Int(provided)
    }

    /// The thread level MPI granted (MPI_THREAD_MULTIPLE = 3 for Open MPI built with it).
    public let threadSupport: Int

    /// MPI_THREAD_SERIALIZED or better: any one thread at a time may call MPI, so rank 0's coordinator can run on
    /// its own thread (the worker beside it never calls MPI).
    public var allowsMessagingFromAnyThread: Bool { threadSupport >= Int(clipcv_mpi_thread_serialized()) }

    public func finalize() {
        if node != nil { MPI_Comm_free(&node) }
        MPI_Finalize()
    }

    /// Element-wise sum of `values` over all ranks; every rank gets the result.
    public func allReduceSum(_ values: [Double]) throws -> [Double] {
        var result = [Double](repeating: 0, count: values.count)
        var input = values
        try Communicator.check(MPI_Allreduce(&input, &result, Int32(values.count), clipcv_mpi_double(), clipcv_mpi_sum(), world), "MPI_Allreduce")
        return result
    }

    /// Bitwise OR of `words` over the ranks of this node; every rank of the node gets the result.
    public func nodeAllReduceOr(_ words: [UInt64]) throws -> [UInt64] {
        var result = [UInt64](repeating: 0, count: words.count)
        var input = words
        try Communicator.check(MPI_Allreduce(&input, &result, Int32(words.count), clipcv_mpi_uint64(), clipcv_mpi_bor(), node), "MPI_Allreduce (node)")
        return result
    }

    /// Compute threads for this rank (`ThreadBudget.threadsPerRank`): the cores of this node's ranks (the union of
    /// their affinity masks) divided among them, at most this rank's own cores; `override` wins. With them, the CPUs
    /// to bind them to (`ThreadBudget.cpusToBind`). Collective over the node: every rank calls it.
    public func computeThreads(override: Int? = nil) throws -> (count: Int, cpus: [Int32]?) {
        // Every rank of a node reports the same mask width; pad to 4096 CPUs so the reduction lengths agree anyway.
        var own = ProcessResources.allowedCPUs()
        own += [UInt64](repeating: 0, count: max(0, 64 - own.count))
        own = Array(own.prefix(64))
        let union = try nodeAllReduceOr(own)
        let count = ThreadBudget.threadsPerRank(ownCores: ProcessResources.count(own), nodeCores: ProcessResources.count(union),
                                                ranksOnNode: nodeLocalSize, override: override)
        let cpus = ThreadBudget.cpusToBind(own: ProcessResources.cpus(own), node: ProcessResources.cpus(union),
                                           localRank: nodeLocalRank, ranksOnNode: nodeLocalSize, threads: count)
        return (count, cpus)
    }

    /// Sends `bytes` to `destination` with `tag`.
    public func send(_ bytes: [UInt8], to destination: Int, tag: Int) throws {
        var payload = bytes
        try Communicator.check(MPI_Send(&payload, Int32(payload.count), clipcv_mpi_byte(), Int32(destination), Int32(tag), world), "MPI_Send")
    }

    /// Receives one message from `source` (nil: any rank) with `tag` (nil: any tag), blocking (and, in Open MPI,
    /// spinning) until it arrives. Waiting ranks should prefer `wait(from:tag:)`, which sleeps between polls.
    public func receive(from source: Int? = nil, tag: Int? = nil) throws -> Message {
        var status = MPI_Status()
        try Communicator.check(MPI_Probe(Communicator.source(source), Communicator.tag(tag), world, &status), "MPI_Probe")
        return try receive(probed: status)
    }

    public func poll(from source: Int?, tag: Int?) throws -> Message? {
        var status = MPI_Status()
        var found: Int32 = 0
        try Communicator.check(MPI_Iprobe(Communicator.source(source), Communicator.tag(tag), world, &found, &status), "MPI_Iprobe")
        return found == 0 ? nil : try receive(probed: status)
    }

    public func abort(code: Int32) -> Never {
        MPI_Abort(world, code)
        exit(code)
    }

    public func barrier() throws { try Communicator.check(MPI_Barrier(world), "MPI_Barrier") }

    private func receive(probed status: MPI_Status) throws -> Message {
        var status = status
        var count: Int32 = 0
        MPI_Get_count(&status, clipcv_mpi_byte(), &count)
        var bytes = [UInt8](repeating: 0, count: Int(count))
        try Communicator.check(MPI_Recv(&bytes, count, clipcv_mpi_byte(), status.MPI_SOURCE, status.MPI_TAG, world, clipcv_mpi_status_ignore()), "MPI_Recv")
        return Message(bytes: bytes, source: Int(status.MPI_SOURCE), tag: Int(status.MPI_TAG))
    }

    private static func source(_ source: Int?) -> Int32 { source.map(Int32.init) ?? clipcv_mpi_any_source() }
    private static func tag(_ tag: Int?) -> Int32 { tag.map(Int32.init) ?? clipcv_mpi_any_tag() }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var buffer = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        throw MPIError(description: "\(call) failed: \(String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))")
    }
}
