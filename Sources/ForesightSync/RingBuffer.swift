/// A growable double-ended queue on one contiguous ring of slots: O(1) append, prepend and
/// removal at both ends, no allocation once the capacity is reached. Internal to the synchronizer
/// (the standard library has no deque and the package does not depend on swift-collections).
struct RingBuffer<Element> {
    private var slots: [Element?]
    private var head = 0
    private(set) var count = 0

    /// Creates an empty buffer with room for `capacity` elements before it grows.
    init(capacity: Int) {
        slots = Array(repeating: nil, count: Swift.max(1, capacity))
    }

    var isEmpty: Bool { count == 0 }

    /// The oldest element, if any.
    var first: Element? { count == 0 ? nil : slots[head] }

    /// The newest element, if any.
    var last: Element? { count == 0 ? nil : slots[physical(count - 1)] }

    /// The element at logical position `index` (0 = first); `index` must be in `0..<count`.
    subscript(index: Int) -> Element {
        precondition(index >= 0 && index < count, "RingBuffer index out of range")
        guard let element = slots[physical(index)] else { preconditionFailure("RingBuffer slot empty") }
        return element
    }

    mutating func append(_ element: Element) {
        if count == slots.count { grow() }
        slots[physical(count)] = element
        count += 1
    }

    mutating func prepend(_ element: Element) {
        if count == slots.count { grow() }
        head = (head - 1 + slots.count) % slots.count
        slots[head] = element
        count += 1
    }

    /// Removes and returns the first element; the buffer must not be empty.
    @discardableResult
    mutating func removeFirst() -> Element {
        precondition(count > 0, "removeFirst on an empty RingBuffer")
        guard let element = slots[head] else { preconditionFailure("RingBuffer slot empty") }
        slots[head] = nil
        head = (head + 1) % slots.count
        count -= 1
        return element
    }

    /// Removes and returns the last element; the buffer must not be empty.
    @discardableResult
    mutating func removeLast() -> Element {
        precondition(count > 0, "removeLast on an empty RingBuffer")
        let index = physical(count - 1)
        guard let element = slots[index] else { preconditionFailure("RingBuffer slot empty") }
        slots[index] = nil
        count -= 1
        return element
    }

    private func physical(_ logical: Int) -> Int {
        let index = head + logical
        return index >= slots.count ? index - slots.count : index
    }

    private mutating func grow() {
        var bigger = [Element?](repeating: nil, count: slots.count * 2)
        for i in 0..<count { bigger[i] = slots[physical(i)] }
        slots = bigger
        head = 0
    }
}

extension RingBuffer: Sendable where Element: Sendable {}
