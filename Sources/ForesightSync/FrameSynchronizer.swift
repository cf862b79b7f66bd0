/// One message for the synchronizer: topic index (see ``SyncConfig/index(ofTopic:)``), stamp,
/// sequence number and payload.
public struct SyncInput<Payload: Sendable>: Sendable {
    /// Index into ``SyncConfig/topics``.
    public var topic: Int
    /// Sensor stamp, nanoseconds since the epoch.
    public var stamp: Int64
    /// Sequence number from the message header.
    public var seq: UInt32
    /// The message.
    public var payload: Payload

    /// Creates an input.
    public init(topic: Int, stamp: Int64, seq: UInt32, payload: Payload) {
        self.topic = topic
        self.stamp = stamp
        self.seq = seq
        self.payload = payload
    }
}

/// A health snapshot of a ``FrameSynchronizer`` for logs and the daemon's health topic.
public struct SyncHealth: Sendable, Hashable, Codable {
    /// All synchronizer counters.
    public var counters: SyncCounters
    /// Names of the topics silent for longer than the silence threshold (stream time).
    public var silentTopics: [String]
    /// Frames discarded from the output stream because the consumer was too slow.
    public var framesDroppedByConsumer: Int
    /// Stream time of the snapshot, if any message was seen.
    public var streamTime: Int64?
}

/// The daemon-facing synchronizer: an actor around ``ApproximateTimeSynchronizer`` that takes
/// messages (directly or from an `AsyncStream`) and publishes frames into a bounded
/// `AsyncStream`. When the consumer falls behind, the oldest buffered frames are dropped and
/// counted, so a slow consumer never stalls intake.
public actor FrameSynchronizer<Payload: Sendable> {
    /// Synchronized frames, oldest first. Holds at most `outputBuffer` frames.
    public nonisolated let frames: AsyncStream<SyncedFrame<Payload>>
    /// The configuration in use.
    public nonisolated let config: SyncConfig

    private let continuation: AsyncStream<SyncedFrame<Payload>>.Continuation
    private var core: ApproximateTimeSynchronizer<Payload>
    private var scratch: [SyncedFrame<Payload>] = []
    /// Frames discarded because the output buffer was full.
    public private(set) var framesDroppedByConsumer = 0
    /// The most recent rejection, for logging.
    public private(set) var lastRejection: SyncInputError?

    /// Creates the actor; `outputBuffer` (≥ 1) bounds the frames waiting for the consumer.
    public init(config: SyncConfig, outputBuffer: Int = 8) throws(SyncConfigError) {
        core = try ApproximateTimeSynchronizer(config: config)
        self.config = config
        (frames, continuation) = AsyncStream.makeStream(of: SyncedFrame<Payload>.self,
                                                        bufferingPolicy: .bufferingNewest(Swift.max(1, outputBuffer)))
    }

    /// Offers one message; ready frames go to ``frames``. Returns how many frames it produced.
    /// Rejections are thrown, counted and kept in ``lastRejection``.
    @discardableResult
    public func add(_ input: SyncInput<Payload>) throws(SyncInputError) -> Int {
        scratch.removeAll(keepingCapacity: true)
        do {
            try core.add(topic: input.topic, stamp: input.stamp, seq: input.seq, payload: input.payload, into: &scratch)
        } catch {
            lastRejection = error
            throw error
        }
        return publish()
    }

    /// Publishes what the deadline forces out by `now` (same time base as the stamps; stream
    /// time is not moved). Returns how many frames it produced.
    @discardableResult
    public func advance(to now: Int64) -> Int {
        scratch = core.advance(to: now)
        return publish()
    }

    /// Feeds every input of `inputs` until it ends (rejected inputs are counted and skipped),
    /// then flushes pending messages as deadline frames and finishes ``frames``.
    public func consume(_ inputs: AsyncStream<SyncInput<Payload>>) async {
        for await input in inputs {
            _ = try? add(input)
        }
        finish(flush: true)
    }

    /// Ends ``frames``; with `flush`, pending messages are first emitted as deadline frames.
    public func finish(flush: Bool = false) {
        if flush {
            scratch = core.flush()
            _ = publish()
        }
        continuation.finish()
    }

    /// All counters.
    public var counters: SyncCounters { core.counters }

    /// Indices of the topics silent for longer than the silence threshold at `now`
    /// (default: stream time).
    public func silentTopics(now: Int64? = nil) -> [Int] { core.silentTopics(now: now) }

    /// Topics that went silent or came back since the previous call (one log line each).
    public func silenceChanges(now: Int64? = nil) -> [SilenceChange] { core.silenceChanges(now: now) }

    /// A snapshot of counters, silent topics and output drops.
    public func health(now: Int64? = nil) -> SyncHealth {
        SyncHealth(counters: core.counters,
                   silentTopics: core.silentTopics(now: now).map { config.topics[$0].name },
                   framesDroppedByConsumer: framesDroppedByConsumer,
                   streamTime: core.streamTime)
    }

    private func publish() -> Int {
        for frame in scratch {
            if case .dropped = continuation.yield(frame) { framesDroppedByConsumer += 1 }
        }
        let produced = scratch.count
        scratch.removeAll(keepingCapacity: true)
        return produced
    }
}
