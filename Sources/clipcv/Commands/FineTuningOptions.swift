import BLASCore
import CLIP
import Foundation
import Training

/// The LoRA, optimizer and data flags shared by `clipcv train` and `clipcv sweep`, declared once.
enum FineTuningOptions {
    static let defaults = FineTuningConfiguration()

    static let options: [Option] = [
        .value("lora-rank", "R", help: "LoRA rank r", default: "\(defaults.lora.rank)"),
        .value("lora-alpha", "A", help: "LoRA alpha (scaling alpha/r, or alpha/√r with --rslora)", default: "\(Int(defaults.lora.alpha))"),
        .value("lora-dropout", "P", help: "dropout on the adapters' input", default: "\(defaults.lora.dropout)"),
        .value("lora-targets", "LIST", help: "adapted modules of each chosen layer: q,k,v,o,fc1,fc2", default: "q,v"),
        .flag("rslora", help: "rank-stabilized scaling alpha/√r (the CLIP-LoRA recipe)"),
        .value("epochs", "N", help: "passes over the training cases", default: "\(defaults.training.epochs)"),
        .value("batch-size", "B", help: "images per optimizer step", default: "\(defaults.training.batchSize)"),
        .value("lr", "X", help: "peak learning rate (AdamW)", default: "\(defaults.training.learningRate)"),
        .value("weight-decay", "W", help: "AdamW decoupled weight decay", default: "\(defaults.training.optimizer.weightDecay)"),
        .value("schedule", "NAME", help: "learning-rate schedule: constant or cosine (both with linear warmup)", default: defaults.training.schedule.rawValue),
        .value("warmup-steps", "K", help: "linear warmup steps", default: "\(defaults.training.warmupSteps)"),
        .value("clip-grad-norm", "X", help: "clip the global gradient norm to X (off by default)"),
        .value("class-weights", "W", help: "loss weights: none, balanced (n / (K·n_c)), or W0,W1,…", default: "none"),
        .value("logit-scale", "S", help: "fixed logit scale (CLIP-LoRA: 100) instead of the checkpoint's exp(logit_scale)"),
        .flag("no-shuffle", help: "keep the manifest order in every epoch"),
        .flag("no-augment", help: "no random crops, flips, rotations or intensity jitter"),
        .flag("no-prefix-cache", help: "recompute the frozen layers below the adapters every step (for comparison; same results)"),
        .value("window", "L,W", help: "CT window level,width in HU for 16-bit PNG, NIfTI and NPY images; none for already-scaled images", default: defaults.window),
        .value("roi-margin", "PX", help: "pixels kept around the mask's bounding box (manifests with a mask column)", default: "\(defaults.roiMargin)"),
        .value("precision", "P", help: "fp32, or bf16 (large products with bf16 operands and fp32 accumulation, oneDNN)", default: "fp32"),
        .flag("preprocessed", help: "manifest images are float32 NPY model-ready pixels 3×S×S (no windowing, resizing, normalization)"),
    ]

    /// Declarations of the named options, for commands that take some of them (predict, embed): one help text each.
    static func options(_ names: String...) -> [Option] {
        names.map { name in options.first { $0.name == name }! }
    }

    /// The configuration the flags describe (defaults where a flag is absent).
    static func configuration(_ arguments: ParsedArguments) throws -> FineTuningConfiguration {
        var configuration = FineTuningConfiguration()
        configuration.lora = LoRASettings(
            rank: try arguments.int("lora-rank"), alpha: try arguments.double("lora-alpha"), dropout: try arguments.double("lora-dropout"),
            targets: try arguments.string("lora-targets").split(separator: ",").map { try LoRATarget(parsing: String($0)) },
            useRSLoRA: arguments.flag("rslora"))
        guard configuration.lora.rank >= 1 else { throw UsageError("--lora-rank must be at least 1") }
        guard (0..<1).contains(configuration.lora.dropout) else { throw UsageError("--lora-dropout must be in [0, 1)") }
        var training = TrainingSettings()
        training.epochs = try arguments.int("epochs")
        training.batchSize = try arguments.int("batch-size")
        guard training.epochs >= 1, training.batchSize >= 1 else { throw UsageError("--epochs and --batch-size must be at least 1") }
        training.learningRate = try arguments.double("lr")
        training.optimizer.weightDecay = try arguments.double("weight-decay")
        guard let schedule = LearningRateSchedule(rawValue: try arguments.string("schedule")) else {
            throw UsageError("--schedule must be one of \(LearningRateSchedule.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        training.schedule = schedule
        training.warmupSteps = try arguments.int("warmup-steps")
        training.gradientClipNorm = try arguments.optionalDouble("clip-grad-norm")
        training.shuffle = !arguments.flag("no-shuffle")
        training.augment = !arguments.flag("no-augment")
        training.frozenPrefixCache = !arguments.flag("no-prefix-cache")
        configuration.training = training
        configuration.classWeights = try ClassWeighting(parsing: try arguments.string("class-weights"))
        configuration.logitScale = try arguments.optionalDouble("logit-scale").map(Float.init)
        configuration.window = try arguments.string("window")
        _ = try configuration.intensityWindow()
        configuration.roiMargin = try arguments.int("roi-margin")
        configuration.preprocessed = arguments.flag("preprocessed")
        guard let precision = GEMM.Precision(rawValue: try arguments.string("precision")) else {
            throw UsageError("--precision must be fp32 or bf16")
        }
        configuration.precision = precision
        return configuration
    }
}

/// `--tokenizer DIR`: where vocab.json and merges.txt are, when not beside the weights.
let tokenizerOption = Option.value("tokenizer", "DIR", help: "directory with vocab.json and merges.txt", default: "the model directory")

func tokenizerDirectory(_ arguments: ParsedArguments) -> URL? {
    arguments.isSet("tokenizer") ? URL(fileURLWithPath: arguments.optionalString("tokenizer")!) : nil
}
