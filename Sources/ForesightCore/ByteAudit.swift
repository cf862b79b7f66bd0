/// Debug-build accounting of the work done on sensor bytes between the socket and the decoders:
/// every copy of payload bytes into a new buffer and every JPEG header parse is recorded in the
/// audit bound to the current task (``current``), so a test can assert how often a camera
/// message's bytes are copied and its JPEG header parsed on the way through the pipeline.
///
/// Release builds record nothing (``record(_:)`` compiles to nothing). The audit is a task-local
/// value: the pipeline's stages inherit it (actor calls, `async let`, `Task {}`), tests running in
/// parallel never see each other's counts, and the socket threads (plain `Thread`s) never record.
public final class ByteAudit: Sendable {
    /// What is counted.
    public enum Event: Int, Sendable, CaseIterable {
        /// Payload bytes copied into a new buffer after the socket (a MessagePack `bin` field
        /// decoded into an array of its own). The socket's own copy out of zmq is not counted.
        case payloadCopy
        /// A JPEG header parsed with libjpeg-turbo (wire validation or, without it, the decoder).
        case jpegHeaderParse
    }

    /// The audit of the current task, if any.
    @TaskLocal public static var current: ByteAudit?

    private let counts = Locked([Int](repeating: 0, count: Event.allCases.count))

    /// An empty audit; bind it with `ByteAudit.$current.withValue(audit) { … }`.
    public init() {}

    /// How often `event` happened while the audit was bound.
    public func count(_ event: Event) -> Int { counts.withLock { $0[event.rawValue] } }

    /// Records `event` in the current task's audit (debug builds only).
    @inline(__always)
    public static func record(_ event: Event) {
        #if DEBUG
        current?.counts.withLock { $0[event.rawValue] += 1 }
        #endif
    }
}
