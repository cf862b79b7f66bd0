import Foundation

/// Runs a producer on a dedicated OS thread ahead of its consumer: the thread calls `produce`
/// until it returns nil and hands each item over through a ``BoundedQueue`` of `capacity` items,
/// so reading and decompressing the next bag messages (or simulating them) overlaps whatever the
/// consumer does with the current one, and a slow consumer makes the producer wait instead of
/// buffering without bound. Items come out in the order they were produced; none is dropped.
///
/// The producer never runs on Swift's cooperative pool (its work is long and blocking). `next()`
/// blocks the calling thread while the queue is empty; the consumer is expected to be busy with
/// the previous item by then, so such waits are short.
///
/// Whatever state `produce` mutates belongs to the producer thread until the sequence has ended
/// (`next()` returned nil) or ``finish()`` has returned; read it only after that.
public final class ReadAhead<Element: Sendable>: Sequence, IteratorProtocol, @unchecked Sendable {
    private let queue: BoundedQueue<Element>
    private let done: DispatchSemaphore
    // Guarded by `lock`.
    private let lock = NSLock()
    private var joined = false

    /// Starts the producer thread, named `name` (Linux keeps 15 bytes), holding at most
    /// `capacity` (at least 1) produced items that the consumer has not taken yet.
    public init(name: String, capacity: Int, stackSize: Int = 8 << 20, produce: @escaping @Sendable () -> Element?) {
        let queue = BoundedQueue<Element>(capacity: Swift.max(1, capacity)), done = DispatchSemaphore(value: 0)
        self.queue = queue
        self.done = done
        let thread = Thread {
            DedicatedThreadExecutor.setCurrentThreadName(name)
            // Closing after the last call to `produce` orders everything it did before the
            // consumer's final (nil) `pop`, which takes the same lock.
            defer {
                queue.close()
                done.signal()
            }
            while let item = produce() {
                guard queue.push(item) else { return }  // the consumer stopped early
            }
        }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// The next item in production order, waiting for it if needed; nil at the end (or after
    /// ``finish()``).
    public func next() -> Element? {
        queue.pop()
    }

    /// Seconds the producer waited for room (the consumer was the slower side) and the consumer
    /// waited for an item (the producer was) so far.
    public var waits: (producer: Double, consumer: Double) {
        let w = queue.waits
        return (w.push, w.pop)
    }

    /// Stops the producer (it finishes the item it is making, which is discarded) and waits for
    /// its thread to end. Safe to call more than once, and after the sequence ended.
    public func finish() {
        queue.close()
        lock.lock()
        defer { lock.unlock() }
        guard !joined else { return }
        done.wait()
        joined = true
    }

    deinit {
        // Never blocks: a producer still running stops at its next push.
        queue.close()
    }
}
