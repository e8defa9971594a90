import BLASCore
import Cohort
import Foundation

/// A cohort's cases as model-ready pixels for training and scoring.
///
/// Images are read, windowed (`CaseImageReader`) and kept in memory once per run; each draw then optionally
/// augments the windowed image and runs CLIP's preprocessing into the batch. Without augmentation the preprocessed
/// pixels themselves are kept, so every later epoch and every scoring pass only copies.
/// `--preprocessed` manifests point at float32 NPY files already model-ready (3×S×S), used as they are.
public final class CohortImages: CaseImages, @unchecked Sendable {
    public enum Source: Sendable {
        /// Images (PNG, JPEG, NIfTI, NPY) → window → [augmentation] → CLIP preprocessing.
        case images(reader: CaseImageReader, preprocessor: CLIPPreprocessor, augmentation: AugmentationSettings)
        /// Model-ready float32 NPY pixel values.
        case preprocessed
    }

    public let manifest: Manifest
    public let source: Source
    public let imageSize: Int
    public var count: Int { manifest.cases.count }

    private var windowed: [Int: GrayImage] = [:]
    private var ready: [Int: Tensor] = [:]
    private let lock = NSLock()

    public init(manifest: Manifest, source: Source, imageSize: Int) {
        self.manifest = manifest
        self.source = source
        self.imageSize = imageSize
    }

    public func writePixels(of index: Int, into batch: Tensor, slot: Int, augmentation generator: inout SeededGenerator?) throws {
        let item = try batch.rows(slot..<slot + 1)
        switch source {
        case .preprocessed:
            try item.copy(from: try cachedReady(index) { try self.loadPreprocessed(index) })
        case .images(_, let preprocessor, let augmentation):
            if generator != nil, !augmentation.isIdentity {
                let image = try windowedImage(index).augmented(augmentation, using: &generator!)
                try preprocessor.write(image, into: batch, at: slot)
            } else {
                try item.copy(from: try cachedReady(index) {
                    let pixels = Tensor(zeros: [1, 3, self.imageSize, self.imageSize])
                    try preprocessor.write(try self.windowedImage(index), into: pixels, at: 0)
                    return pixels
                })
            }
        }
    }

    private func cachedReady(_ index: Int, make: () throws -> Tensor) throws -> Tensor {
        if let tensor = lock.withLock({ ready[index] }) { return tensor }
        let tensor = try make()
        lock.withLock { ready[index] = tensor }
        return tensor
    }

    private func windowedImage(_ index: Int) throws -> GrayImage {
        if let image = lock.withLock({ windowed[index] }) { return image }
        guard case .images(let reader, _, _) = source else { preconditionFailure("windowed image of a preprocessed cohort") }
        let image = try reader.image(for: manifest.cases[index])
        lock.withLock { windowed[index] = image }
        return image
    }

    private func loadPreprocessed(_ index: Int) throws -> Tensor {
        let file = manifest.cases[index].image
        let pixels = try NPYArray.pixelValues(contentsOf: file)
        guard pixels.shape == [3, imageSize, imageSize] else {
            throw ImageFileError(file, "pixel values \(pixels.shape), the model expects [3, \(imageSize), \(imageSize)]")
        }
        return try pixels.reshaped([1, 3, imageSize, imageSize])
    }
}
