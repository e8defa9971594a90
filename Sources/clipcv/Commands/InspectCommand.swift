import CLIP
import Foundation

/// `clipcv inspect --model DIR`: what a checkpoint directory holds and whether clipcv can use it.
let inspectCommand = Command(
    name: "inspect",
    summary: "describe a CLIP checkpoint directory: architecture, parameter counts, dtypes, files, problems",
    details: """
    Reads config.json, model.safetensors (or model.safetensors.index.json and its shards), vocab.json and
    merges.txt of a Hugging Face CLIPModel directory without loading the weights into memory. Problems are the
    tensors that are missing, unexpected or of another shape than config.json implies, unreadable dtypes, and a
    missing or broken tokenizer. Exit status 1 when there is a problem (or the directory cannot be read at all).
    """,
    options: [
        .value("model", "DIR", help: "checkpoint directory (e.g. a local copy of openai/clip-vit-base-patch32)", required: true),
        .flag("json", help: "print one JSON object instead of text"),
    ],
    run: { arguments in
        let report = try InspectReport(directory: URL(fileURLWithPath: try arguments.string("model")))
        if arguments.flag("json") { try printJSON(report) } else { print(report.text) }
        return report.problems.isEmpty ? 0 : 1
    })

struct InspectReport: Encodable {
    struct Vision: Encodable {
        let layers, width, heads, mlp: Int
        let activation: String
        let layerNormEps: Float
        let imageSize, patchSize, channels, tokens: Int
    }
    struct Text: Encodable {
        let layers, width, heads, mlp: Int
        let activation: String
        let layerNormEps: Float
        let vocabulary, maxPositions, eosTokenId: Int
        /// "first_eos" or "argmax" (transformers' rule for checkpoints with eos_token_id 2).
        let pooling: String
    }
    struct Architecture: Encodable {
        let vision: Vision
        let text: Text
        let projectionDim: Int
        /// The stored (log) logit scale and its exponential; nil when it cannot be read.
        let logitScale: Float?
        let logitScaleExp: Float?
    }
    struct Parameters: Encodable {
        let vision, text, projections, logitScale, total: Int
    }
    struct File: Encodable {
        let name: String
        let bytes: Int
    }

    let model: String
    let architecture: Architecture
    let parameters: Parameters
    let configDtype: String
    let storedDtypes: [String]
    let files: [File]
    let problems: [String]

    init(directory: URL) throws {
        let checkpoint = try Checkpoint(directory: directory)
        let config = checkpoint.configuration
        let v = config.vision, t = config.text
        let logitScale = (try? checkpoint.tensor("logit_scale", shape: []))?[0]
        architecture = Architecture(
            vision: Vision(layers: v.layerCount, width: v.hiddenSize, heads: v.headCount, mlp: v.intermediateSize,
                           activation: v.activation.rawValue, layerNormEps: v.layerNormEpsilon, imageSize: v.imageSize,
                           patchSize: v.patchSize, channels: v.channelCount, tokens: v.tokenCount),
            text: Text(layers: t.layerCount, width: t.hiddenSize, heads: t.headCount, mlp: t.intermediateSize,
                       activation: t.activation.rawValue, layerNormEps: t.layerNormEpsilon, vocabulary: t.vocabularySize,
                       maxPositions: t.maxPositions, eosTokenId: t.eosTokenID, pooling: t.eosTokenID == 2 ? "argmax" : "first_eos"),
            projectionDim: config.projectionDimension, logitScale: logitScale, logitScaleExp: logitScale.map { exp($0) })
        let counts = config.parameterCounts
        parameters = Parameters(vision: counts.vision, text: counts.text, projections: counts.projections,
                                logitScale: counts.logitScale,
                                total: counts.vision + counts.text + counts.projections + counts.logitScale)
        model = directory.path
        configDtype = config.dtype
        storedDtypes = checkpoint.storedDTypes.sorted()

        var files = checkpoint.fileSizes.map { File(name: $0.0, bytes: $0.1) }
        var problems = checkpoint.problems
        for name in ["vocab.json", "merges.txt", "preprocessor_config.json"] {
            let url = directory.appendingPathComponent(name)
            if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int {
                files.append(File(name: name, bytes: size))
            }
        }
        do {
            _ = try Tokenizer(directory: directory)
            if t.vocabularySize <= Tokenizer.endOfText {
                problems.append("text_config.vocab_size \(t.vocabularySize) is too small for CLIP's token ids (up to \(Tokenizer.endOfText))")
            }
        } catch {
            problems.append("tokenizer: \(error)")
        }
        self.files = files
        self.problems = problems
    }

    var text: String {
        let a = architecture, v = a.vision, t = a.text
        var lines = [
            "model       \(model)",
            "vision      \(v.layers) layers, width \(v.width), \(v.heads) heads, MLP \(v.mlp) (\(v.activation)), "
                + "\(v.imageSize)×\(v.imageSize)×\(v.channels) images in \(v.patchSize)×\(v.patchSize) patches → \(v.tokens) tokens",
            "text        \(t.layers) layers, width \(t.width), \(t.heads) heads, MLP \(t.mlp) (\(t.activation)), "
                + "\(t.maxPositions) positions, vocabulary \(t.vocabulary), pooled at "
                + (t.pooling == "argmax" ? "argmax(input_ids) (eos_token_id 2)" : "the first EOT (\(t.eosTokenId))"),
            "projection  \(a.projectionDim) dimensions; logit scale "
                + (a.logitScale.map { "\($0) (exp \(exp($0)))" } ?? "unreadable"),
            "parameters",
        ]
        let counts = [("vision tower", parameters.vision), ("text tower", parameters.text),
                      ("projections", parameters.projections), ("logit scale", parameters.logitScale), ("total", parameters.total)]
        let countWidth = counts.map { grouped($0.1).count }.max() ?? 0
        for (name, count) in counts {
            lines.append("  " + name.padding(toLength: 14, withPad: " ", startingAt: 0) + String(repeating: " ", count: countWidth - grouped(count).count) + grouped(count))
        }
        lines.append("dtype       stored \(storedDtypes.joined(separator: ", ")); config.json says \(configDtype)")
        lines.append("files")
        let nameWidth = files.map(\.name.count).max() ?? 0
        for file in files {
            lines.append("  " + file.name.padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0) + readableSize(file.bytes))
        }
        if problems.isEmpty {
            lines.append("problems    none")
        } else {
            lines.append("problems    \(problems.count)")
            lines += problems.map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    private func grouped(_ number: Int) -> String {
        let digits = String(number)
        return digits.enumerated().map { index, digit in
            (index > 0 && (digits.count - index) % 3 == 0 ? "," : "") + String(digit)
        }.joined()
    }

    private func readableSize(_ bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
