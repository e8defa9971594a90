import BLASCore
import Foundation

/// LoRA adapters as PEFT stores them: `adapter_config.json` + `adapter_model.safetensors` with keys such as
/// `base_model.model.vision_model.encoder.layers.0.self_attn.q_proj.lora_A.weight` (A `[r, in]`, B `[out, r]`).
/// What we write, `PeftModel.from_pretrained(CLIPModel.from_pretrained(M), DIR)` loads; what PEFT writes, we load.
public struct PEFTAdapter {
    public var settings: LoRASettings
    public var placement: Placement
    /// A and B by PEFT module name (`base_model.model.…q_proj`).
    public var tensors: [String: (a: Tensor, b: Tensor)]

    static let configFile = "adapter_config.json"
    static let weightsFile = "adapter_model.safetensors"
    /// PEFT's file key of one LoRA half: (tower, layer, module path, A or B).
    static var modulePattern: Regex<(Substring, Substring, Substring, Substring, Substring)> { #/^base_model\.model\.(vision_model|text_model)\.encoder\.layers\.(\d+)\.(self_attn\.(?:q_proj|k_proj|v_proj|out_proj)|mlp\.(?:fc1|fc2))\.lora_(A|B)\.weight$/# }

    /// The adapters currently on `model`.
    public init(model: CLIPModel) throws {
        guard let settings = model.loraSettings else { throw ModelFileError("the model has no adapters to save") }
        self.settings = settings
        self.placement = model.placement
        tensors = Dictionary(uniqueKeysWithValues: model.adapters.map { ($0.name, (a: $0.adapter.a, b: $0.adapter.b)) })
    }

    /// Reads an adapter directory. Its placement and targets come from the tensors present; r, alpha, dropout and
    /// rsLoRA from the config.
    public init(directory: URL) throws {
        let configURL = directory.appendingPathComponent(PEFTAdapter.configFile)
        guard let data = FileManager.default.contents(atPath: configURL.path) else {
            throw ModelFileError("\(configURL.path): missing adapter config")
        }
        guard let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelFileError("\(configURL.path): not a JSON object")
        }
        if let type = config["peft_type"] as? String, type != "LORA" {
            throw ModelFileError("\(configURL.path): peft_type \(type) is not LORA")
        }
        if config["use_dora"] as? Bool == true { throw ModelFileError("\(configURL.path): DoRA adapters are not supported") }
        for key in ["rank_pattern", "alpha_pattern"] {
            if let pattern = config[key] as? [String: Any], !pattern.isEmpty {
                throw ModelFileError("\(configURL.path): \(key) (per-module ranks/alphas) is not supported")
            }
        }
        guard let rank = config["r"] as? Int, let alpha = (config["lora_alpha"] as? NSNumber)?.doubleValue else {
            throw ModelFileError("\(configURL.path): needs integer 'r' and numeric 'lora_alpha'")
        }
        let file = try SafeTensorsFile(contentsOf: directory.appendingPathComponent(PEFTAdapter.weightsFile))
        var halves: [String: (a: Tensor?, b: Tensor?)] = [:]
        var layers: [Tower: Set<Int>] = [.vision: [], .text: []]
        var targets: Set<LoRATarget> = []
        for name in file.names {
            guard let match = name.wholeMatch(of: PEFTAdapter.modulePattern) else {
                throw ModelFileError("\(PEFTAdapter.weightsFile): unexpected tensor '\(name)' (only LoRA A/B of CLIP encoder layers are supported)")
            }
            let tower: Tower = match.1 == "vision_model" ? .vision : .text
            let module = String(match.3)
            layers[tower]!.insert(Int(match.2)!)
            targets.insert(try LoRATarget(parsing: String(module.split(separator: ".").last!)))
            let key = "base_model.model.\(match.1).encoder.layers.\(match.2).\(module)"
            let tensor = try file.tensor(name)
            if match.4 == "A" { halves[key, default: (nil, nil)].a = tensor } else { halves[key, default: (nil, nil)].b = tensor }
        }
        var tensors: [String: (a: Tensor, b: Tensor)] = [:]
        for (key, pair) in halves {
            guard let a = pair.a, let b = pair.b else { throw ModelFileError("\(PEFTAdapter.weightsFile): \(key) has lora_\(pair.a == nil ? "A" : "B") missing") }
            guard a.shape.count == 2, b.shape.count == 2, a.shape[0] == rank, b.shape[1] == rank else {
                throw ModelFileError("\(PEFTAdapter.weightsFile): \(key) lora_A \(a.shape) / lora_B \(b.shape) do not have rank r=\(rank)")
            }
            tensors[key] = (a, b)
        }
        guard !tensors.isEmpty else { throw ModelFileError("\(PEFTAdapter.weightsFile): no LoRA tensors") }
        settings = LoRASettings(rank: rank, alpha: alpha, dropout: (config["lora_dropout"] as? NSNumber)?.doubleValue ?? 0,
                                targets: LoRATarget.allCases.filter(targets.contains), useRSLoRA: config["use_rslora"] as? Bool ?? false)
        func rule(_ tower: Tower) -> Placement.Rule { layers[tower]!.isEmpty ? .none : .layers(layers[tower]!.sorted()) }
        let text = Tower.allCases.map { tower in "\(tower)=" + (layers[tower]!.isEmpty ? "none" : "layers:" + layers[tower]!.sorted().map(String.init).joined(separator: ",")) }
        placement = Placement(vision: rule(.vision), text: rule(.text), description: text.joined(separator: ";"))
        self.tensors = tensors
    }

    /// Writes the adapter directory (created if needed) in PEFT's format.
    public func write(to directory: URL, baseModel: String) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let layersByTower = Dictionary(grouping: tensors.keys) { $0.hasPrefix("base_model.model.vision_model") ? Tower.vision : .text }
            .mapValues { Set($0.compactMap { Int($0.split(separator: ".")[5]) }).sorted() }
        let vision = layersByTower[.vision] ?? [], text = layersByTower[.text] ?? []
        let moduleNames = settings.targets.map(\.rawValue).sorted()
        // Same layers in both towers: PEFT's list form. Otherwise a full-match regex over module names.
        let targetModules: Any, layersToTransform: Any
        if vision == text {
            targetModules = moduleNames
            layersToTransform = vision
        } else {
            let towerParts = [("vision_model", vision), ("text_model", text)].filter { !$0.1.isEmpty }
                .map { "\($0.0)\\.encoder\\.layers\\.(\($0.1.map(String.init).joined(separator: "|")))" }
            let modules = settings.targets.map { $0.modulePath.replacingOccurrences(of: ".", with: "\\.") }
            targetModules = "(\(towerParts.joined(separator: "|")))\\.(\(modules.joined(separator: "|")))"
            layersToTransform = NSNull()
        }
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": NSNull(), "base_model_name_or_path": baseModel,
            "r": settings.rank, "lora_alpha": settings.alpha, "lora_dropout": settings.dropout,
            "use_rslora": settings.useRSLoRA, "target_modules": targetModules, "layers_to_transform": layersToTransform,
            "layers_pattern": NSNull(), "bias": "none", "fan_in_fan_out": false, "init_lora_weights": true,
            "modules_to_save": NSNull(), "rank_pattern": [String: Any](), "alpha_pattern": [String: Any](),
            "inference_mode": true, "use_dora": false, "revision": NSNull(),
            "auto_mapping": ["base_model_class": "CLIPModel", "parent_library": "transformers.models.clip.modeling_clip"],
        ]
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try data.write(to: directory.appendingPathComponent(PEFTAdapter.configFile), options: .atomic)
        let entries = tensors.keys.sorted().flatMap { key in
            [(name: "\(key).lora_A.weight", tensor: tensors[key]!.a), (name: "\(key).lora_B.weight", tensor: tensors[key]!.b)]
        }
        try SafeTensorsWriter.write(entries, metadata: ["format": "pt"], to: directory.appendingPathComponent(PEFTAdapter.weightsFile))
    }
}

extension CLIPModel {
    /// Places `adapter`'s tensors (copied, so training never writes a mapped file) at its placement.
    public func apply(_ adapter: PEFTAdapter) throws {
        var used = 0
        try placeAdapters(adapter.placement, settings: adapter.settings) { tower, layer, target, frozen in
            let key = "base_model.model.\(tower.modulePrefix).encoder.layers.\(layer).\(target.modulePath)"
            guard let pair = adapter.tensors[key] else { return nil }
            guard pair.a.shape == [adapter.settings.rank, frozen.inFeatures], pair.b.shape == [frozen.outFeatures, adapter.settings.rank] else {
                throw ModelFileError("adapter \(key): lora_A \(pair.a.shape) / lora_B \(pair.b.shape), expected [\(adapter.settings.rank), \(frozen.inFeatures)] / [\(frozen.outFeatures), \(adapter.settings.rank)]")
            }
            used += 1
            return try LoRAAdapter(a: pair.a.clone(), b: pair.b.clone(), scaling: adapter.settings.scaling, dropout: Float(adapter.settings.dropout))
        }
        guard used == adapter.tensors.count else {
            throw ModelFileError("adapter has \(adapter.tensors.count) modules but only \(used) match its targets and layers")
        }
    }
}
