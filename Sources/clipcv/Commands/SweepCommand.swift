import BLASCore
import CLIP
import Cohort
import Foundation
import Sweep
import Training

/// Flags of `clipcv sweep` beyond the shared fine-tuning ones; a `--config` JSON file may hold the same keys.
private let sweepOptions: [Option] = [
    .value("config", "JSON", help: "sweep settings file (keys = these flag names, e.g. scripts/sweeps/paper.json); flags override it"),
    .value("model", "DIR", help: "Hugging Face CLIP directory"),
    tokenizerOption,
    .value("data", "CSV", help: "manifest: case_id,label,image[,slice,mask,fold,text]"),
    .list("classes", "PROMPT", help: "class prompts, label order"),
    .list("placements", "P", help: "placements to compare: \(Placement.grammar)"),
    .value("folds", "K", help: "stratified folds (a manifest fold column or --folds-file is used when present)", default: "5"),
    .value("repeats", "R", help: "repetitions of the k-fold split, each with its own shuffle", default: "1"),
    .value("seed", "S", help: "run seed: folds, and every job's seed with its placement, fold and repeat", default: "0"),
    .value("folds-file", "CSV", help: "reuse splits made elsewhere: case_id,fold[,repeat]"),
    .value("out", "RUNDIR", help: "run directory (written by rank 0 only)"),
    .flag("resume", help: "continue the run in RUNDIR: finished jobs are kept, failed ones rerun"),
    .flag("verbose", help: "per-epoch lines from every job"),
    .value("threads-per-rank", "T", help: "compute threads per rank (default: the node's cores divided among its ranks), bound one per core (CLIPCV_BIND_THREADS=0: unbound)"),
]

/// The sweep's own flags and the fine-tuning flags, as one command for parsing settings from flags or a config file.
private let sweepSettingsCommand = Command(name: "sweep", summary: "", options: sweepOptions + FineTuningOptions.options, run: { _ in 0 })

let sweepCommand = Command(
    name: "sweep",
    summary: "cross-validate LoRA placements (placements × folds × repeats, plus zero-shot and linear-probe baselines) into one report",
    details: """
    Run alone (`clipcv sweep …`) or under MPI (`mpirun -np N clipcv sweep …`, or scripts/sweep.sh): rank 0 hands jobs to
    whichever rank is free, also works itself, and alone writes RUNDIR: plan.json, results.jsonl (one line per finished
    job, flushed before the next is handed out), predictions.csv, metrics.csv, report.md, report.json, roc.svg,
    auc_by_placement.svg. Predictions do not depend on the number of ranks. Killed runs continue with --resume.
    Required (as flags or config keys): model, data, classes, placements, out.
    """,
    options: sweepOptions + FineTuningOptions.options,
    run: { arguments in
        var settings = SweepConfiguration()
        if let config = arguments.optionalString("config") { settings = try SweepConfiguration(contentsOf: URL(fileURLWithPath: config)) }
        let world = try Communicator()
        defer { world.finalize() }
        return try runSweep(settings.merging(flagSettings(arguments)), world: world)
    })

let reportCommand = Command(
    name: "report",
    summary: "rebuild a sweep's report files from RUNDIR/plan.json and results.jsonl",
    details: "Writes predictions.csv, metrics.csv, report.md, report.json, roc.svg and auc_by_placement.svg, and prints the table.",
    positionals: "RUNDIR",
    options: [],
    run: { arguments in
        guard arguments.positional.count == 1 else { throw UsageError("name one run directory") }
        let directory = URL(fileURLWithPath: arguments.positional[0])
        let report = try SweepReport(runDirectory: directory)
        try report.write(to: directory)
        print(report.table())
        return 0
    })

/// The flags given on the command line as config-file values (`--lr 2e-4` → `"lr": 0.0002`).
private func flagSettings(_ arguments: ParsedArguments) -> [String: JSONValue] {
    var values: [String: JSONValue] = [:]
    for (name, words) in arguments.given where name != "config" {
        switch arguments.command.options.first(where: { $0.name == name })!.kind {
        case .flag: values[name] = .bool(true)
        case .value: values[name] = JSONValue(flagValue: words.last!)
        case .list: values[name] = .array(words.map { .string($0) })
        }
    }
    return values
}

/// Command-line words that say what `settings` say, so that flags and config files go through one parser.
private func words(_ settings: SweepConfiguration) throws -> [String] {
    var words: [String] = []
    for (key, value) in settings.values.sorted(by: { $0.key < $1.key }) {
        guard let option = sweepSettingsCommand.options.first(where: { $0.name == key }) else {
            throw UsageError("unknown sweep setting '\(key)'")
        }
        switch (option.kind, value) {
        case (.flag, .bool(let on)): if on { words.append("--\(key)") }
        case (.flag, _): throw UsageError("setting '\(key)' must be true or false, got \(value)")
        case (.list, .array(let items)): words += ["--\(key)"] + items.map(plain)
        case (.list, _), (.value, _): words += ["--\(key)", plain(value)]
        }
    }
    return words
}

private func plain(_ value: JSONValue) -> String {
    if case .string(let text) = value { return text }
    return value.description
}

/// Resolves the settings, plans on rank 0, runs every rank's share of the jobs, and has rank 0 write the report.
func runSweep(_ settings: SweepConfiguration, world: Communicator, extraNotes: [String: String] = [:]) throws -> Int32 {
    let resolved = try sweepSettingsCommand.parse(try words(settings))
    for required in ["model", "data", "classes", "placements", "out"] where !resolved.isSet(required) {
        throw UsageError("missing --\(required) (flag or config key)")
    }
    let configuration = try FineTuningOptions.configuration(resolved)
    let modelDirectory = URL(fileURLWithPath: try resolved.string("model"))
    let manifestURL = URL(fileURLWithPath: try resolved.string("data"))
    let foldsFile = resolved.optionalString("folds-file").map { URL(fileURLWithPath: $0) }
    let out = URL(fileURLWithPath: try resolved.string("out"))

    let threads = try world.computeThreads(override: try resolved.optionalInt("threads-per-rank"))
    useComputeThreads(count: threads.count, cpus: threads.cpus)
    var directory: RunDirectory?
    let plan: SweepPlan
    do {
        plan = try world.shareFromRankZero {
            let experiment = try Experiment(modelDirectory: modelDirectory, tokenizerDirectory: tokenizerDirectory(resolved),
                                            manifest: manifestURL, classes: resolved.strings("classes"), configuration: configuration)
            for text in resolved.strings("placements") {
                let placement = try Placement(parsing: text)
                for tower in Tower.allCases { _ = try placement.layers(of: tower, layerCount: experiment.model.stack(tower).layers.count) }
            }
            // Every setting resolved (defaults included) goes into plan.json, so --resume compares all of them.
            var values: [String: JSONValue] = [:]
            // Locations and run control are not results: they stay out (the content behind them is hashed instead).
            for option in sweepSettingsCommand.options where !["config", "resume", "verbose", "tokenizer", "folds-file", "threads-per-rank"].contains(option.name) {
                switch option.kind {
                case .flag: values[option.name] = .bool(resolved.flag(option.name))
                case .value: if let text = resolved.optionalString(option.name) { values[option.name] = JSONValue(flagValue: text) }
                case .list: values[option.name] = .array(resolved.strings(option.name).map { .string($0) })
                }
            }
            let cohortFiles = [manifestURL] + experiment.manifest.cases.flatMap { [$0.image] + ($0.mask.map { [$0] } ?? []) } + (foldsFile.map { [$0] } ?? [])
            let checkpointFiles = try FileManager.default.contentsOfDirectory(at: modelDirectory, includingPropertiesForKeys: nil)
                .filter { ["config.json", "preprocessor_config.json", "vocab.json", "merges.txt"].contains($0.lastPathComponent) || $0.lastPathComponent.contains(".safetensors") }
                .sorted { $0.path < $1.path }
            var notes = extraNotes
            notes["model"] = notes["model"] ?? modelDirectory.path
            notes["cases"] = "\(experiment.manifest.cases.count) (\(experiment.labels.filter { $0 == 1 }.count) of class 1)"
            let plan = try SweepConfiguration(values).plan(
                cohortHash: try ContentHash.of(files: cohortFiles, relativeTo: manifestURL.deletingLastPathComponent()),
                checkpointHash: try ContentHash.of(files: checkpointFiles, relativeTo: modelDirectory),
                versions: ["clipcv": clipcvVersion], notes: notes)
            directory = try RunDirectory(url: out, plan: plan, resume: resolved.flag("resume"))
            stderrLine("sweep: \(plan.jobs.count) jobs (\(plan.placements.count) placements + 2 baselines × \(plan.folds) folds × \(plan.repetitions) repeats) on \(world.size) rank\(world.size == 1 ? "" : "s") × \(BLASThreads.count) BLAS thread\(BLASThreads.count == 1 ? "" : "s"); run directory \(out.path)")
            return plan
        }
    } catch SweepError.failedOnRankZero {
        return 1  // rank 0 printed why
    }

    let summary = try SweepScheduler.run(
        on: world, directory: directory, options: .init(forwardJobLogs: resolved.flag("verbose")),
        makeRunner: {
            let experiment = try Experiment(modelDirectory: modelDirectory, tokenizerDirectory: tokenizerDirectory(resolved),
                                            manifest: manifestURL, classes: resolved.strings("classes"), configuration: configuration)
            let folds = try FoldAssignment.resolve(for: experiment.manifest, folds: plan.folds, repeats: plan.repetitions, seed: plan.seed, file: foldsFile)
            return CrossValidationRunner(experiment: experiment, folds: folds)
        },
        progress: { stderrLine($0) })
    guard let summary, let directory else { return 0 }
    let report = try SweepReport(runDirectory: directory.url)
    try report.write(to: directory.url)
    print(report.table())
    print("report: \(directory.url.appendingPathComponent("report.md").path)")
    stderrLine(summary.description)
    return summary.isComplete ? 0 : 1
}

/// One sweep job = one `Experiment.run` on its fold's split.
struct CrossValidationRunner: JobRunner {
    let experiment: Experiment
    let folds: FoldAssignment

    func run(_ job: SweepJob, log: (String) -> Void) throws -> JobOutcome {
        let split = folds.split(repeat: job.repetition, fold: job.fold)
        let method: JobMethod = switch job.kind {
        case .fineTune: .fineTune(try Placement(parsing: job.placement))
        case .zeroShot: .zeroShot
        case .linearProbe: .linearProbe
        }
        let result = try experiment.run(method, train: split.train, test: split.test, seed: job.seed, log: log)
        let scores = zip(split.test, result.scores).map { index, score in
            CaseScore(caseID: experiment.manifest.cases[index].id, label: experiment.labels[index], score: score)
        }
        return JobOutcome(scores: scores, epochLosses: result.epochLosses)
    }
}
