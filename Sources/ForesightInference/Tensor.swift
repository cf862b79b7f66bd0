/// A dense float32 tensor: a shape and row-major contiguous storage (last dimension fastest).
///
/// Batch 1 throughout the engine: images are `[C, H, W]`, token sequences `[N, d]`,
/// linear weights `[out, in]` (PyTorch's layout).
public struct Tensor: Sendable, Equatable {
    /// Extent of each dimension.
    public private(set) var shape: [Int]
    /// Row-major values; `storage.count` equals the product of `shape`.
    public var storage: [Float]

    /// A zero-filled tensor of the given shape.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.storage = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor over existing values, or `nil` when `values.count` does not match `shape`.
    public init?(shape: [Int], values: [Float]) {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == values.count else { return nil }
        self.shape = shape
        self.storage = values
    }

    /// Number of elements.
    public var count: Int { storage.count }

    /// The same values under another shape with the same element count, or `nil`.
    public func reshaped(_ newShape: [Int]) -> Tensor? {
        Tensor(shape: newShape, values: storage)
    }

    /// Largest absolute element-wise difference to `other` (infinity when the shapes differ).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        guard shape == other.shape else { return .infinity }
        var worst: Float = 0
        for i in storage.indices { worst = max(worst, abs(storage[i] - other.storage[i])) }
        return worst
    }
}
