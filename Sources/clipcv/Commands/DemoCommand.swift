import CLIP
import Cohort
import Foundation
import Sweep

/// `clipcv demo`: the whole experiment on built-in data — a synthetic phantom cohort and a small random-weight CLIP.
let demoCommand = Command(
    name: "demo",
    summary: "run a short sweep on a SYNTHETIC phantom cohort with a small random-weight CLIP, and print its report",
    details: """
    Shows the pipeline end to end without any download: writes a phantom cohort (clipcv synth) and a small CLIP with
    random weights (12 layers per tower, width 64) into OUT, then sweeps the placements with stratified folds plus the
    zero-shot and linear-probe baselines, and prints the report table. The weights are random, so the numbers say how
    well LoRA adapters learn the phantom lesions on top of random features — not what a pretrained CLIP would reach.
    Run it under MPI as the real sweep runs: scripts/demo.sh (mpirun -np 2 clipcv demo).
    """,
    options: [
        .value("out", "DIR", help: "demo directory: cohort/, model/, run/", default: "runs/demo"),
        .value("cases", "N", help: "phantom cases (the study had 182)", default: "182"),
        .value("responders", "N", help: "cases with label 1 (the study had 124 responders)", default: "124"),
        .value("signal", "X", help: "lesion traits' shift between classes, standard deviations", default: "3"),
        .list("placements", "P", help: "placements to compare", default: "lowest:2 highest:2 lowest:6 all"),
        .value("folds", "K", help: "stratified folds", default: "5"),
        .value("epochs", "N", help: "epochs per fine-tuning job", default: "20"),
        .value("seed", "S", help: "seed of cohort, weights and sweep", default: "0"),
        .value("arch", "NAME", help: "random-weight model: demo (width 64) or small (width 256, both 12 layers per tower)", default: "demo"),
        .value("precision", "P", help: "fp32 or bf16", default: "fp32"),
        .flag("resume", help: "continue an interrupted demo run"),
    ],
    run: { arguments in
        let out = URL(fileURLWithPath: try arguments.string("out"))
        let arch = try arguments.string("arch"), precision = try arguments.string("precision")
        let cohort = out.appendingPathComponent("cohort"), model = out.appendingPathComponent("model-\(arch)")
        let seed = UInt64(try arguments.int("seed"))
        let configuration = try CLIPConfiguration.preset(named: arch)
        let phantoms = PhantomSettings(cases: try arguments.int("cases"), responders: try arguments.int("responders"), seed: seed,
                                       signal: try arguments.double("signal"), size: configuration.vision.imageSize, slices: 1)
        try phantoms.validate()
        let world = try Communicator()
        defer { world.finalize() }
        do {
            _ = try world.shareFromRankZero {
                if !FileManager.default.fileExists(atPath: cohort.appendingPathComponent("manifest.csv").path) {
                    stderrLine("demo: writing \(phantoms.cases) synthetic phantom cases to \(cohort.path)")
                    _ = try PhantomCohort(phantoms).write(to: cohort)
                }
                if !FileManager.default.fileExists(atPath: model.appendingPathComponent("config.json").path) {
                    stderrLine("demo: writing a random-weight CLIP (demo preset) to \(model.path)")
                    try RandomCheckpoint.write(configuration, weights: RandomWeights(seed: seed), to: model)
                }
                return true
            }
        } catch SweepError.failedOnRankZero {
            return 1
        }
        var values: [String: JSONValue] = [
            "model": .string(model.path), "data": .string(cohort.appendingPathComponent("manifest.csv").path),
            "classes": .array(["a CT of a tumour that responds to chemotherapy", "a CT of a tumour that does not respond to chemotherapy"].map { .string($0) }),
            "placements": .array(arguments.strings("placements").map { .string($0) }),
            "folds": JSONValue(flagValue: try arguments.string("folds")), "seed": JSONValue(flagValue: try arguments.string("seed")),
            "epochs": JSONValue(flagValue: try arguments.string("epochs")),
            "batch-size": .number(16), "lr": .number(2e-3), "schedule": .string("cosine"), "warmup-steps": .number(3),
            "lora-rank": .number(4), "lora-alpha": .number(8), "lora-targets": .string("q,v,o"), "class-weights": .string("balanced"),
            "precision": .string(precision),
            "out": .string(out.appendingPathComponent(arch == "demo" && precision == "fp32" ? "run" : "run-\(arch)-\(precision)").path),
        ]
        if arguments.flag("resume") { values["resume"] = .bool(true) }
        return try runSweep(SweepConfiguration(values), world: world,
                            extraNotes: ["model": "demo CLIP with RANDOM weights (clipcv demo): the pipeline, not pretrained CLIP's knowledge",
                                         "data": "SYNTHETIC phantom cohort (clipcv synth), signal \(try arguments.string("signal"))"])
    })
