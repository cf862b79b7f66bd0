import Synchronization

/// A value guarded by a mutex, shareable across threads and tasks as a reference.
///
/// `Synchronization.Mutex` is non-copyable and so cannot be captured by the closures that run
/// socket threads; this box can.
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: Mutex<Void> = Mutex(())
    private var value: Value

    /// Creates a box holding `value`.
    public init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { _ in try body(&value) }
    }

    /// A copy of the current value.
    public var current: Value { withLock { $0 } }
}
