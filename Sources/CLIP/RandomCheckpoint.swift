import BLASCore
import Foundation

/// A complete Hugging Face CLIP directory with random weights, for the demo and for tests that need a real checkpoint
/// on disk: config.json, model.safetensors, preprocessor_config.json (image size = the model's), and a byte-level
/// vocabulary (vocab.json with the 512 byte symbols plus SOT/EOT, merges.txt without merges) — valid CLIP BPE files
/// that spell every word out byte by byte, so no 1.5 MB vocabulary has to ship with the binary.
public enum RandomCheckpoint {
    public static func write(_ configuration: CLIPConfiguration, weights: RandomWeights, to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try configuration.jsonData().write(to: directory.appendingPathComponent("config.json"), options: .atomic)
        let tensors = try configuration.parameterShapes.map { (name: $0.name, tensor: try weights.tensor($0.name, shape: $0.shape)) }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent(Checkpoint.singleFileName))
        let size = configuration.vision.imageSize
        let preprocessor: [String: Any] = [
            "do_resize": true, "size": ["shortest_edge": size], "resample": 3,
            "do_center_crop": true, "crop_size": ["height": size, "width": size],
            "do_rescale": true, "rescale_factor": 1.0 / 255, "do_normalize": true,
            "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
            "image_processor_type": "CLIPImageProcessor",
        ]
        try JSONSerialization.data(withJSONObject: preprocessor, options: [.prettyPrinted, .sortedKeys])
            .write(to: directory.appendingPathComponent("preprocessor_config.json"), options: .atomic)
        var vocabulary: [String: Int] = [:]
        for (index, symbol) in BytePairEncoder.byteSymbols.enumerated() {
            vocabulary[symbol] = index
            vocabulary[symbol + "</w>"] = index + 256
        }
        vocabulary["<|startoftext|>"] = Tokenizer.startOfText
        vocabulary["<|endoftext|>"] = Tokenizer.endOfText
        try JSONSerialization.data(withJSONObject: vocabulary, options: [.sortedKeys])
            .write(to: directory.appendingPathComponent("vocab.json"), options: .atomic)
        try Data("#version: 0.2\n".utf8).write(to: directory.appendingPathComponent("merges.txt"), options: .atomic)
    }
}
