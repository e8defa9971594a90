import Foundation

/// A shape or argument that a kernel cannot accept, with the names and sizes involved.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A contiguous, row-major Float32 buffer with a shape.
///
/// Tensors are buffers in the llm.c sense: allocated once, written in place by kernels, and shared by
/// reference. A tensor either owns its memory or views memory that someone else keeps alive (a slice of
/// another tensor, or a read-only memory-mapped checkpoint, which is never written).
public final class Tensor: @unchecked Sendable {
    public let shape: [Int]
    public let count: Int
    /// The first element. Kernels read and write through it; everything else uses the typed API.
    public let pointer: UnsafeMutablePointer<Float>
    /// Keeps viewed memory alive; nil when this tensor allocated (and so frees) its own memory.
    private let owner: AnyObject?
    public let isReadOnly: Bool
    /// Values that never change again (frozen model weights; every read-only tensor). Products may keep copies
    /// derived from them: the bf16 GEMM rounds such a weight once instead of at every call.
    public private(set) var isConstant: Bool
    /// The bf16 rounding of a constant tensor, made by the bf16 GEMM on first use (2 bytes per value).
    var bfloat16Copy: UnsafeMutablePointer<UInt16>?

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        // Cache-line aligned, so every run sees the same alignment of its buffers.
        self.pointer = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        self.pointer.initialize(repeating: 0, count: Swift.max(count, 1))
        self.owner = nil
        self.isReadOnly = false
        self.isConstant = false
    }

    /// A tensor holding a copy of `values`, which must have `shape.product` elements.
    public convenience init(shape: [Int], values: [Float]) throws {
        let count = shape.reduce(1, *)
        guard values.count == count else {
            throw ShapeError("tensor of shape \(shape) needs \(count) values, got \(values.count)")
        }
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: count) }
    }

    /// A view of memory kept alive by `owner` (a mapping or another tensor).
    public init(viewing pointer: UnsafeMutablePointer<Float>, shape: [Int], owner: AnyObject, readOnly: Bool) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.pointer = pointer
        self.owner = owner
        self.isReadOnly = readOnly
        self.isConstant = readOnly
    }

    deinit {
        if owner == nil { pointer.deallocate() }
        bfloat16Copy?.deallocate()
    }

    /// Declares that these values will not change again (see `isConstant`).
    public func markConstant() { isConstant = true }

    /// The same memory seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let newCount = newShape.reduce(1, *)
        guard newCount == count else {
            throw ShapeError("cannot reshape \(shape) (\(count) elements) to \(newShape) (\(newCount) elements)")
        }
        return view(pointer, newShape)
    }

    /// Rows `range` of the leading dimension, as a view.
    public func rows(_ range: Range<Int>) throws -> Tensor {
        guard let first = shape.first, range.lowerBound >= 0, range.upperBound <= first else {
            throw ShapeError("rows \(range) out of bounds for shape \(shape)")
        }
        let rowSize = count / Swift.max(first, 1)
        var newShape = shape
        newShape[0] = range.count
        return view(pointer + range.lowerBound * rowSize, newShape)
    }

    /// The first `newShape.product` elements seen with `newShape`, as a view: a smaller working set (fewer tokens
    /// per item, say) inside a buffer sized for the largest.
    public func leading(_ newShape: [Int]) throws -> Tensor {
        if newShape == shape { return self }
        let newCount = newShape.reduce(1, *)
        guard newShape.allSatisfy({ $0 >= 0 }), newCount <= count else {
            throw ShapeError("cannot view the first \(newCount) elements of \(shape) (\(count) elements) as \(newShape)")
        }
        return view(pointer, newShape)
    }

    /// A view of this tensor's memory, as read-only and as constant as the tensor itself.
    private func view(_ start: UnsafeMutablePointer<Float>, _ newShape: [Int]) -> Tensor {
        let view = Tensor(viewing: start, shape: newShape, owner: self, readOnly: isReadOnly)
        if isConstant { view.markConstant() }
        return view
    }

    /// The size of the last dimension (1 for a scalar).
    public var lastDimension: Int { shape.last ?? 1 }
    /// The number of rows when the tensor is seen as a matrix `[count / lastDimension, lastDimension]`.
    public var rowCount: Int { lastDimension == 0 ? 0 : count / lastDimension }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    /// A copy of the values as an array, in row-major order.
    public var values: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Sets every element to zero (the usual start of a gradient buffer, since backward passes accumulate).
    public func zero() {
        precondition(!isReadOnly, "cannot write a read-only tensor")
        let start = pointer
        WorkerTeam.shared.split(count, grain: WorkerTeam.elementGrain) { (start + $0.lowerBound).update(repeating: 0, count: $0.count) }
    }

    /// Copies all values from `source`, which must have the same element count.
    public func copy(from source: Tensor) throws {
        guard source.count == count else {
            throw ShapeError("copy: source has \(source.count) elements, destination \(count)")
        }
        pointer.update(from: source.pointer, count: count)
    }

    /// A newly allocated copy that owns its memory.
    public func clone() -> Tensor {
        let copy = Tensor(zeros: shape)
        copy.pointer.update(from: pointer, count: count)
        return copy
    }
}

// MARK: - Shape checks shared by every kernel

/// Throws a `ShapeError` with `message` unless `condition` holds: the one precondition check of every layer.
@inline(__always)
public func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ShapeError(message()) }
}

func requireWritable(_ tensor: Tensor, _ name: String) throws {
    try require(!tensor.isReadOnly, "\(name): destination is a read-only (memory-mapped) tensor")
}
