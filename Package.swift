// swift-tools-version:6.0
// clipcv: where in CLIP should LoRA adapters go? Layers, lowest first (see ../shared/DESIGN.md):
// C module maps → BLASCore → CLIP / Cohort → Training → Sweep → clipcv; Evaluation stands alone.
import PackageDescription

// Release builds drop overflow checks in kernels; on x86-64, AVX2 + FMA (every HPC node since 2013) lets the
// eight-lane elementwise kernels use full-width registers.
#if arch(x86_64)
let releaseFlags = ["-Ounchecked", "-target-cpu", "haswell"]
#else
let releaseFlags = ["-Ounchecked"]
#endif
let optimize: [SwiftSetting] = [.unsafeFlags(releaseFlags, .when(configuration: .release))]

let package = Package(
    name: "clipcv",
    platforms: [.macOS(.v14)],
    products: [.executable(name: "clipcv", targets: ["clipcv"])],
    targets: [
        // System libraries (Debian packages installed by scripts/setup.sh).
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CStb", path: "Sources/CStb", pkgConfig: "stb", providers: [.apt(["libstb-dev"])]),
        // libnifti2-dev has no pkg-config file and its nifti2_io.h includes <znzlib.h> from /usr/include/nifti: a C
        // target, whose include/ folder (module map, shim, a forwarding znzlib.h) reaches every client's search path.
        .target(name: "CNIfTI", path: "Sources/CNIfTI"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),

        // The shared compute core: tensors, GEMM, kernels with forward and backward side by side.
        .target(name: "BLASCore", dependencies: ["CBLAS", "CDNNL"], swiftSettings: optimize),

        // Hugging Face CLIP: config, safetensors, BPE tokenizer, both towers, LoRA adapters, forward and backward.
        .target(name: "CLIP", dependencies: ["BLASCore"], swiftSettings: optimize),
        // Cohorts: manifest, image readers, CT windowing, CLIP preprocessing, augmentation, folds, phantoms.
        .target(name: "Cohort", dependencies: ["BLASCore", "CStb", "CNIfTI", "CZlib"], swiftSettings: optimize),
        // One fine-tuning job: loss over class prompts, AdamW, schedules, the epoch loop.
        .target(name: "Training", dependencies: ["CLIP", "Cohort"], swiftSettings: optimize),
        // Clinical metrics, exactly as scikit-learn computes them; depends on nothing.
        .target(name: "Evaluation", swiftSettings: optimize),
        // Plans sweeps, schedules jobs over MPI ranks, stores results, writes reports. The only layer that knows MPI.
        .target(name: "Sweep", dependencies: ["BLASCore", "Training", "Evaluation", "CMPI"], swiftSettings: optimize),

        .executableTarget(name: "clipcv", dependencies: ["BLASCore", "CLIP", "Cohort", "Training", "Evaluation", "Sweep"], swiftSettings: optimize),

        // Fixture loading and finite-difference helpers shared by the test targets.
        .target(name: "TestSupport", dependencies: ["BLASCore"], path: "Tests/TestSupport"),
        .testTarget(name: "BLASCoreTests", dependencies: ["BLASCore", "TestSupport"]),
        .testTarget(name: "CLIPTests", dependencies: ["CLIP", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "CohortTests", dependencies: ["Cohort"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation"], exclude: ["Fixtures"]),
        .testTarget(name: "SweepTests", dependencies: ["Sweep"]),
        .testTarget(name: "clipcvTests", dependencies: ["clipcv"]),
    ]
)
