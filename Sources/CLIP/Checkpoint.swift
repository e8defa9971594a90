import BLASCore
import Foundation

/// A Hugging Face `CLIPModel` directory: config.json plus model.safetensors, or the shards that
/// model.safetensors.index.json lists. Weights stay memory-mapped; tensors that the model does not use
/// (e.g. `position_ids` buffers of old exports) are simply never asked for.
public final class Checkpoint: @unchecked Sendable {
    public let directory: URL
    public let configuration: CLIPConfiguration
    /// The weight files, each mapped once.
    private let files: [SafeTensorsFile]
    /// Tensor name → the file that holds it.
    private let locations: [String: SafeTensorsFile]
    private let indexURL: URL?

    public static let singleFileName = "model.safetensors"
    public static let indexFileName = "model.safetensors.index.json"

    public init(directory: URL) throws {
        self.directory = directory
        configuration = try CLIPConfiguration.load(contentsOf: directory.appendingPathComponent("config.json"))
        let single = directory.appendingPathComponent(Self.singleFileName)
        let index = directory.appendingPathComponent(Self.indexFileName)
        let manager = FileManager.default
        if manager.fileExists(atPath: single.path) {
            let file = try SafeTensorsFile(contentsOf: single)
            files = [file]
            locations = Dictionary(uniqueKeysWithValues: file.names.map { ($0, file) })
            indexURL = nil
        } else if manager.fileExists(atPath: index.path) {
            (files, locations) = try Self.openShards(index: index, directory: directory)
            indexURL = index
        } else {
            let legacy = manager.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path)
                ? " (pytorch_model.bin is not read: save the model with safe_serialization=True)" : ""
            throw ModelFileError("\(directory.path): no \(Self.singleFileName) or \(Self.indexFileName)\(legacy)")
        }
    }

    /// `name` as Float32 with exactly `shape` (F32 weights are read-only views of the mapping).
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let file = locations[name] else {
            throw ModelFileError("\(weightsDescription): missing tensor '\(name)'")
        }
        let found = file.info(name)!.shape
        guard found == shape else {
            throw ModelFileError("\(file.url.path): tensor '\(name)' has shape \(found), expected \(shape)")
        }
        return try file.tensor(name)
    }

    /// Stored dtype and shape of `name`, or nil when the checkpoint lacks it.
    public func info(_ name: String) -> (dtype: String, shape: [Int])? {
        locations[name]?.info(name)
    }

    /// Every stored tensor name, sorted.
    public var tensorNames: [String] { locations.keys.sorted() }

    /// The dtypes the weights are stored in, e.g. ["F32"] or ["BF16"] (buffers such as `position_ids` left out).
    public var storedDTypes: Set<String> {
        Set(locations.compactMap { name, file in CLIPConfiguration.ignoredBuffers.contains(name) ? nil : file.info(name)!.dtype })
    }

    /// Size in bytes of each file the checkpoint consists of (config, index if sharded, weights), in that order.
    public var fileSizes: [(String, Int)] {
        let urls = [directory.appendingPathComponent("config.json")] + (indexURL.map { [$0] } ?? []) + files.map(\.url)
        return urls.map { url in
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int ?? 0
            return (url.lastPathComponent, size)
        }
    }

    /// What keeps the stored tensors from being the `CLIPModel` that config.json describes, one line each:
    /// missing tensors, shapes other than the configuration implies, dtypes that cannot be read, and tensors the
    /// model does not have (buffers such as `position_ids` excepted). Empty for a complete checkpoint.
    public var problems: [String] {
        var problems: [String] = []
        var expectedNames = Set<String>()
        for (name, shape) in configuration.parameterShapes {
            expectedNames.insert(name)
            guard let (dtype, found) = info(name) else {
                problems.append("missing tensor '\(name)' (expected shape \(shape))")
                continue
            }
            if found != shape { problems.append("tensor '\(name)' has shape \(found), config.json implies \(shape)") }
            if !SafeTensorsFile.readableDTypes.contains(dtype) {
                problems.append("tensor '\(name)' has dtype \(dtype), readable are \(SafeTensorsFile.readableDTypes.joined(separator: ", "))")
            }
        }
        for name in tensorNames where !expectedNames.contains(name) && !CLIPConfiguration.ignoredBuffers.contains(name) {
            problems.append("unexpected tensor '\(name)' (not part of CLIPModel; ignored)")
        }
        return problems
    }

    /// The weights for error messages: the single file, or the index of a sharded checkpoint.
    private var weightsDescription: String { (indexURL ?? files[0].url).path }

    private static func openShards(index: URL, directory: URL) throws -> ([SafeTensorsFile], [String: SafeTensorsFile]) {
        let data: Data
        do { data = try Data(contentsOf: index) } catch { throw ModelFileError("\(index.path): unreadable") }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
              let weightMap = root["weight_map"] as? [String: String] else {
            throw ModelFileError("\(index.path): not a safetensors index (needs a \"weight_map\" of tensor name → shard file)")
        }
        var shards: [String: SafeTensorsFile] = [:]
        var locations: [String: SafeTensorsFile] = [:]
        for (name, shardName) in weightMap.sorted(by: { $0.key < $1.key }) {
            guard !shardName.contains("/") else {
                throw ModelFileError("\(index.path): shard '\(shardName)' of tensor '\(name)' is not a file name in the checkpoint directory")
            }
            if shards[shardName] == nil {
                shards[shardName] = try SafeTensorsFile(contentsOf: directory.appendingPathComponent(shardName))
            }
            let shard = shards[shardName]!
            guard shard.info(name) != nil else {
                throw ModelFileError("\(shard.url.path): missing tensor '\(name)' (listed for this shard in \(index.lastPathComponent))")
            }
            locations[name] = shard
        }
        return (shards.keys.sorted().map { shards[$0]! }, locations)
    }
}
