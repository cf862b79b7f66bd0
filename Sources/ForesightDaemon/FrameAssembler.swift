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

/// What the pipeline remembers about a frame between synchronization and publication.
public struct FrameContext: Sendable {
    /// Frame number (monotonic from 0).
    public var seq: UInt64
    /// Frame stamp (the synchronizer's reference stamp), ns.
    public var stamp: Int64
    /// The member messages.
    public var members: [FusionFrame.Member]
    /// Modalities absent from the frame.
    public var missing: [String]
    /// Why the synchronizer emitted it (optimal set or deadline).
    public var reason: FrameReason
    /// Wall-clock receive time of the frame's newest member, ns.
    public var lastReceive: Int64
    /// Wall-clock time the frame left the synchronizer, ns.
    public var synchronizedAt: Int64
    /// The GNSS fix, if present.
    public var fix: GnssFix?
    /// The point cloud, if present.
    public var cloud: PointCloud?
    /// The beam-power scan, if present.
    public var beamPower: BeamPower?
    /// How many times the synchronizer had restarted (clock jump, publisher restart) before this
    /// frame; a change starts a new segment for streaming predictors and the dataset.
    public var epoch: UInt64 = 0
}

/// The ingest side of the pipeline: wire acceptance (framing, limits, validation, stream rules),
/// topic routing and the ApproximateTime synchronizer with its deadline. Owned by one task.
public struct FrameAssembler: Sendable {
    /// Wire acceptance; its counters are shared with the pipeline's statistics.
    public private(set) var ingest: WireIngest
    /// The synchronizer over the five modalities (`LaunchFile.modalities` order).
    public private(set) var synchronizer: ApproximateTimeSynchronizer<SensorMessage>
    private let modalityOfTopic: [String: Int]
    private let topicNames: [String]
    private let truthTopics: Set<String>
    private let config: SyncConfig
    private var nextSeq: UInt64 = 0
    private var restarts: UInt64 = 0

    /// What one accepted message produced.
    public struct Output: Sendable {
        /// Frames that became ready, with their context.
        public var frames: [(raw: RawFrame, context: FrameContext)] = []
        /// A ground-truth message (not synchronized).
        public var truth: (any WireMessage)?
        /// Why the message was rejected, when it was (already counted).
        public var rejection: WireError?
    }

    /// Builds the ingest side from a launch file.
    public init(launch: LaunchFile, counters: WireCounters) throws {
        var routes: [String: MessageType] = [:]
        let types: [MessageType] = [.image, .radarCube, .pointCloud, .gnssFix, .beamPower]
        var index: [String: Int] = [:]
        var names: [String] = []
        for i in LaunchFile.modalities.indices {
            let topic = launch.prefix + launch.inputs.topics[i]
            routes[topic] = types[i]
            index[topic] = i
            names.append(topic)
        }
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
        config = SyncConfig(topics: LaunchFile.modalities.map { SyncTopic(name: $0, interMessageLowerBound: launch.sync.interMessageLowerBound) },
                            queueSize: launch.sync.queueSize, maxInterval: launch.sync.maxInterval,
                            agePenalty: launch.sync.agePenalty, deadline: launch.sync.deadline,
                            silenceThreshold: launch.sync.silence, futureBound: launch.sync.futureBound)
        do {
            synchronizer = try ApproximateTimeSynchronizer(config: config)
        } catch {
            throw LaunchError("sync: \(error)")
        }
        modalityOfTopic = index
        topicNames = names
        truthTopics = truth
    }

    /// Accepts one multipart message; returns the frames it completed (often none).
    public mutating func accept(frames: [[UInt8]], receiveTime: Int64) -> Output {
        var output = Output()
        let accepted: IngestedMessage
        switch ingest.accept(frames: frames) {
        case .success(let message): accepted = message
        case .failure(let error):
            output.rejection = error
            return output
        }
        if truthTopics.contains(accepted.topic) {
            output.truth = accepted.message
            return output
        }
        guard let modality = modalityOfTopic[accepted.topic] else { return output }
        if accepted.observation.clockJump || accepted.observation.publisherReset {
            // Resynchronize rather than silently shifting frames: emit what is pending, start afresh.
            output.frames += wrap(synchronizer.restart())
            restarts += 1
        }
        let header = accepted.message.header
        let message = SensorMessage(type: accepted.type, message: accepted.message, topic: accepted.topic, receiveTime: receiveTime)
        do {
            output.frames += wrap(try synchronizer.add(topic: modality, stamp: header.stamp, seq: header.seq, payload: message))
        } catch {
            // Counted per topic by the synchronizer (backwards, future, out of range).
        }
        return output
    }

    /// Moves stream time to `now` (ns, sensor time) so the deadline fires even when every sensor is silent.
    public mutating func advance(to now: Int64) -> [(raw: RawFrame, context: FrameContext)] {
        wrap(synchronizer.advance(to: now))
    }

    /// Emits everything pending (end of stream, shutdown).
    public mutating func flush() -> [(raw: RawFrame, context: FrameContext)] {
        wrap(synchronizer.flush())
    }

    private mutating func wrap(_ frames: [SyncedFrame<SensorMessage>]) -> [(raw: RawFrame, context: FrameContext)] {
        let now = wallClockNanoseconds()
        return frames.map { frame in
            var image: Image?, cube: RadarCube?, cloud: PointCloud?, fix: GnssFix?, power: BeamPower?
            var members: [FusionFrame.Member] = []
            var lastReceive: Int64 = 0
            for (i, member) in frame.members.enumerated() {
                guard let member else { continue }
                let payload = member.payload
                members.append(FusionFrame.Member(modality: LaunchFile.modalities[i], topic: payload.topic, stamp: member.stamp, seq: member.seq))
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
            let raw = RawFrame(seq: seq, stamp: frame.stamp, image: image, radar: cube, cloud: cloud, fix: fix, beamPower: power)
            let context = FrameContext(seq: seq, stamp: frame.stamp, members: members,
                                       missing: frame.missing.map { LaunchFile.modalities[$0] }, reason: frame.reason,
                                       lastReceive: lastReceive, synchronizedAt: now, fix: fix, cloud: cloud, beamPower: power,
                                       epoch: restarts)
            return (raw, context)
        }
    }

    /// Input topics whose last message is older than the silence threshold (stream time).
    public func silentTopics() -> [String] {
        synchronizer.silentTopics().map { topicNames[$0] }
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
