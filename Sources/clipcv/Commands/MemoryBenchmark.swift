import BLASCore
import CLIP
import Foundation
import Sweep
import Training

/// `bench memory`: what N ranks of one node use together while training, counted fairly. Run it under
/// `mpirun -np N`: every rank memory-maps the same checkpoint, trains a few steps, and reports its proportional set
/// size (shared pages — the frozen weights — divided among the ranks that map them); rank 0 prints the sum.
enum MemoryBenchmark {
    struct Report: Encodable {
        let benchmark = "memory"
        let architecture: String
        let placement: String
        let batch: Int
        let ranks: Int
        let checkpointMb: Double
        let pssTotalMb: Double
        let pssPerRankMb: [Double]
        let rssPerRankMb: [Double]
    }

    static func run(architecture: String, modelDirectory: URL, placement: String, targets: [LoRATarget], rank: Int, batch: Int) throws {
        let world = try Communicator()
        defer { world.finalize() }
        let threads = try world.computeThreads()
        useComputeThreads(count: threads.count, cpus: threads.cpus)
        _ = try world.shareFromRankZero {
            if !FileManager.default.fileExists(atPath: modelDirectory.appendingPathComponent("config.json").path) {
                stderrLine("bench memory: writing a random \(architecture) checkpoint to \(modelDirectory.path)")
                try RandomCheckpoint.write(try CLIPConfiguration.preset(named: architecture), weights: RandomWeights(seed: 1), to: modelDirectory)
            }
            return true
        }
        let step = try TrainingStep(model: try CLIPModel(checkpoint: try Checkpoint(directory: modelDirectory)), placement: placement,
                                    targets: targets, rank: rank, batch: batch, cache: false)
        for _ in 0..<2 { _ = try step.run() }
        // Measure once every rank has mapped and touched the weights (shared pages are split among all of them).
        try world.barrier()
        var slots = [Double](repeating: 0, count: 2 * world.size)  // one slot per rank, summed: all see all
        slots[world.rank] = ProcessResources.proportionalSetMegabytes() ?? 0
        slots[world.size + world.rank] = ProcessResources.peakResidentMegabytes() ?? 0
        let all = try world.allReduceSum(slots)
        guard world.rank == 0 else { return }
        let checkpointBytes = try FileManager.default.contentsOfDirectory(at: modelDirectory, includingPropertiesForKeys: [.fileSizeKey])
            .filter { $0.lastPathComponent.hasSuffix(".safetensors") }
            .reduce(0) { $0 + ((try? $1.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0) }
        let pss = Array(all[0..<world.size]), rss = Array(all[world.size...])
        try printJSON(Report(architecture: architecture, placement: placement, batch: batch, ranks: world.size,
                             checkpointMb: Double(checkpointBytes) / 1_048_576, pssTotalMb: pss.reduce(0, +),
                             pssPerRankMb: pss, rssPerRankMb: rss))
    }
}
