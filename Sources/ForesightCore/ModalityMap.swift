/// A value per modality, stored in frame order (five slots, no hashing).
///
/// Reads like a dictionary keyed by ``Modality``: `map[.camera]` is the value or nil, assigning nil
/// removes it, iteration yields the present entries in frame order.
public struct ModalityMap<Value>: Sequence {
    private var slots: [Value?]

    /// An empty map.
    public init() { slots = Array(repeating: nil, count: Modality.allCases.count) }

    /// A map with a value for every modality.
    public init(_ make: (Modality) throws -> Value) rethrows {
        slots = try Modality.allCases.map(make)
    }

    /// A map holding the given entries (a later duplicate wins).
    public init(_ entries: some Sequence<(Modality, Value)>) {
        self.init()
        for (m, v) in entries { self[m] = v }
    }

    /// The value of `modality`, or nil when absent; assign nil to remove it.
    public subscript(modality: Modality) -> Value? {
        get { slots[modality.index] }
        set { slots[modality.index] = newValue }
    }

    /// The value of `modality`, or `fallback` when absent.
    public subscript(modality: Modality, default fallback: @autoclosure () -> Value) -> Value {
        get { slots[modality.index] ?? fallback() }
        set { slots[modality.index] = newValue }
    }

    /// The modalities with a value, in frame order.
    public var keys: [Modality] { Modality.allCases.filter { slots[$0.index] != nil } }

    /// The present values, in frame order.
    public var values: [Value] { slots.compactMap { $0 } }

    /// Number of modalities with a value.
    public var count: Int { slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// Whether no modality has a value.
    public var isEmpty: Bool { slots.allSatisfy { $0 == nil } }

    /// The modalities without a value, in frame order.
    public var absent: [Modality] { Modality.allCases.filter { slots[$0.index] == nil } }

    /// The same keys with transformed values.
    public func mapValues<T>(_ transform: (Value) throws -> T) rethrows -> ModalityMap<T> {
        var out = ModalityMap<T>()
        for m in Modality.allCases { if let v = slots[m.index] { out[m] = try transform(v) } }
        return out
    }

    /// The present entries, in frame order.
    public func makeIterator() -> IndexingIterator<[(key: Modality, value: Value)]> {
        Modality.allCases.compactMap { m in slots[m.index].map { (key: m, value: $0) } }.makeIterator()
    }
}

extension ModalityMap: Sendable where Value: Sendable {}
extension ModalityMap: Equatable where Value: Equatable {}
extension ModalityMap: Hashable where Value: Hashable {}

extension ModalityMap: ExpressibleByDictionaryLiteral {
    /// A map from a literal such as `[.camera: x, .gnss: y]`.
    public init(dictionaryLiteral elements: (Modality, Value)...) {
        self.init(elements)
    }
}
