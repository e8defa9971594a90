import Foundation

/// What transformers' `CLIPImageProcessor` does to an image, as a checkpoint's `preprocessor_config.json` states it.
/// Keys the file leaves out take `CLIPImageProcessor`'s defaults, which are OpenAI's.
public struct PreprocessingConfiguration: Equatable, Sendable {
    /// How the image is resized before the crop (`size` in the file).
    public enum Resize: Equatable, Sendable {
        /// The shorter side becomes this long, the other keeps the aspect ratio (rounded down, as transformers does).
        case shortestEdge(Int)
        /// Exactly this size, aspect ratio ignored.
        case exact(height: Int, width: Int)
    }

    /// Height and width of the center crop (`crop_size`).
    public struct Size: Equatable, Sendable {
        public var height: Int
        public var width: Int
        public init(height: Int, width: Int) {
            self.height = height
            self.width = width
        }
    }

    /// nil: no resize (`do_resize: false`).
    public var resize: Resize?
    public var resample: ResamplingFilter
    /// nil: no center crop (`do_center_crop: false`).
    public var centerCrop: Size?
    /// Multiplies uint8 values; nil: no rescale (`do_rescale: false`).
    public var rescaleFactor: Double?
    /// Per-channel (R, G, B) mean and standard deviation; nil: no normalization (`do_normalize: false`).
    public var mean: [Float]?
    public var std: [Float]?

    public init(resize: Resize?, resample: ResamplingFilter, centerCrop: Size?, rescaleFactor: Double?,
                mean: [Float]?, std: [Float]?) {
        precondition((mean == nil) == (std == nil) && (mean?.count ?? 3) == 3 && (std?.count ?? 3) == 3,
                     "mean and std are both given, with 3 channels each, or both nil")
        self.resize = resize
        self.resample = resample
        self.centerCrop = centerCrop
        self.rescaleFactor = rescaleFactor
        self.mean = mean
        self.std = std
    }

    /// OpenAI CLIP (and `CLIPImageProcessor`'s defaults): shortest edge 224, bicubic, crop 224×224, 1/255, OpenAI mean/std.
    public static let openAI = PreprocessingConfiguration(
        resize: .shortestEdge(224), resample: .bicubic, centerCrop: Size(height: 224, width: 224), rescaleFactor: 1.0 / 255,
        mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711])

    /// The configuration of a model directory: its `preprocessor_config.json`, or `.openAI` when it has none.
    public init(modelDirectory: URL) throws {
        let file = modelDirectory.appendingPathComponent("preprocessor_config.json")
        if FileManager.default.fileExists(atPath: file.path) {
            try self.init(contentsOf: file)
        } else {
            self = .openAI
        }
    }

    /// Reads `preprocessor_config.json` (transformers 4.x and 5.x layouts: `size` and `crop_size` as integers or
    /// dictionaries). Keys clipcv does not use are ignored.
    public init(contentsOf file: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw PreprocessingConfigurationError(file, "cannot be read (\(error.localizedDescription))")
        }
        guard case .object(let json)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw PreprocessingConfigurationError(file, "is not a JSON object")
        }
        func fail(_ problem: String) -> PreprocessingConfigurationError { PreprocessingConfigurationError(file, problem) }
        let defaults = PreprocessingConfiguration.openAI

        var resize = defaults.resize
        if let size = json["size"] {
            if let edge = size.positiveInteger {
                resize = .shortestEdge(edge)  // CLIP's processor reads a bare integer as the shortest edge
            } else if let edge = size["shortest_edge"]?.positiveInteger, size["longest_edge"] == nil {
                resize = .shortestEdge(edge)
            } else if let height = size["height"]?.positiveInteger, let width = size["width"]?.positiveInteger {
                resize = .exact(height: height, width: width)
            } else {
                throw fail("`size` must be a positive integer, {\"shortest_edge\": n} or {\"height\": h, \"width\": w}, got \(size)")
            }
        }
        var crop = defaults.centerCrop
        if let cropSize = json["crop_size"] {
            if let side = cropSize.positiveInteger {
                crop = Size(height: side, width: side)
            } else if let height = cropSize["height"]?.positiveInteger, let width = cropSize["width"]?.positiveInteger {
                crop = Size(height: height, width: width)
            } else {
                throw fail("`crop_size` must be a positive integer or {\"height\": h, \"width\": w}, got \(cropSize)")
            }
        }
        var resample = defaults.resample
        if let value = json["resample"] {
            guard case .number(let number) = value, let filter = Int(exactly: number).flatMap(ResamplingFilter.init) else {
                throw fail("`resample` \(value) is not supported (2 = bilinear, 3 = bicubic)")
            }
            resample = filter
        }
        var rescaleFactor = defaults.rescaleFactor
        if let value = json["rescale_factor"] {
            guard case .number(let factor) = value, factor > 0 else { throw fail("`rescale_factor` must be a positive number, got \(value)") }
            rescaleFactor = factor
        }
        /// Three per-channel numbers (R, G, B), or one number for all three.
        func channels(_ key: String, default value: [Float]) throws -> [Float] {
            switch json[key] {
            case nil: return value
            case .number(let number)?: return Array(repeating: Float(number), count: 3)
            case .array(let list)? where list.count == 3:
                let numbers = list.compactMap { if case .number(let x) = $0 { Float(x) } else { nil } }
                if numbers.count == 3 { return numbers }
            default: break
            }
            throw fail("`\(key)` must be 3 numbers (R, G, B), got \(json[key]!)")
        }
        let mean = try channels("image_mean", default: defaults.mean!)
        let std = try channels("image_std", default: defaults.std!)
        guard std.allSatisfy({ $0 > 0 }) else { throw fail("`image_std` must be positive, got \(std)") }
        /// `do_*` switches default to true, as in `CLIPImageProcessor`.
        func flag(_ key: String) throws -> Bool {
            switch json[key] {
            case nil: return true
            case .bool(let value)?: return value
            case let value?: throw fail("`\(key)` must be true or false, got \(value)")
            }
        }
        let normalize = try flag("do_normalize")
        self.init(resize: try flag("do_resize") ? resize : nil,
                  resample: resample,
                  centerCrop: try flag("do_center_crop") ? crop : nil,
                  rescaleFactor: try flag("do_rescale") ? rescaleFactor : nil,
                  mean: normalize ? mean : nil,
                  std: normalize ? std : nil)
    }
}

/// Just enough JSON to read a configuration whose values change type between transformers versions.
private enum JSONValue: Decodable, CustomStringConvertible {
    case bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue]), null

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let dictionary) = self { dictionary[key] } else { nil }
    }

    var positiveInteger: Int? {
        if case .number(let value) = self, let integer = Int(exactly: value), integer > 0 { integer } else { nil }
    }

    var description: String {
        switch self {
        case .bool(let value): "\(value)"
        case .number(let value): value == value.rounded() && abs(value) < 1e15 ? "\(Int(value))" : "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .object(let dictionary): "{" + dictionary.keys.sorted().map { "\"\($0)\": \(dictionary[$0]!)" }.joined(separator: ", ") + "}"
        case .null: "null"
        }
    }
}

/// A `preprocessor_config.json` that cannot be used; the description names the file and the key.
public struct PreprocessingConfigurationError: Error, CustomStringConvertible {
    public let description: String
    init(_ file: URL, _ problem: String) {
        description = "\(file.path): \(problem)"
    }
}
