import BLASCore
import CLIP
import Cohort
import Foundation

/// `clipcv embed`: CLIP's outputs for images and prompts, as transformers' CLIPModel gives them.
let embedCommand = Command(
    name: "embed",
    summary: "image and text embeddings and logits of a CLIP checkpoint, as JSON",
    details: """
    OUT.json holds input_ids (padded to 77 with 49407, as transformers' CLIPTokenizer pads), image_embeds and
    text_embeds (projected, L2-normalized) and logits_per_image = exp(logit_scale) · cos. Images are either
    model-ready pixel values (--pixel-values: float32 NPY N×3×H×W) or image files (--images: PNG, JPEG, NIfTI, NPY;
    gray, windowed with --window, then preprocessed like CLIPImageProcessor with the model's preprocessor_config.json).
    """,
    options: [
        .value("model", "DIR", help: "Hugging Face CLIP directory", required: true),
        tokenizerOption,
        .value("pixel-values", "NPY", help: "float32 N×3×H×W model-ready pixel values"),
        .list("images", "FILE", help: "image files"),
        .list("prompts", "TEXT", help: "text prompts", required: true),
        .value("output", "JSON", help: "output file", required: true),
    ] + FineTuningOptions.options("window"),
    run: { arguments in
        useComputeThreads()
        let modelDirectory = URL(fileURLWithPath: try arguments.string("model"))
        let model = try CLIPModel(checkpoint: try Checkpoint(directory: modelDirectory))
        let tokenizer = try Tokenizer(directory: tokenizerDirectory(arguments) ?? modelDirectory)
        let prompts = arguments.strings("prompts")
        let size = model.configuration.vision.imageSize
        let pixels: Tensor
        switch (arguments.optionalString("pixel-values"), arguments.isSet("images")) {
        case (let file?, false):
            let array = try NPYArray(contentsOf: URL(fileURLWithPath: file))
            guard array.dtype.hasSuffix("f4"), array.shape.count == 4, Array(array.shape[1...]) == [3, size, size] else {
                throw ImageFileError(URL(fileURLWithPath: file), "pixel values must be float32 N×3×\(size)×\(size), got \(array.dtype) \(array.shape)")
            }
            pixels = try Tensor(shape: array.shape, values: array.values)
        case (nil, true):
            let files = arguments.strings("images").map { URL(fileURLWithPath: $0) }
            var reader = CaseImageReader()
            guard let window = IntensityWindow(try arguments.string("window")) else { throw UsageError("--window must be LEVEL,WIDTH or none") }
            reader.window = window
            let preprocessor = try CLIPPreprocessor(modelDirectory: modelDirectory)
            pixels = Tensor(zeros: [files.count, 3, size, size])
            for (index, file) in files.enumerated() { try preprocessor.write(try reader.image(at: file), into: pixels, at: index) }
        default:
            throw UsageError("give exactly one of --pixel-values or --images")
        }
        let outputs = try model.embed(pixels: pixels, tokenIDs: prompts.map { tokenizer.encode($0) })
        func rows(_ tensor: Tensor) -> [[Float]] {
            (0..<tensor.rowCount).map { Array(tensor.values[$0 * tensor.lastDimension..<($0 + 1) * tensor.lastDimension]) }
        }
        let result = EmbedOutput(inputIds: tokenizer.encodePadded(prompts), imageEmbeds: rows(outputs.imageEmbedsNormalized),
                                 textEmbeds: rows(outputs.textEmbedsNormalized), logitsPerImage: rows(outputs.logitsPerImage))
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try encoder.encode(result).write(to: URL(fileURLWithPath: try arguments.string("output")), options: .atomic)
        stderrLine("embed: \(pixels.shape[0]) images × \(prompts.count) prompts → \(try arguments.string("output"))")
        return 0
    })

private struct EmbedOutput: Encodable {
    let inputIds: [[Int]]
    let imageEmbeds: [[Float]]
    let textEmbeds: [[Float]]
    let logitsPerImage: [[Float]]
}
