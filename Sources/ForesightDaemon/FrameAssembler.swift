import ForesightBus
import ForesightPreprocess
import ForesightSync
import ForesightWire

/// One accepted sensor message on its way through the synchronizer.
public struct SensorMessage: Sendable {
    /// Its protocol type.
    public var type: MessageType
    /// The decoded, validated message.
    public var message: any WireMessage
    /// The topic it arrived on.
    public var topic: String
    /// Wall-clock receive time, ns.
    public var receiveTime: Int64
}

/// The ingest side of the pipeline: wire acceptance (framing, limits, validation, stream rules),
/// topic routing and the ApproximateTime synchronizer with its deadline. Owned by one task.
public struct FrameAssembler: Sendable {
    /// Wire acceptance; its counters are shared with the pipeline's statistics.
    public private(set) var ingest: WireIngest
    /// The synchronizer over the five modalities (topic index = ``Modality/index``).
    public private(set) var synchronizer: ApproximateTimeSynchronizer<SensorMessage>
    private let modalityOfTopic: [String: Modality]
    private let topicNames: [String]
    private let truthTopics: Set<String>
    private let config: SyncConfig
    private var nextSeq: UInt64 = 0
    /// The newest accepted sensor stamp and the wall time it arrived: stream time is anchored
    /// here (see ``streamTime(at:)``), never accumulated.
    private var anchor: (stamp: Int64, arrival: Int64)?
    /// When the first `stamp_future` rejection since the last accepted sensor message arrived.
    private var futureSince: Int64?
    /// When the first `late` sensor message since the last one that joined a set arrived.
    private var lateSince: Int64?
    private let futureBound: Int64?
    private let silence: Int64
    /// Largest wall-clock advance added to the anchor stamp for the deadline: twice the deadline
    /// (enough to force out everything pending after any pause, never more).
    private let advanceCap: Int64
    /// Whole-stream resynchronizations so far (the `epoch` of the frames after them).
    private var restarts: UInt64 = 0

    /// What one accepted message produced.
    public struct Output: Sendable {
        /// Frames that became ready (each carries its header).
        public var frames: [RawFrame] = []
        /// A ground-truth message (not synchronized).
        public var truth: (any WireMessage)?
        /// Why the message was rejected, when it was (already counted).
        public var rejection: WireError?
    }

    /// Builds the ingest side from a launch file.
    public init(launch: LaunchFile, counters: WireCounters) throws {
        var routes: [String: MessageType] = [:]
        var index: [String: Modality] = [:]
        for modality in Modality.allCases {
            let topic = launch.inputTopic(modality)
            routes[topic] = modality.messageType
            index[topic] = modality
        }
        let names = launch.inputTopics
        var truth: Set<String> = []
        for topic in launch.inputs.truthTopics {
            guard let type = MessageType.allCases.first(where: { topic.hasSuffix($0.defaultTopic) && $0.defaultTopic.hasPrefix("truth/") }) else {
                throw LaunchError("inputs.truth: '\(topic)' is not a truth topic (truth/ue, truth/beam, truth/blockage)")
            }
            routes[launch.prefix + topic] = type
            truth.insert(launch.prefix + topic)
        }
        ingest = WireIngest(routes: routes, limits: launch.inputs.limits,
                            monitor: StreamMonitor(clockJumpBound: launch.sync.clockJump), counters: counters)
        // The future bound is enforced here against the anchored stream time (before the stream
        // rules see the stamp), not by the synchronizer against the newest stamp alone: after a
        // real pause the sensors' next stamps are legitimately far ahead of the last one.
        config = SyncConfig(topics: Modality.allCases.map { SyncTopic(name: $0.rawValue, interMessageLowerBound: launch.sync.interMessageLowerBound) },
                            queueSize: launch.sync.queueSize, maxInterval: launch.sync.maxInterval,
                            agePenalty: launch.sync.agePenalty, deadline: launch.sync.deadline,
                            silenceThreshold: launch.sync.silence, futureBound: nil)
        futureBound = launch.sync.futureBound
        silence = launch.sync.silence
        advanceCap = 2 * launch.sync.deadline
        do {
            synchronizer = try ApproximateTimeSynchronizer(config: config)
        } catch {
            throw LaunchError("sync: \(error)")
        }
        modalityOfTopic = index
        topicNames = names
        truthTopics = truth
    }

    /// Accepts one multipart message received at wall-clock `receiveTime` (ns); returns the
    /// frames it completed (often none).
    ///
    /// Before the message joins the synchronizer, the deadline is enforced at the stream time of
    /// its arrival (``streamTime(at:)``): exactly what the live ticker would have done by then, so
    /// a recorded stream replayed offline with its receive times gives the live frames.
    public mutating func accept(frames: [[UInt8]], receiveTime: Int64) -> Output {
        var output = Output()
        let accepted: IngestedMessage
        let reference = futureReference(at: receiveTime)
        let routes = modalityOfTopic
        switch ingest.accept(frames: frames, admit: { topic, header in
            guard routes[topic] != nil, let (bound, now) = reference, header.stamp > now, header.stamp - now > bound else { return nil }
            return WireError(topic: topic, field: "stamp", reason: .stampFuture,
                             detail: "stamp \(header.stamp) is \((header.stamp - now) / 1_000_000) ms ahead of stream time \(now) (future_bound_ms \(bound / 1_000_000)): check the sensor clock")
        }) {
        case .success(let message): accepted = message
        case .failure(let error):
            if error.reason == .stampFuture, futureSince == nil { futureSince = receiveTime }
            output.rejection = error
            return output
        }
        if truthTopics.contains(accepted.topic) {
            output.truth = accepted.message
            return output
        }
        guard let modality = modalityOfTopic[accepted.topic]?.index else { return output }
        output.frames += advance(at: receiveTime)
        if accepted.observation.clockJump || accepted.observation.publisherReset {
            // One topic restarted or jumped: forget its previous stamp only. A single odd message
            // (a stale stamp with seq 0) must not resynchronize every sensor; when the whole
            // stream really moved back, only late messages arrive and the check below resyncs.
            synchronizer.forget(topic: modality)
        }
        let header = accepted.message.header
        let message = SensorMessage(type: accepted.type, message: accepted.message, topic: accepted.topic, receiveTime: receiveTime)
        do {
            let lateBefore = synchronizer.counters.topics[modality].late
            output.frames += wrap(try synchronizer.add(topic: modality, stamp: header.stamp, seq: header.seq, payload: message))
            futureSince = nil
            if synchronizer.counters.topics[modality].late == lateBefore {
                lateSince = nil
                if anchor.map({ header.stamp >= $0.stamp }) ?? true { anchor = (header.stamp, receiveTime) }
            } else if let since = lateSince, receiveTime - since > silence {
                // For longer than the silence threshold every sensor message was late: the
                // stream's time base moved back (a restarted replay). Emit what is pending and
                // resynchronize on this message.
                output.frames += wrap(synchronizer.restart())
                restarts += 1
                anchor = nil
                lateSince = nil
                output.frames += wrap(try synchronizer.add(topic: modality, stamp: header.stamp, seq: header.seq, payload: message))
                anchor = (header.stamp, receiveTime)
            } else if lateSince == nil {
                lateSince = receiveTime
            }
        } catch {
            // Counted per topic by the synchronizer (backwards, out of range).
        }
        return output
    }

    /// Stream time at wall-clock `now`: the newest accepted sensor stamp plus the wall time since
    /// *that* message arrived, capped at twice the deadline. Anchored to one arrival, it never
    /// accumulates idle time, so a pause of any length cannot push it ahead of the sensors.
    public func streamTime(at now: Int64) -> Int64? {
        guard let anchor else { return nil }
        let idle = Swift.min(Swift.max(0, now - anchor.arrival), advanceCap)
        return anchor.stamp + idle
    }

    /// The reference for the future bound at `now`: the anchor plus the whole wall time since it
    /// arrived (a real pause moves the sensors' stamps by its full length). `nil` — no check —
    /// before the first stamp, and when for longer than the silence threshold nothing but future
    /// stamps arrived: then the whole rig's clock moved and the stream resynchronizes on it.
    private func futureReference(at now: Int64) -> (bound: Int64, now: Int64)? {
        guard let futureBound, let anchor else { return nil }
        if let since = futureSince, now - since > silence, now - anchor.arrival > silence { return nil }
        return (futureBound, anchor.stamp + Swift.max(0, now - anchor.arrival))
    }

    /// Enforces the deadline at the stream time of wall-clock `now` (see ``streamTime(at:)``), so
    /// frames keep leaving when every sensor is silent.
    public mutating func advance(at now: Int64) -> [RawFrame] {
        guard let time = streamTime(at: now) else { return [] }
        return wrap(synchronizer.advance(to: time))
    }

    /// Emits everything pending (end of stream, shutdown).
    public mutating func flush() -> [RawFrame] {
        wrap(synchronizer.flush())
    }

    private mutating func wrap(_ frames: [SyncedFrame<SensorMessage>]) -> [RawFrame] {
        let now = wallClockNanoseconds()
        return frames.map { frame in
            var image: Image?, cube: RadarCube?, cloud: PointCloud?, fix: GnssFix?, power: BeamPower?
            var members: [FusionFrame.Member] = []
            var lastReceive: Int64 = 0
            for (i, member) in frame.members.enumerated() {
                guard let member, let modality = Modality(index: i) else { continue }
                let payload = member.payload
                members.append(FusionFrame.Member(modality: modality, topic: payload.topic, stamp: member.stamp, seq: member.seq))
                lastReceive = max(lastReceive, payload.receiveTime)
                switch payload.message {
                case let m as Image: image = m
                case let m as RadarCube: cube = m
                case let m as PointCloud: cloud = m
                case let m as GnssFix: fix = m
                case let m as BeamPower: power = m
                default: break
                }
            }
            let seq = nextSeq
            nextSeq += 1
            let header = FrameHeader(seq: seq, stamp: frame.stamp, members: members,
                                     missing: frame.missing.compactMap(Modality.init(index:)), reason: frame.reason,
                                     lastReceive: lastReceive, synchronizedAt: now, epoch: restarts)
            return RawFrame(header: header, camera: image, radar: cube, lidar: cloud, gnss: fix, beamPower: power)
        }
    }

    /// Input topics whose last message is older than the silence threshold, in stream time as of
    /// wall-clock `now` (the newest stamp plus the whole wall time since it arrived, so a pause
    /// of every sensor is reported too).
    public func silentTopics(at now: Int64) -> [String] {
        let time = anchor.map { $0.stamp + Swift.max(0, now - $0.arrival) }
        return synchronizer.silentTopics(now: time).map { topicNames[$0] }
    }

    /// The synchronizer's per-topic counters, keyed by full topic.
    public func syncCounters() -> [(topic: String, counters: TopicCounters)] {
        zip(topicNames, synchronizer.counters.topics).map { ($0, $1) }
    }
}

/// A launch-time configuration problem.
public struct LaunchError: Error, CustomStringConvertible, Sendable {
    /// What is wrong and what to do.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
