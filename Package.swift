// swift-tools-version:6.0
// clipcv: where in CLIP should LoRA adapters go? Layers, lowest first (see ../shared/DESIGN.md):
// C module maps → BLASCore → CLIP / Cohort → Training → Sweep → clipcv; Evaluation stands alone.
import PackageDescription

let optimize: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

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

        // The shared compute core: tensors, GEMM, kernels with forward and backward side by side.
        .target(name: "BLASCore", dependencies: ["CBLAS"], swiftSettings: optimize),

        // Plans sweeps, schedules jobs over MPI ranks, stores results, writes reports. The only layer that knows MPI.
        .target(name: "Sweep", dependencies: ["CMPI"], swiftSettings: optimize),

        .executableTarget(name: "clipcv", dependencies: ["BLASCore", "Sweep"], swiftSettings: optimize),

        .testTarget(name: "BLASCoreTests", dependencies: ["BLASCore"]),
        .testTarget(name: "clipcvTests", dependencies: []),
    ]
)
