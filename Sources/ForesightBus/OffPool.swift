import Foundation

/// Runs blocking work (socket set-up and teardown with their waits, ZeroMQ linger, file
/// finishing) on a fresh dedicated thread, so it never occupies one of the few threads of
/// Swift's cooperative pool; the calling task suspends until the work is done.
public enum OffPool {
    /// Runs `body` on its own thread named `name` and returns its result.
    public static func run<T: Sendable>(_ name: String = "foresight-blocking",
                                        _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.name = name
            thread.start()
        }
    }

    /// Runs non-throwing `body` on its own thread named `name`.
    public static func run<T: Sendable>(_ name: String = "foresight-blocking",
                                        _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.name = name
            thread.start()
        }
    }
}
