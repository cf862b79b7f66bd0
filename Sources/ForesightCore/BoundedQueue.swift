import Foundation

/// A blocking first-in first-out hand-off between two threads holding at most `capacity` items,
/// so a fast producer waits for a slow consumer instead of buffering without bound. Used between
/// dedicated threads (``ReadAhead``, the DeepSense importer's loader); its calls block the calling
/// thread, so it is not for Swift's cooperative pool.
public final class BoundedQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private var closed = false
    private let capacity: Int
    // Seconds `push` waited for room and `pop` waited for an item (see `waits`).
    private var pushWaitSeconds = 0.0, popWaitSeconds = 0.0

    /// An empty queue holding at most `capacity` (at least 1) items.
    public init(capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
    }

    /// Appends `item`, waiting while the queue is full. Returns false if the queue was closed.
    @discardableResult
    public func push(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if items.count >= capacity && !closed {
            let start = DispatchTime.now().uptimeNanoseconds
            while items.count >= capacity && !closed { condition.wait() }
            pushWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        guard !closed else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// Appends `item` if there is room; never waits. Returns false if the queue is full or closed.
    public func offer(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closed, items.count < capacity else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// The next item, waiting while the queue is empty; nil once it is closed and drained.
    public func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        if items.isEmpty && !closed {
            let start = DispatchTime.now().uptimeNanoseconds
            while items.isEmpty && !closed { condition.wait() }
            popWaitSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        guard !items.isEmpty else { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    /// Seconds `push` has waited for room (the consumer was slower) and `pop` for an item (the
    /// producer was slower) so far: how well the two sides overlap.
    public var waits: (push: Double, pop: Double) {
        condition.lock()
        defer { condition.unlock() }
        return (pushWaitSeconds, popWaitSeconds)
    }

    /// Wakes both sides; `push` fails from now on, `pop` drains what is left.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
