import Foundation
import Sweep

/// `clipcv mpi-check`: proves that MPI launches and communicates (an allreduce over every rank).
let mpiCheckCommand = Command(
    name: "mpi-check",
    summary: "MPI self-check: every rank joins an allreduce; rank 0 prints the result as JSON",
    details: "Run as `mpirun -np N clipcv mpi-check`; alone it checks a world of one rank. Exit status 1 if the sum is wrong.",
    options: [],
    run: { _ in
        let world = try Communicator()
        defer { world.finalize() }
        // Each rank contributes (rank + 1, 1); the sums must be N(N+1)/2 and N.
        let sums = try world.allReduceSum([Double(world.rank + 1), 1])
        let expected = Double(world.size * (world.size + 1) / 2)
        let passed = sums[0] == expected && sums[1] == Double(world.size)
        if world.rank == 0 {
            print(#"{"ranks":\#(world.size),"node_local_ranks":\#(world.nodeLocalSize),"allreduce_sum":\#(Int(sums[0])),"expected":\#(Int(expected)),"thread_support":\#(world.threadSupport),"ok":\#(passed)}"#)
        }
        return passed ? 0 : 1
    })
