import CMPI
import Foundation

/// An MPI error code turned into a message naming the call that failed.
public struct MPIError: Error, CustomStringConvertible {
    public let description: String
}

/// The MPI world this process runs in. Without `mpirun` it is a world of one rank, so every command works alone.
///
/// Only this layer knows about MPI (DESIGN.md): everything below gets plain values.
public final class Communicator: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Ranks sharing this node's memory (MPI_Comm_split_type shared), for dividing its cores among BLAS threads.
    public let nodeLocalRank: Int
    public let nodeLocalSize: Int
    private let world: MPI_Comm

    /// Initializes MPI with MPI_THREAD_MULTIPLE (rank 0's coordinator thread talks while its worker computes).
    public init() throws {
        var provided: Int32 = 0
        try Communicator.check(MPI_Init_thread(nil, nil, clipcv_mpi_thread_multiple(), &provided), "MPI_Init_thread")
        world = clipcv_mpi_comm_world()
        var value: Int32 = 0
        MPI_Comm_rank(world, &value); rank = Int(value)
        MPI_Comm_size(world, &value); size = Int(value)
        var node: MPI_Comm? = nil
        try Communicator.check(MPI_Comm_split_type(world, clipcv_mpi_comm_type_shared(), Int32(rank), clipcv_mpi_info_null(), &node),
                               "MPI_Comm_split_type")
        MPI_Comm_rank(node, &value); nodeLocalRank = Int(value)
        MPI_Comm_size(node, &value); nodeLocalSize = Int(value)
        MPI_Comm_free(&node)
        threadSupport = Int(provided)
    }

    /// The thread level MPI granted (MPI_THREAD_MULTIPLE = 3 for Open MPI built with it).
    public let threadSupport: Int

    public func finalize() { MPI_Finalize() }

    /// Element-wise sum of `values` over all ranks; every rank gets the result.
    public func allReduceSum(_ values: [Double]) throws -> [Double] {
        var result = [Double](repeating: 0, count: values.count)
        var input = values
        try Communicator.check(MPI_Allreduce(&input, &result, Int32(values.count), clipcv_mpi_double(), clipcv_mpi_sum(), world), "MPI_Allreduce")
        return result
    }

    /// Sends `bytes` to `destination` with `tag`.
    public func send(_ bytes: [UInt8], to destination: Int, tag: Int) throws {
        var payload = bytes
        try Communicator.check(MPI_Send(&payload, Int32(payload.count), clipcv_mpi_byte(), Int32(destination), Int32(tag), world), "MPI_Send")
    }

    /// Receives one message from `source` (nil: any rank) with `tag` (nil: any tag); returns its bytes, sender and tag.
    public func receive(from source: Int? = nil, tag: Int? = nil) throws -> (bytes: [UInt8], source: Int, tag: Int) {
        var status = MPI_Status()
        try Communicator.check(MPI_Probe(Int32(source ?? Int(clipcv_mpi_any_source())), Int32(tag ?? Int(clipcv_mpi_any_tag())), world, &status), "MPI_Probe")
        var count: Int32 = 0
        MPI_Get_count(&status, clipcv_mpi_byte(), &count)
        var bytes = [UInt8](repeating: 0, count: Int(count))
        try Communicator.check(MPI_Recv(&bytes, count, clipcv_mpi_byte(), status.MPI_SOURCE, status.MPI_TAG, world, clipcv_mpi_status_ignore()), "MPI_Recv")
        return (bytes, Int(status.MPI_SOURCE), Int(status.MPI_TAG))
    }

    public func barrier() throws { try Communicator.check(MPI_Barrier(world), "MPI_Barrier") }

    private static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var buffer = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        throw MPIError(description: "\(call) failed: \(String(cString: buffer))")
    }
}
