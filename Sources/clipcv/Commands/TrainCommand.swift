import BLASCore
import CLIP
import Foundation
import Cohort
import Training

/// `clipcv train`: one fine-tuning run on every case of a manifest, saved as a PEFT adapter.
let trainCommand = Command(
    name: "train",
    summary: "fine-tune LoRA adapters on a cohort and save them as a PEFT adapter directory",
    details: """
    Label i of the manifest means class prompt i of --classes (labels may be 0/1 or the prompt texts). Writes
    OUT/adapter_config.json and OUT/adapter_model.safetensors, loadable with
    PeftModel.from_pretrained(CLIPModel.from_pretrained(MODEL), OUT). With --init-adapter, training starts from that
    adapter (its rank, alpha, dropout, targets and layers are used). Progress on stderr.
    """,
    options: [
        .value("model", "DIR", help: "Hugging Face CLIP directory (config.json, model.safetensors, vocab.json, merges.txt)", required: true),
        tokenizerOption,
        .value("data", "CSV", help: "manifest: case_id,label,image[,slice,mask,fold,text]", required: true),
        .list("classes", "PROMPT", help: "class prompts, label order", required: true),
        .value("save-adapter", "DIR", help: "where to write the trained PEFT adapter", required: true),
        .value("init-adapter", "DIR", help: "start from this PEFT adapter instead of fresh adapters"),
        .value("placement", "P", help: "adapted layers: \(Placement.grammar)", default: "lowest:5"),
        .value("seed", "S", help: "seed of adapter init, shuffling, augmentation and dropout", default: "0"),
        .value("log", "FILE", help: "one JSON object per optimizer step: step, epoch, loss, lr"),
    ] + FineTuningOptions.options,
    run: { arguments in
        useComputeThreads()
        let configuration = try FineTuningOptions.configuration(arguments)
        let modelDirectory = URL(fileURLWithPath: try arguments.string("model"))
        let experiment = try Experiment(modelDirectory: modelDirectory, tokenizerDirectory: tokenizerDirectory(arguments), manifest: URL(fileURLWithPath: try arguments.string("data")),
                                        classes: arguments.strings("classes"), configuration: configuration)
        let seed = UInt64(try arguments.int("seed"))
        let placement = try Placement(parsing: try arguments.string("placement"))
        var initialAdapter: PEFTAdapter?
        if let directory = arguments.optionalString("init-adapter") {
            initialAdapter = try PEFTAdapter(directory: URL(fileURLWithPath: directory))
            for flag in ["placement", "lora-rank", "lora-alpha", "lora-targets", "rslora"] where arguments.isSet(flag) {
                throw UsageError("--\(flag) conflicts with --init-adapter, which fixes placement, rank, alpha and targets")
            }
        }
        try experiment.placeAdapters(placement, seed: seed, initialAdapter: initialAdapter)
        let cases = Array(experiment.manifest.cases.indices)
        let tuner = try experiment.fineTuner(trainLabels: experiment.labels, seed: seed)
        let log = try arguments.optionalString("log").map { try LineWriter(path: $0) }
        let stepsPerEpoch = (cases.count + configuration.training.batchSize - 1) / configuration.training.batchSize
        let totalSteps = stepsPerEpoch * configuration.training.epochs
        let progress = Progress(total: totalSteps, unit: "steps")
        stderrLine("train: \(cases.count) cases, \(experiment.model.adapters.count) adapted modules (\(experiment.model.placement)), \(totalSteps) steps")
        try tuner.train(experiment.images, cases: cases, labels: experiment.labels) { record in
            log?.write(#"{"step":\#(record.step),"epoch":\#(record.epoch),"loss":\#(record.loss),"lr":\#(record.lr)}"#)
            progress.advance(to: record.step, note: "epoch \(record.epoch) loss \(String(format: "%.4f", record.loss))")
        }
        try PEFTAdapter(model: experiment.model).write(to: URL(fileURLWithPath: try arguments.string("save-adapter")), baseModel: try arguments.string("model"))
        stderrLine("train: adapter saved to \(try arguments.string("save-adapter"))")
        return 0
    })

/// `clipcv predict`: a saved adapter (ours or PEFT's) applied to new cases.
let predictCommand = Command(
    name: "predict",
    summary: "score cases with a trained adapter: CSV case_id,label,score (score = P(class 1))",
    details: "Applies a PEFT adapter directory (from clipcv train or from PEFT) to the cases of a manifest; labels may be absent.",
    options: [
        .value("model", "DIR", help: "Hugging Face CLIP directory", required: true),
        tokenizerOption,
        .value("adapter", "DIR", help: "PEFT adapter directory (adapter_config.json, adapter_model.safetensors)", required: true),
        .value("data", "CSV", help: "manifest: case_id[,label],image[,…]", required: true),
        .list("classes", "PROMPT", help: "class prompts, label order (as in training)", required: true),
        .value("output", "CSV", help: "predictions file", required: true),
        .value("batch-size", "B", help: "images per forward pass", default: "16"),
    ] + FineTuningOptions.options("window", "roi-margin", "logit-scale", "preprocessed"),
    run: { arguments in
        useComputeThreads()
        var configuration = FineTuningConfiguration()
        configuration.window = try arguments.string("window")
        configuration.roiMargin = try arguments.int("roi-margin")
        configuration.logitScale = try arguments.optionalDouble("logit-scale").map(Float.init)
        configuration.preprocessed = arguments.flag("preprocessed")
        configuration.training.batchSize = try arguments.int("batch-size")
        configuration.training.augment = false
        let experiment = try Experiment(modelDirectory: URL(fileURLWithPath: try arguments.string("model")), tokenizerDirectory: tokenizerDirectory(arguments),
                                        manifest: URL(fileURLWithPath: try arguments.string("data")),
                                        classes: arguments.strings("classes"), configuration: configuration, requireLabels: false)
        let adapter = try PEFTAdapter(directory: URL(fileURLWithPath: try arguments.string("adapter")))
        try experiment.placeAdapters(adapter.placement, seed: 0, initialAdapter: adapter)
        let cases = Array(experiment.manifest.cases.indices)
        let scores = try experiment.scores(try experiment.fineTuner(trainLabels: [], seed: 0), cases: cases)
        var lines = ["case_id,label,score"]
        for (index, score) in zip(cases, scores) {
            let item = experiment.manifest.cases[index]
            lines.append(CSVTable.line([item.id, item.label.map(String.init) ?? "", "\(Float(score))"]))
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: try arguments.string("output"), atomically: true, encoding: .utf8)
        stderrLine("predict: \(cases.count) cases scored to \(try arguments.string("output"))")
        return 0
    })
