import Foundation

/// The MLP activation of an encoder (`hidden_act` in config.json).
/// Only the two that CLIP checkpoints use are supported; any other name (e.g. `gelu_pytorch_tanh`, `gelu_new`)
/// is rejected when the configuration is read, rather than silently computed with a different function.
public enum Activation: String, Sendable, CaseIterable {
    /// `x · σ(1.702 x)` (OpenAI's CLIP).
    case quickGELU = "quick_gelu"
    /// Exact GELU with erf.
    case gelu
}

/// One vision tower (`vision_config`): a ViT over square images cut into square patches, class token first.
public struct VisionConfiguration: Sendable, Equatable {
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var layerNormEpsilon: Float
    public var activation: Activation
    public var imageSize: Int
    public var patchSize: Int
    public var channelCount: Int

    /// transformers' `CLIPVisionConfig()` defaults (ViT-B/32).
    public init(hiddenSize: Int = 768, layerCount: Int = 12, headCount: Int = 12, intermediateSize: Int = 3072,
                layerNormEpsilon: Float = 1e-5, activation: Activation = .quickGELU,
                imageSize: Int = 224, patchSize: Int = 32, channelCount: Int = 3) {
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.layerNormEpsilon = layerNormEpsilon
        self.activation = activation
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.channelCount = channelCount
    }

    /// Patches per side; like the stride-`patchSize` convolution in transformers, a remainder is dropped.
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Sequence length: every patch plus the class token.
    public var tokenCount: Int { patchesPerSide * patchesPerSide + 1 }
}

/// One text tower (`text_config`): a causal transformer over BPE ids, pooled at the end-of-text token.
public struct TextConfiguration: Sendable, Equatable {
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var layerNormEpsilon: Float
    public var activation: Activation
    public var vocabularySize: Int
    public var maxPositions: Int
    /// 49407 in current checkpoints; 2 in early transformers exports, where transformers pools at argmax(ids).
    public var eosTokenID: Int
    public var bosTokenID: Int
    /// As stored in config.json (1 by default); the tokenizer pads with 49407 regardless, as transformers does.
    public var padTokenID: Int

    /// transformers' `CLIPTextConfig()` defaults (ViT-B/32's text tower).
    public init(hiddenSize: Int = 512, layerCount: Int = 12, headCount: Int = 8, intermediateSize: Int = 2048,
                layerNormEpsilon: Float = 1e-5, activation: Activation = .quickGELU, vocabularySize: Int = 49408,
                maxPositions: Int = 77, eosTokenID: Int = 49407, bosTokenID: Int = 49406, padTokenID: Int = 1) {
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.layerNormEpsilon = layerNormEpsilon
        self.activation = activation
        self.vocabularySize = vocabularySize
        self.maxPositions = maxPositions
        self.eosTokenID = eosTokenID
        self.bosTokenID = bosTokenID
        self.padTokenID = padTokenID
    }
}

/// A transformers `CLIPConfig` (config.json of a `CLIPModel` checkpoint).
public struct CLIPConfiguration: Sendable, Equatable {
    public var vision: VisionConfiguration
    public var text: TextConfiguration
    public var projectionDimension: Int
    /// The stored dtype as config.json names it (`dtype` in transformers 5, `torch_dtype` in 4.x), e.g. "float32".
    public var dtype: String
    public var logitScaleInitValue: Float

    public init(vision: VisionConfiguration = VisionConfiguration(), text: TextConfiguration = TextConfiguration(),
                projectionDimension: Int = 512, dtype: String = "float32", logitScaleInitValue: Float = 2.6592) {
        self.vision = vision
        self.text = text
        self.projectionDimension = projectionDimension
        self.dtype = dtype
        self.logitScaleInitValue = logitScaleInitValue
    }

    /// Reads config.json. Accepts the spellings of transformers 4.x and 5.x; a key that is absent (or null)
    /// takes transformers' default. Like transformers, a non-null `text_config_dict` / `vision_config_dict`
    /// (old exports, e.g. clip-vit-large-patch14) replaces `text_config` / `vision_config`.
    public static func load(contentsOf url: URL) throws -> CLIPConfiguration {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelFileError("\(url.path): cannot read the model configuration (\(missingOrUnreadable(url)))")
        }
        return try CLIPConfiguration(jsonData: data, file: url.path)
    }

    /// Parses config.json bytes; `file` names the source in errors.
    public init(jsonData data: Data, file: String = "config.json") throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFileError("\(file): not a JSON object")
        }
        let top = ConfigReader(values: root, file: file, prefix: "")
        // Other CLIP-like families (chinese_clip, altclip, siglip, …) have other layouts: refuse them here.
        if let modelType = try top.string("model_type"), modelType != "clip" {
            throw ModelFileError("\(file): model_type '\(modelType)' is not a CLIPModel (expected 'clip')")
        }
        let textValues = try top.section("text_config_dict") ?? top.section("text_config") ?? [:]
        let visionValues = try top.section("vision_config_dict") ?? top.section("vision_config") ?? [:]
        let t = ConfigReader(values: textValues, file: file, prefix: "text_config.")
        let v = ConfigReader(values: visionValues, file: file, prefix: "vision_config.")
        let textDefaults = TextConfiguration(), visionDefaults = VisionConfiguration()

        text = TextConfiguration(
            hiddenSize: try t.positive("hidden_size", textDefaults.hiddenSize),
            layerCount: try t.positive("num_hidden_layers", textDefaults.layerCount),
            headCount: try t.positive("num_attention_heads", textDefaults.headCount),
            intermediateSize: try t.positive("intermediate_size", textDefaults.intermediateSize),
            layerNormEpsilon: try t.float("layer_norm_eps", textDefaults.layerNormEpsilon),
            activation: try t.activation("hidden_act", textDefaults.activation),
            vocabularySize: try t.positive("vocab_size", textDefaults.vocabularySize),
            maxPositions: try t.positive("max_position_embeddings", textDefaults.maxPositions),
            eosTokenID: try t.int("eos_token_id", textDefaults.eosTokenID),
            bosTokenID: try t.int("bos_token_id", textDefaults.bosTokenID),
            padTokenID: try t.int("pad_token_id", textDefaults.padTokenID))
        vision = VisionConfiguration(
            hiddenSize: try v.positive("hidden_size", visionDefaults.hiddenSize),
            layerCount: try v.positive("num_hidden_layers", visionDefaults.layerCount),
            headCount: try v.positive("num_attention_heads", visionDefaults.headCount),
            intermediateSize: try v.positive("intermediate_size", visionDefaults.intermediateSize),
            layerNormEpsilon: try v.float("layer_norm_eps", visionDefaults.layerNormEpsilon),
            activation: try v.activation("hidden_act", visionDefaults.activation),
            imageSize: try v.side("image_size", visionDefaults.imageSize),
            patchSize: try v.side("patch_size", visionDefaults.patchSize),
            channelCount: try v.positive("num_channels", visionDefaults.channelCount))
        projectionDimension = try top.positive("projection_dim", 512)
        dtype = try top.string("dtype") ?? top.string("torch_dtype") ?? "float32"
        logitScaleInitValue = try top.float("logit_scale_init_value", 2.6592)

        for (tower, hidden, heads) in [("text_config", text.hiddenSize, text.headCount),
                                        ("vision_config", vision.hiddenSize, vision.headCount)] where hidden % heads != 0 {
            throw ModelFileError("\(file): \(tower).hidden_size \(hidden) is not a multiple of num_attention_heads \(heads)")
        }
        guard vision.patchSize <= vision.imageSize else {
            throw ModelFileError("\(file): vision_config.patch_size \(vision.patchSize) exceeds image_size \(vision.imageSize)")
        }
    }

    /// config.json as transformers 5 writes it for a `CLIPModel` (same keys, sorted; `transformers_version` left
    /// out because transformers did not write it). `CLIPConfig.from_pretrained` reads it back unchanged.
    public func jsonData() throws -> Data {
        func tower(_ entries: [(String, String)]) -> String {
            "{\n" + entries.sorted { $0.0 < $1.0 }.map { "    \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n  }"
        }
        let textEntries: [(String, String)] = [
            ("attention_dropout", "0.0"), ("bos_token_id", "\(text.bosTokenID)"), ("eos_token_id", "\(text.eosTokenID)"),
            ("hidden_act", jsonString(text.activation.rawValue)), ("hidden_size", "\(text.hiddenSize)"),
            ("initializer_factor", "1.0"), ("initializer_range", "0.02"), ("intermediate_size", "\(text.intermediateSize)"),
            ("layer_norm_eps", "\(text.layerNormEpsilon)"), ("max_position_embeddings", "\(text.maxPositions)"),
            ("model_type", "\"clip_text_model\""), ("num_attention_heads", "\(text.headCount)"),
            ("num_hidden_layers", "\(text.layerCount)"), ("pad_token_id", "\(text.padTokenID)"),
            ("projection_dim", "\(projectionDimension)"), ("vocab_size", "\(text.vocabularySize)"),
        ]
        let visionEntries: [(String, String)] = [
            ("attention_dropout", "0.0"), ("hidden_act", jsonString(vision.activation.rawValue)),
            ("hidden_size", "\(vision.hiddenSize)"), ("image_size", "\(vision.imageSize)"), ("initializer_factor", "1.0"),
            ("initializer_range", "0.02"), ("intermediate_size", "\(vision.intermediateSize)"),
            ("layer_norm_eps", "\(vision.layerNormEpsilon)"), ("model_type", "\"clip_vision_model\""),
            ("num_attention_heads", "\(vision.headCount)"), ("num_channels", "\(vision.channelCount)"),
            ("num_hidden_layers", "\(vision.layerCount)"), ("patch_size", "\(vision.patchSize)"),
            ("projection_dim", "\(projectionDimension)"),
        ]
        let topEntries: [(String, String)] = [
            ("architectures", "[\n    \"CLIPModel\"\n  ]"), ("dtype", jsonString(dtype)), ("initializer_factor", "1.0"),
            ("logit_scale_init_value", "\(logitScaleInitValue)"), ("model_type", "\"clip\""),
            ("projection_dim", "\(projectionDimension)"), ("text_config", tower(textEntries)),
            ("vision_config", tower(visionEntries)),
        ]
        let body = topEntries.sorted { $0.0 < $1.0 }.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n")
        return Data("{\n\(body)\n}\n".utf8)
    }
}

/// `text` as a JSON string literal, quotes included.
func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// "missing" or "unreadable", for file errors.
func missingOrUnreadable(_ url: URL) -> String {
    FileManager.default.fileExists(atPath: url.path) ? "unreadable" : "missing"
}

/// Typed access to one level of config.json; every error names the file and the full key.
private struct ConfigReader {
    let values: [String: Any]
    let file: String
    let prefix: String

    /// The value of `key`, nil when absent or JSON null.
    private func raw(_ key: String) -> Any? {
        guard let value = values[key], !(value is NSNull) else { return nil }
        return value
    }

    private func wrongType(_ key: String, _ expected: String, _ value: Any) -> ModelFileError {
        ModelFileError("\(file): \(prefix)\(key) must be \(expected), found \(value)")
    }

    func section(_ key: String) throws -> [String: Any]? {
        guard let value = raw(key) else { return nil }
        guard let dictionary = value as? [String: Any] else { throw wrongType(key, "an object", value) }
        return dictionary
    }

    func string(_ key: String) throws -> String? {
        guard let value = raw(key) else { return nil }
        guard let text = value as? String else { throw wrongType(key, "a string", value) }
        return text
    }

    func int(_ key: String, _ defaultValue: Int) throws -> Int {
        guard let value = raw(key) else { return defaultValue }
        guard let number = value as? NSNumber, let integer = Int(exactly: number.doubleValue) else {
            throw wrongType(key, "an integer", value)
        }
        return integer
    }

    func positive(_ key: String, _ defaultValue: Int) throws -> Int {
        let value = try int(key, defaultValue)
        guard value > 0 else { throw wrongType(key, "a positive integer", value) }
        return value
    }

    func float(_ key: String, _ defaultValue: Float) throws -> Float {
        guard let value = raw(key) else { return defaultValue }
        guard let number = value as? NSNumber else { throw wrongType(key, "a number", value) }
        return Float(number.doubleValue)
    }

    /// `image_size` / `patch_size`: an integer or a square [n, n] pair.
    func side(_ key: String, _ defaultValue: Int) throws -> Int {
        if let pair = raw(key) as? [Any] {
            guard pair.count == 2, let a = pair[0] as? NSNumber, let b = pair[1] as? NSNumber,
                  let side = Int(exactly: a.doubleValue), a == b, side > 0 else {
                throw wrongType(key, "a positive integer or a square [n, n] pair", pair)
            }
            return side
        }
        return try positive(key, defaultValue)
    }

    func activation(_ key: String, _ defaultValue: Activation) throws -> Activation {
        guard let name = try string(key) else { return defaultValue }
        guard let activation = Activation(rawValue: name) else {
            throw ModelFileError("\(file): \(prefix)\(key) '\(name)' is not supported (supported: "
                + Activation.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        return activation
    }
}
