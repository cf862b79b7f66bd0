import Logging
import ServiceLifecycle
import UnixSignals

/// How `foresight run` stops: the first SIGINT/SIGTERM shuts the service group down gracefully
/// (bounded by the group's `maximumGracefulShutdownDuration`, after which ServiceLifecycle
/// cancels it), the second cancels at once, a third calls `onThird` (the command exits).
public enum ShutdownEscalation {
    /// Runs `group` until it ends, escalating on each element of `signals`.
    public static func run(_ group: ServiceGroup, signals: AsyncStream<UnixSignal>, logger: Logger,
                           onThird: @escaping @Sendable (UnixSignal) -> Void) async throws {
        let running = Task { try await group.run() }
        let watcher = Task {
            var count = 0
            for await signal in signals {
                count += 1
                switch count {
                case 1:
                    logger.notice("stopping: draining frames in flight (send \(signal) again to stop at once)")
                    await group.triggerGracefulShutdown()
                case 2:
                    logger.warning("second \(signal): stopping without finishing the drain")
                    running.cancel()
                default:
                    onThird(signal)
                }
            }
        }
        defer { watcher.cancel() }
        do {
            try await running.value
        } catch is CancellationError {
            // Cancelled by the second signal: a deliberate stop.
        }
    }

    /// SIGINT and SIGTERM as a stream (trapped: their default action no longer applies).
    public static func processSignals() async -> AsyncStream<UnixSignal> {
        let sequence = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let (stream, continuation) = AsyncStream<UnixSignal>.makeStream()
        let task = Task {
            for await signal in sequence { continuation.yield(signal) }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
