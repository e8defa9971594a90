import BLASCore
import CLIP
import Foundation

/// `clipcv bench <what>`: throughput figures as one JSON object on stdout.
let benchCommand = Command(
    name: "bench",
    summary: "measure throughput (GFLOP/s, GB/s, seconds per step) and print one JSON object",
    details: """
    benchmarks:
      gemm    GFLOP/s for the GEMM shapes of a ViT-B/32 layer at batch 16 (M = 800 tokens) forward and
              backward, and 2048³, in fp32 (OpenBLAS sgemm) and bf16 (oneDNN, with the kernel it picked);
              GB/s of the elementwise kernels
      encode  16 images + 2 prompts through a random-init CLIP built in memory (--arch), seconds and GFLOP/s
      train   one LoRA training step (--placement, --lora-targets, --lora-rank, --batch): step_s, forward_s,
              backward_s, optimizer_s, achieved GFLOP/s and its fraction of the sgemm rate measured in the same run
      job     estimated time of one fold of a study-sized job (182 cases, 5 folds, 30 epochs, batch 16)
      memory  under `mpirun -np N`: proportional set size (Pss) of N ranks training on one memory-mapped checkpoint
    Figures are medians over --repeats runs after a warm-up. --precision bf16 runs the big products in bf16.
    """,
    positionals: "BENCHMARK",
    options: [
        .value("threads", "N", help: "compute threads, bound one per CPU (CLIPCV_BIND_THREADS=0: unbound)", default: "all cores"),
        .value("repeats", "N", help: "timed repetitions per figure (the median is reported)", default: "5"),
        .value("arch", "NAME", help: "encode/train: architecture built in memory with random weights (vit-b-32, vit-b-16, demo)", default: "vit-b-32"),
        .value("batch", "N", help: "encode/train: images per batch", default: "16"),
        .value("placement", "P", help: "train: LoRA placement", default: "lowest:5"),
        .value("lora-targets", "LIST", help: "train: adapted modules", default: "q,v"),
        .value("lora-rank", "R", help: "train: LoRA rank", default: "8"),
        .flag("frozen-prefix-cache", help: "train: start from cached outputs of the frozen layers below the adapters"),
        .value("model", "DIR", help: "memory: checkpoint every rank maps (a random one of --arch is written there if absent)", default: "/tmp/clipcv-bench-vit-b-32"),
        .value("precision", "P", help: "encode/train: GEMM precision, fp32 or bf16 (bf16 operands, fp32 accumulation; gemm always reports both)", default: "fp32"),
    ],
    run: { arguments in
        guard let which = arguments.positional.first, arguments.positional.count == 1 else {
            throw UsageError("name one benchmark: gemm")
        }
        if which != "memory" {  // memory runs under mpirun and shares the node's cores among its ranks
            let threads = arguments.optionalString("threads")
            useComputeThreads(requested: threads == nil || threads == "all cores" ? nil : try arguments.int("threads"))
        }
        let repeats = try arguments.int("repeats")
        func targets() throws -> [LoRATarget] {
            try arguments.string("lora-targets").split(separator: ",").map { try LoRATarget(parsing: String($0)) }
        }
        let precision = try arguments.string("precision")
        guard let selected = GEMM.Precision(rawValue: precision) else {
            throw UsageError("--precision must be fp32 or bf16, not '\(precision)'")
        }
        GEMM.precision = selected
        switch which {
        case "gemm": try printJSON(GEMMBenchmark.run(repeats: repeats))
        case "encode":
            let architecture = try arguments.string("arch")
            try printJSON(ModelBenchmarks.encode(try ModelBenchmarks.model(architecture), architecture: architecture,
                                                 images: try arguments.int("batch"), repeats: repeats))
        case "train":
            let architecture = try arguments.string("arch")
            try printJSON(ModelBenchmarks.train(try ModelBenchmarks.model(architecture), architecture: architecture,
                                                placement: try arguments.string("placement"),
                                                targets: try targets(), rank: try arguments.int("lora-rank"), batch: try arguments.int("batch"),
                                                steps: repeats, cache: arguments.flag("frozen-prefix-cache")))
        case "job":
            try printJSON(ModelBenchmarks.job(architecture: try arguments.string("arch"), placement: try arguments.string("placement"),
                                              targets: try targets(), rank: try arguments.int("lora-rank"), repeats: repeats))
        case "memory":
            try MemoryBenchmark.run(architecture: try arguments.string("arch"), modelDirectory: URL(fileURLWithPath: try arguments.string("model")),
                                    placement: try arguments.string("placement"), targets: try targets(), rank: try arguments.int("lora-rank"),
                                    batch: try arguments.int("batch"))
        default: throw UsageError("unknown benchmark '\(which)' (known: gemm, encode, train, job, memory)")
        }
        return 0
    })

/// Median wall-clock seconds of `body` over `repeats` runs, after one untimed warm-up run.
func medianSeconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<Swift.max(1, repeats) {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

enum GEMMBenchmark {
    struct Shape: Encodable {
        let name: String, m: Int, n: Int, k: Int
        /// Whether B is used transposed, as `Linear.forward` uses its `[out, in]` weight.
        var transposeB = false
        var gflops = 0.0
        var seconds = 0.0
        var bf16Gflops = 0.0
        var bf16Seconds = 0.0
        var bf16Speedup = 0.0
        var bf16Implementation = ""
    }
    struct Kernel: Encodable {
        let name: String
        let elements: Int
        var bytes: Int
        var gbPerSecond = 0.0
    }
    struct Report: Encodable {
        let benchmark = "gemm"
        let threads: Int
        let openblasCore: String
        let gemm: [Shape]
        let elementwise: [Kernel]
    }

    /// ViT-B/32 at batch 16: 16 × 50 tokens, width 768, MLP 3072. Forward shapes are x·Wᵀ with PyTorch's
    /// `[out, in]` weights; backward shapes are the input-gradient products dX = dY·W (the only weight-side
    /// GEMMs a frozen base needs). One attention head (scores Q·Kᵀ) shows the small products bf16 leaves in fp32.
    static let shapes: [Shape] = [
        Shape(name: "qkv_forward", m: 800, n: 2304, k: 768, transposeB: true),
        Shape(name: "fc1_forward", m: 800, n: 3072, k: 768, transposeB: true),
        Shape(name: "fc2_forward", m: 800, n: 768, k: 3072, transposeB: true),
        Shape(name: "qkv_backward_input", m: 800, n: 768, k: 2304, transposeB: false),
        Shape(name: "fc1_backward_input", m: 800, n: 768, k: 3072, transposeB: false),
        Shape(name: "fc2_backward_input", m: 800, n: 3072, k: 768, transposeB: false),
        Shape(name: "attention_head_scores", m: 50, n: 50, k: 64, transposeB: true),
        Shape(name: "square_2048", m: 2048, n: 2048, k: 2048, transposeB: false),
    ]

    static func run(repeats: Int) throws -> Report {
        let savedPrecision = GEMM.precision
        defer { GEMM.precision = savedPrecision }
        var measured: [Shape] = []
        for var shape in shapes {
            let a = randomTensor([shape.m, shape.k]), c = Tensor(zeros: [shape.m, shape.n])
            let b = randomTensor(shape.transposeB ? [shape.n, shape.k] : [shape.k, shape.n])
            let flops = 2 * Double(shape.m * shape.n * shape.k)
            // Small products take microseconds: time enough of them per sample to rise above timer noise.
            let batch = Swift.max(1, Int(1e8 / flops))
            let product = { for _ in 0..<batch { try GEMM.multiply(a, b, into: c, transposeB: shape.transposeB) } }
            GEMM.precision = .float32
            shape.seconds = try medianSeconds(repeats: repeats, product) / Double(batch)
            shape.gflops = flops / shape.seconds / 1e9
            GEMM.precision = .bfloat16
            shape.bf16Seconds = try medianSeconds(repeats: repeats, product) / Double(batch)
            shape.bf16Gflops = flops / shape.bf16Seconds / 1e9
            shape.bf16Speedup = shape.seconds / shape.bf16Seconds
            shape.bf16Implementation = GEMM.implementation(transposeB: shape.transposeB, m: shape.m, n: shape.n, k: shape.k)
            measured.append(shape)
        }
        return Report(threads: BLASThreads.count, openblasCore: BLASThreads.coreName, gemm: measured,
                      elementwise: try elementwise(repeats: repeats))
    }

    /// Streaming kernels on ViT-B/32 activations; bytes = every tensor read or written once.
    static func elementwise(repeats: Int) throws -> [Kernel] {
        let rows = 800, width = 768, hidden = 3072
        let x = randomTensor([rows, hidden]), y = Tensor(zeros: [rows, hidden]), dx = Tensor(zeros: [rows, hidden])
        let h = randomTensor([rows, width]), hOut = Tensor(zeros: [rows, width]), dh = Tensor(zeros: [rows, width])
        let weight = randomTensor([width]), bias = randomTensor([width])
        let mean = Tensor(zeros: [rows]), rstd = Tensor(zeros: [rows])
        let scores = randomTensor([16 * 12, 50, 50]), probabilities = Tensor(zeros: [16 * 12, 50, 50])
        let f = MemoryLayout<Float>.size
        var kernels: [(Kernel, () throws -> Void)] = [
            (Kernel(name: "quick_gelu_forward", elements: x.count, bytes: 2 * x.count * f),
             { try QuickGELU.forward(output: y, input: x) }),
            (Kernel(name: "quick_gelu_backward", elements: x.count, bytes: 4 * x.count * f),
             { try QuickGELU.backward(inputGradient: dx, outputGradient: y, input: x) }),
            (Kernel(name: "layer_norm_forward", elements: h.count, bytes: 2 * h.count * f),
             { try LayerNorm.forward(output: hOut, mean: mean, reciprocalStd: rstd, input: h, weight: weight, bias: bias, epsilon: 1e-5) }),
            (Kernel(name: "layer_norm_backward", elements: h.count, bytes: 4 * h.count * f),
             { try LayerNorm.backward(inputGradient: dh, weightGradient: nil, biasGradient: nil, outputGradient: hOut, input: h,
                                      weight: weight, mean: mean, reciprocalStd: rstd) }),
            (Kernel(name: "softmax_causal_forward", elements: scores.count, bytes: 2 * scores.count * f),
             { try Softmax.forward(output: probabilities, input: scores, causal: true) }),
            (Kernel(name: "residual_forward", elements: h.count, bytes: 3 * h.count * f),
             { try Residual.forward(output: hOut, h, dh) }),
        ]
        for index in kernels.indices {
            let seconds = try medianSeconds(repeats: Swift.max(repeats, 20), kernels[index].1)
            kernels[index].0.gbPerSecond = Double(kernels[index].0.bytes) / seconds / 1e9
        }
        return kernels.map(\.0)
    }

    static func randomTensor(_ shape: [Int]) -> Tensor {
        let tensor = Tensor(zeros: shape)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<tensor.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            tensor[i] = Float(Int64(bitPattern: state >> 11) % 2000) / 1000 - 1
        }
        return tensor
    }
}
