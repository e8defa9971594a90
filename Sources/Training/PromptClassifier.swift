import Foundation
import BLASCore
import CLIP

/// CLIP as a classifier over class prompts: logits = scale · cos(image embedding, prompt embedding), loss = mean
/// (optionally class-weighted) cross-entropy against the labels. Label i means prompt i.
///
/// forward:  î = normalize(image embeds), t̂ = normalize(prompt embeds), logits = s · î t̂ᵀ, L = CE(logits, y)
/// backward: dî = s · dlogits t̂,  dt̂ = s · dlogitsᵀ î, then through normalization and both towers to the adapters
public final class PromptClassifier {
    public let model: CLIPModel
    public let promptIDs: [[Int]]
    /// exp(logit_scale) of the checkpoint, or a fixed value (CLIP-LoRA uses 100).
    public let scale: Float
    public let classWeights: [Float]?

    // Text side: recomputed every step only when the text tower has adapters.
    private var promptEmbeds: Tensor?
    private var promptNormalized = Tensor(zeros: [0]), promptNorms = Tensor(zeros: [0])
    // Image side, sized per batch.
    private var imageNormalized = Tensor(zeros: [0]), imageNorms = Tensor(zeros: [0])
    public private(set) var logits = Tensor(zeros: [0])
    public private(set) var probabilities = Tensor(zeros: [0])

    public init(model: CLIPModel, promptIDs: [[Int]], fixedScale: Float? = nil, classWeights: [Float]? = nil) throws {
        guard promptIDs.count >= 2 else { throw ShapeError("a classifier needs at least two class prompts, got \(promptIDs.count)") }
        if let classWeights, classWeights.count != promptIDs.count {
            throw ShapeError("\(classWeights.count) class weights for \(promptIDs.count) classes")
        }
        self.model = model
        self.promptIDs = promptIDs
        self.scale = fixedScale ?? Float(Foundation.exp(Double(model.logitScale)))
        self.classWeights = classWeights
    }

    private var textTrains: Bool { model.text.encoder.lowestAdaptedLayer != nil }

    /// Class probabilities `[B, K]` for images given as pixels `[B, 3, S, S]` (or as a cached frozen prefix).
    public func forward(_ input: ImageInput, dropout generator: inout SeededGenerator?) throws -> Tensor {
        if promptEmbeds == nil || textTrains {
            let embeds = try model.text.forward(tokenIDs: promptIDs, dropout: &generator)
            promptEmbeds = embeds
            promptNormalized = Tensor(zeros: embeds.shape); promptNorms = Tensor(zeros: [embeds.shape[0]])
            try L2Normalize.forward(output: promptNormalized, norms: promptNorms, input: embeds)
        }
        let imageEmbeds: Tensor
        switch input {
        case .pixels(let pixels): imageEmbeds = try model.vision.forward(pixels: pixels, dropout: &generator)
        case .frozenPrefix(let hidden, let layer): imageEmbeds = try model.vision.forward(hidden: hidden, fromLayer: layer, dropout: &generator)
        }
        let batch = imageEmbeds.shape[0], classes = promptIDs.count
        if imageNormalized.shape != imageEmbeds.shape {
            imageNormalized = Tensor(zeros: imageEmbeds.shape); imageNorms = Tensor(zeros: [batch])
            logits = Tensor(zeros: [batch, classes]); probabilities = Tensor(zeros: [batch, classes])
        }
        try L2Normalize.forward(output: imageNormalized, norms: imageNorms, input: imageEmbeds)
        try GEMM.multiply(imageNormalized, promptNormalized, into: logits, transposeB: true, alpha: scale)
        try Softmax.forward(output: probabilities, input: logits)
        return probabilities
    }

    /// Mean cross-entropy of the last forward's logits against `labels`.
    public func loss(labels: [Int]) throws -> Float {
        try CrossEntropy.forward(probabilities: probabilities, logits: logits, targets: labels, classWeights: classWeights)
    }

    /// Accumulates dL/dA, dL/dB of every adapter for the last forward and `labels` (call `loss` first or not:
    /// the gradient depends only on the saved probabilities).
    public func backward(labels: [Int]) throws {
        let dLogits = Tensor(zeros: logits.shape)
        try CrossEntropy.backward(logitsGradient: dLogits, probabilities: probabilities, targets: labels, classWeights: classWeights)
        let dImage = Tensor(zeros: imageNormalized.shape)
        try GEMM.multiply(dLogits, promptNormalized, into: dImage, alpha: scale)
        let dImageEmbeds = Tensor(zeros: imageNormalized.shape)
        try L2Normalize.backward(inputGradient: dImageEmbeds, outputGradient: dImage, output: imageNormalized, norms: imageNorms)
        try model.vision.backward(embedsGradient: dImageEmbeds)
        if textTrains {
            let dPrompt = Tensor(zeros: promptNormalized.shape)
            try GEMM.multiply(dLogits, imageNormalized, into: dPrompt, transposeA: true, alpha: scale)
            let dPromptEmbeds = Tensor(zeros: promptNormalized.shape)
            try L2Normalize.backward(inputGradient: dPromptEmbeds, outputGradient: dPrompt, output: promptNormalized, norms: promptNorms)
            try model.text.backward(embedsGradient: dPromptEmbeds)
        }
    }
}

/// What the vision tower starts from: pixels, or the cached output of the frozen layers below `layer`.
public enum ImageInput {
    case pixels(Tensor)
    case frozenPrefix(Tensor, layer: Int)
}
