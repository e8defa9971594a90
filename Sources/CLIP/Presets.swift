/// Named architectures for models built in memory (benchmarks, the demo); real runs read config.json.
extension CLIPConfiguration {
    public static let presetNames = ["vit-b-32", "vit-b-16", "demo", "small"]

    public static func preset(named name: String) throws -> CLIPConfiguration {
        switch name {
        case "vit-b-32":
            // openai/clip-vit-base-patch32: transformers' CLIPConfig defaults.
            return CLIPConfiguration()
        case "vit-b-16":
            return CLIPConfiguration(vision: VisionConfiguration(patchSize: 16))
        case "demo":
            // Small enough for a 5-fold sweep of several placements in minutes on 2 cores, deep enough (12 layers per
            // tower, as in the study) that placements like lowest:5 and highest:5 mean the same thing.
            return CLIPConfiguration(
                vision: VisionConfiguration(hiddenSize: 64, layerCount: 12, headCount: 4, intermediateSize: 256, imageSize: 64, patchSize: 16),
                text: TextConfiguration(hiddenSize: 64, layerCount: 12, headCount: 4, intermediateSize: 256),
                projectionDimension: 32)
        case "small":
            // Wide enough that every large product runs in bf16 under --precision bf16 (sides ≥ 64, ≥ 2²⁴ FMAs).
            return CLIPConfiguration(
                vision: VisionConfiguration(hiddenSize: 256, layerCount: 12, headCount: 4, intermediateSize: 1024, imageSize: 64, patchSize: 16),
                text: TextConfiguration(hiddenSize: 256, layerCount: 12, headCount: 4, intermediateSize: 1024),
                projectionDimension: 128)
        default:
            throw ModelFileError("unknown architecture '\(name)'; known: \(presetNames.joined(separator: ", "))")
        }
    }
}
