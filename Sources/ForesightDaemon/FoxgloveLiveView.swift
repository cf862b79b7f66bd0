import Foundation
import ForesightBus
import ForesightInterop
import ForesightPreprocess
import ForesightSite
import ForesightWire
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

/// The launch file's `foxglove:` key: the live view of `foresight run` (absent = off).
public struct FoxgloveLiveSettings: Sendable, Equatable {
    /// `host:port` of the WebSocket listener (loopback by default: nothing is published to the
    /// network unless asked).
    public var address = "127.0.0.1:8765"
    /// Messages waiting per viewer; beyond it the viewer's oldest message is dropped (counted).
    public var viewerQueue = 16
    /// Protocol messages waiting to be encoded; beyond it the oldest is dropped (counted).
    public var encodeQueue = 32

    /// The defaults.
    public init() {}

    /// Reads `foxglove: {address, viewer_queue, encode_queue}`.
    public static func read(_ map: ConfigMapping) throws(ConfigError) -> FoxgloveLiveSettings {
        var s = FoxgloveLiveSettings()
        s.address = try map.string("address", default: s.address)
        guard HostPort(s.address) != nil else {
            throw map.invalid("address", "must be host:port, e.g. 127.0.0.1:8765 (got \(s.address))")
        }
        s.viewerQueue = try map.int("viewer_queue", default: s.viewerQueue, in: 1...10_000)
        s.encodeQueue = try map.int("encode_queue", default: s.encodeQueue, in: 1...10_000)
        try map.finish()
        return s
    }
}

/// `host:port` (IPv6 hosts in brackets; `localhost` and an empty host mean 127.0.0.1).
struct HostPort: Sendable {
    var host: String
    var port: Int

    init?(_ address: String) {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (0...65_535).contains(port) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host.isEmpty { host = "127.0.0.1" }
        self.host = host
        self.port = port
    }
}

/// The live view of `foresight run` for Foxglove: a Foxglove WebSocket server (subprotocol
/// `foxglove.websocket.v1`: serverInfo, advertise, subscribe/unsubscribe, binary messageData)
/// on Hummingbird, like `/metrics`, on its own address.
///
/// Channels are JSON with JSON Schemas, made by ``FoxgloveConverter`` (the same converter as
/// `foresight bag export --foxglove`): the well-known `foxglove.CompressedImage`, `PointCloud`,
/// `LocationFix`, `RawImage` (radar range-angle map), `SceneUpdate` and `FrameTransforms`, plus
/// every protocol topic that is not a sensor blob (predictions, diagnostics, truth, GNSS, beam
/// power) as its plain JSON view.
///
/// Cost and isolation: ``offer(topic:payload:receiveTime:)`` is the only call on the daemon's
/// path; it returns at once unless some viewer subscribed to a channel made from that topic, and
/// then hands the payload to a bounded queue (drop-oldest, counted). Encoding runs on its own
/// thread and encodes only subscribed channels. Each viewer has its own bounded queue: a viewer
/// that reads slowly loses its own oldest messages (counted), never delaying the pipeline or
/// another viewer.
public final class FoxgloveLiveView: Sendable {
    /// Why the live view could not start.
    public struct StartError: Error, CustomStringConvertible, Sendable {
        /// The address asked for.
        public var address: String
        /// What failed.
        public var reason: String
        /// A line a person can act on.
        public var description: String {
            let owner = PortOwner.port(of: address).flatMap { PortOwner.holder(ofTCPPort: $0) }.map { " (held by \($0))" } ?? ""
            return "Foxglove live view on \(address): \(reason)\(owner); stop it, or change foxglove.address in the launch file (remove the foxglove key to turn the live view off)"
        }
    }

    /// The WebSocket subprotocol spoken.
    public static let subprotocol = "foxglove.websocket.v1"

    /// One advertised channel.
    struct Channel: Sendable {
        var id: UInt32
        var spec: FoxgloveChannelSpec
        /// The protocol topics it is made from.
        var inputs: Set<String>
    }

    /// Host bound.
    public let host: String
    /// Port asked for (0 picks a free one).
    public let port: Int
    /// The settings.
    public let settings: FoxgloveLiveSettings
    let channels: [Channel]
    private let channelsByTopic: [String: Channel]
    private let channelsByID: [UInt32: Channel]
    /// Protocol topic → message type, for every topic the daemon reads or writes.
    private let topicTypes: [String: MessageType]
    private let serverName: String
    private let metadata: [(String, String)]
    private let sessionID = String(wallClockNanoseconds())
    private let state = Locked(State())
    private let counters = Locked(Counters())
    private let work: AsyncStream<Work>
    private let workInput: AsyncStream<Work>.Continuation
    private let encoder: LiveEncoder
    private let exporter = PrometheusExporter()
    private let logger: Logger

    struct State {
        var viewers: [Int: Viewer] = [:]
        var nextViewer = 1
        /// Foxglove topics some viewer subscribed to.
        var wantedChannels: Set<String> = []
        /// Protocol topics those channels are made from.
        var wantedTopics: Set<String> = []
    }

    struct Counters {
        var encoded: Int64 = 0
        var sent: Int64 = 0
        var droppedViewer: Int64 = 0
        var droppedEncoder: Int64 = 0
        var skipped: Int64 = 0
        var connections: Int64 = 0
    }

    /// A protocol message waiting to be encoded.
    struct Work: Sendable {
        var topic: String
        var type: MessageType
        var payload: [UInt8]
        var receiveTime: Int64
    }

    /// Prepares the live view of the daemon `launch` describes: its channels come from the
    /// launch file's input, truth and output topics.
    public init(settings: FoxgloveLiveSettings, launch: LaunchFile, logger: Logger) throws(StartError) {
        guard let address = HostPort(settings.address) else {
            throw StartError(address: settings.address, reason: "not host:port (e.g. 127.0.0.1:8765)")
        }
        host = address.host
        port = address.port
        self.settings = settings
        self.logger = logger
        serverName = "foresight \(launch.name)"
        metadata = [("site", launch.site.name), ("launch", launch.path)]

        var types: [String: MessageType] = [:]
        for modality in Modality.allCases { types[launch.inputTopic(modality)] = modality.messageType }
        for topic in launch.inputs.truthTopics {
            if let type = MessageType.forTopic(topic) { types[launch.prefix + topic] = type }
        }
        var outputs: [MessageType] = [.beamPrediction, .positionPrediction, .powerPrediction, .blockagePrediction, .diagnostics]
        if launch.output.publishFrames { outputs.append(.fusionFrame) }
        for type in outputs { types[launch.output.prefix + type.defaultTopic] = type }
        topicTypes = types

        var list: [Channel] = []
        for spec in FoxgloveConverter.wellKnownChannels {
            let inputs = Set(types.filter { spec.sources.contains($0.value) }.keys)
            if !inputs.isEmpty { list.append(Channel(id: UInt32(list.count + 1), spec: spec, inputs: inputs)) }
        }
        for (topic, type) in types.sorted(by: { $0.key < $1.key }) where FoxgloveConverter.hasJSONView(type) {
            list.append(Channel(id: UInt32(list.count + 1), spec: FoxgloveConverter.jsonViewChannel(topic: topic, type: type), inputs: [topic]))
        }
        channels = list
        channelsByTopic = Dictionary(list.map { ($0.spec.topic, $0) }, uniquingKeysWith: { a, _ in a })
        channelsByID = Dictionary(uniqueKeysWithValues: list.map { ($0.id, $0) })
        (work, workInput) = AsyncStream.makeStream(of: Work.self, bufferingPolicy: .bufferingNewest(settings.encodeQueue))
        encoder = LiveEncoder(site: launch.site)
    }

    // MARK: The daemon's side

    /// Offers one protocol message (a MessagePack payload on `topic`) to the viewers. Returns at
    /// once when no viewer watches a channel made from `topic`; never blocks.
    public func offer(topic: String, payload: [UInt8], receiveTime: Int64) {
        guard state.withLock({ $0.wantedTopics.contains(topic) }), let type = topicTypes[topic] else { return }
        if case .dropped = workInput.yield(Work(topic: topic, type: type, payload: payload, receiveTime: receiveTime)) {
            counters.withLock { $0.droppedEncoder += 1 }
        }
    }

    /// Offers a received bus message (frame 1 the topic, frame 2 the payload).
    public func offer(_ message: BusMessage) {
        // Nobody watching: not even the topic is decoded.
        guard state.withLock({ !$0.wantedTopics.isEmpty }), message.frames.count == 2, let topic = message.topic else { return }
        offer(topic: topic, payload: message.payload, receiveTime: message.receiveTime)
    }

    /// Serves until cancelled; calls `onListening` with the bound port once the socket listens.
    /// Throws ``StartError`` when the address cannot be bound.
    public func run(onListening: @escaping @Sendable (Int) async -> Void) async throws {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.ws("/", shouldUpgrade: { request, _ in
            let offered = request.headers[values: .secWebSocketProtocol]
                .flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
            guard offered.contains(Self.subprotocol) else { return .dontUpgrade }
            return .upgrade([.secWebSocketProtocol: Self.subprotocol])
        }, onUpgrade: { inbound, outbound, _ in
            try await self.serve(inbound: inbound, outbound: outbound)
        })
        let plain = Router()
        plain.get("/") { _, _ in
            "Foresight live view: a Foxglove WebSocket server (subprotocol \(Self.subprotocol)). In Foxglove: Open connection → Foxglove WebSocket → ws://<this address>\n"
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let app = Application(
            router: plain,
            server: .http1WebSocketUpgrade(webSocketRouter: router,
                                           configuration: .init(ws: .init(maxFrameSize: 1 << 16, closeTimeout: .seconds(2)))),
            configuration: .init(address: .hostname(host, port: port), serverName: nil, reuseAddress: true),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: quiet
        )
        defer {
            workInput.finish()
            for viewer in state.withLock({ Array($0.viewers.values) }) { viewer.finish() }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.pump() }
            group.addTask {
                do {
                    try await app.run()
                } catch let error as CancellationError {
                    throw error
                } catch {
                    let reason = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
                    throw StartError(address: "\(self.host):\(self.port)", reason: reason)
                }
            }
            // Whichever ends first (the server on shutdown or error) ends the other.
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    /// Encodes waiting messages (on the encoder's own thread) and hands them to the viewers.
    private func pump() async {
        for await item in work {
            let wanted = state.withLock { $0.wantedChannels }
            guard !wanted.isEmpty else { continue }
            let messages = await encoder.convert(item, wants: wanted)
            deliver(messages, receiveTime: item.receiveTime)
        }
    }

    /// Queues `messages` for every viewer subscribed to their channels.
    private func deliver(_ messages: [FoxgloveMessage], receiveTime: Int64) {
        let viewers = state.withLock { Array($0.viewers.values) }
        var encoded: Int64 = 0, dropped: Int64 = 0, skipped: Int64 = 0
        for message in messages {
            guard let channel = channelsByTopic[message.topic], channel.spec.schemaName == message.schemaName else {
                skipped += 1  // not advertised as this schema (e.g. a raw-pixel camera on /camera)
                continue
            }
            encoded += 1
            for viewer in viewers {
                guard let subscription = viewer.subscription(of: channel.id) else { continue }
                var frame = ByteBuffer()
                frame.reserveCapacity(13 + message.data.count)
                frame.writeInteger(UInt8(0x01))
                frame.writeInteger(subscription, endianness: .little)
                frame.writeInteger(UInt64(max(receiveTime, 0)), endianness: .little)
                frame.writeBytes(message.data)
                if !viewer.enqueue(.binary(frame)) { dropped += 1 }
            }
        }
        counters.withLock {
            $0.encoded += encoded
            $0.droppedViewer += dropped
            $0.skipped += skipped
        }
    }

    // MARK: One viewer

    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let viewer = Viewer(capacity: settings.viewerQueue)
        try await outbound.write(.text(serverInfoText()))
        try await outbound.write(.text(advertiseText()))
        let id = state.withLock { state -> Int in
            let id = state.nextViewer
            state.nextViewer += 1
            state.viewers[id] = viewer
            return id
        }
        counters.withLock { $0.connections += 1 }
        logger.info("foxglove viewer connected", metadata: ["viewer": "\(id)"])
        defer {
            state.withLock { $0.viewers[id] = nil }
            refreshWanted()
            let (sent, dropped) = viewer.totals
            logger.info("foxglove viewer disconnected", metadata: ["viewer": "\(id)", "sent": "\(sent)", "dropped": "\(dropped)"])
        }
        let counters = self.counters
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await frame in viewer.frames {
                    try await outbound.write(frame)
                    if case .binary = frame {
                        viewer.sent()
                        counters.withLock { $0.sent += 1 }
                    }
                }
            }
            do {
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    switch message {
                    case .text(let text): handle(text, from: viewer)
                    case .binary: viewer.status(.warning, "this server does not accept client messages (no clientPublish capability)")
                    }
                }
            } catch {
                logger.debug("foxglove viewer connection ended", metadata: ["viewer": "\(id)", "error": "\(error)"])
            }
            viewer.finish()
            group.cancelAll()
        }
    }

    /// Handles one JSON request of a viewer: subscribe, unsubscribe; anything else gets a status.
    private func handle(_ text: String, from viewer: Viewer) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let op = object["op"] as? String else {
            viewer.status(.error, "not a JSON object with an \"op\" field")
            return
        }
        switch op {
        case "subscribe":
            for item in object["subscriptions"] as? [[String: Any]] ?? [] {
                guard let id = (item["id"] as? NSNumber).flatMap({ UInt32(exactly: $0.doubleValue) }),
                      let channelID = (item["channelId"] as? NSNumber).flatMap({ UInt32(exactly: $0.doubleValue) }) else {
                    viewer.status(.error, "subscribe: every subscription needs an integer id and channelId")
                    continue
                }
                guard channelsByID[channelID] != nil else {
                    viewer.status(.error, "subscribe: no channel \(channelID) (see the advertise message)")
                    continue
                }
                if let problem = viewer.subscribe(id: id, channel: channelID) { viewer.status(.warning, "subscribe: \(problem)") }
            }
            refreshWanted()
        case "unsubscribe":
            for id in object["subscriptionIds"] as? [NSNumber] ?? [] {
                if let id = UInt32(exactly: id.doubleValue) { viewer.unsubscribe(id: id) }
            }
            refreshWanted()
        default:
            viewer.status(.warning, "operation '\(op)' is not supported (capabilities: none)")
        }
    }

    /// Recomputes which channels (and so which protocol topics) anybody watches.
    private func refreshWanted() {
        let channelsByID = self.channelsByID
        state.withLock { state in
            var ids = Set<UInt32>()
            for viewer in state.viewers.values { ids.formUnion(viewer.channelIDs) }
            let watched = ids.compactMap { channelsByID[$0] }
            state.wantedChannels = Set(watched.map(\.spec.topic))
            state.wantedTopics = watched.reduce(into: Set<String>()) { $0.formUnion($1.inputs) }
        }
    }

    private func serverInfoText() -> String {
        JSONText.write(.object([
            ("op", .string("serverInfo")),
            ("name", .string(serverName)),
            ("capabilities", .array([])),
            ("supportedEncodings", .array([])),
            ("metadata", .object(metadata.map { ($0.0, .string($0.1)) })),
            ("sessionId", .string(sessionID)),
        ]))
    }

    private func advertiseText() -> String {
        JSONText.write(.object([
            ("op", .string("advertise")),
            ("channels", .array(channels.map { c in
                .object([("id", .uint(UInt64(c.id))), ("topic", .string(c.spec.topic)), ("encoding", .string("json")),
                         ("schemaName", .string(c.spec.schemaName)), ("schema", .string(c.spec.schema)),
                         ("schemaEncoding", .string("jsonschema"))])
            })),
        ]))
    }

    // MARK: Metrics

    static let viewersFamily = PrometheusExporter.Family.gauge("foresight_foxglove_viewers", "Foxglove live-view connections open now")
    static let connectionsFamily = PrometheusExporter.Family.counter("foresight_foxglove_connections_total", "Foxglove live-view connections accepted")
    static let encodedFamily = PrometheusExporter.Family.counter("foresight_foxglove_messages_encoded_total", "Foxglove channel messages encoded (subscribed channels only)")
    static let sentFamily = PrometheusExporter.Family.counter("foresight_foxglove_messages_sent_total", "Foxglove messageData frames written to viewers")
    static let droppedFamily = PrometheusExporter.Family.counter("foresight_foxglove_messages_dropped_total",
                                                                 "Foxglove live-view messages dropped: viewer_queue_full (a slow viewer, its own messages only), encoder_busy (encoding fell behind), schema_mismatch (not the advertised schema)")

    /// The live view's counters in Prometheus text (appended to `/metrics`).
    public func metricsText() -> String {
        let c = counters.current
        let viewers = state.withLock { $0.viewers.count }
        typealias S = PrometheusExporter.Sample
        return exporter.render([
            S(Self.viewersFamily, [], Double(viewers)),
            S(Self.connectionsFamily, [], Double(c.connections)),
            S(Self.encodedFamily, [], Double(c.encoded)),
            S(Self.sentFamily, [], Double(c.sent)),
            S(Self.droppedFamily, [("reason", "viewer_queue_full")], Double(c.droppedViewer)),
            S(Self.droppedFamily, [("reason", "encoder_busy")], Double(c.droppedEncoder)),
            S(Self.droppedFamily, [("reason", "schema_mismatch")], Double(c.skipped)),
        ])
    }
}

/// One connected viewer: its subscriptions and its bounded outgoing queue (drop-oldest).
final class Viewer: Sendable {
    /// Status levels of the protocol's `status` message.
    enum Level: Int { case info = 0, warning = 1, error = 2 }

    let frames: AsyncStream<WebSocketOutboundWriter.OutboundFrame>
    private let input: AsyncStream<WebSocketOutboundWriter.OutboundFrame>.Continuation
    /// Subscription id → channel id.
    private let subscriptions = Locked<[UInt32: UInt32]>([:])
    private let counts = Locked<(sent: Int64, dropped: Int64)>((0, 0))

    init(capacity: Int) {
        (frames, input) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(capacity))
    }

    /// Queues a frame; false when the queue was full and the oldest frame was dropped for it.
    func enqueue(_ frame: WebSocketOutboundWriter.OutboundFrame) -> Bool {
        if case .dropped = input.yield(frame) {
            counts.withLock { $0.dropped += 1 }
            return false
        }
        return true
    }

    /// Queues a `status` message.
    func status(_ level: Level, _ message: String) {
        _ = enqueue(.text(JSONText.write(.object([("op", .string("status")), ("level", .int(Int64(level.rawValue))),
                                                  ("message", .string(message))]))))
    }

    func sent() { counts.withLock { $0.sent += 1 } }

    var totals: (sent: Int64, dropped: Int64) { counts.current }

    /// The subscription id of `channel`, if subscribed.
    func subscription(of channel: UInt32) -> UInt32? {
        subscriptions.withLock { $0.first { $0.value == channel }?.key }
    }

    var channelIDs: Set<UInt32> { Set(subscriptions.current.values) }

    /// Adds a subscription; returns why not when the id or the channel is already taken.
    func subscribe(id: UInt32, channel: UInt32) -> String? {
        subscriptions.withLock { table in
            if table[id] != nil { return "subscription id \(id) is in use; unsubscribe it first" }
            if table.values.contains(channel) { return "channel \(channel) is already subscribed" }
            table[id] = channel
            return nil
        }
    }

    func unsubscribe(id: UInt32) { subscriptions.withLock { $0[id] = nil } }

    func finish() { input.finish() }
}

/// The live view's converter on its own thread: JSON encoding and base64 of images and clouds
/// (and the radar map's FFTs) stay off the cooperative pool and off the pipeline's threads.
actor LiveEncoder {
    private let executor = DedicatedThreadExecutor(name: "fs-foxglove")
    /// Runs on the encoder's dedicated thread.
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private let converter: FoxgloveConverter

    init(site: Site) {
        converter = FoxgloveConverter(site: site)
    }

    deinit { executor.stop() }

    func convert(_ work: FoxgloveLiveView.Work, wants: Set<String>) -> [FoxgloveMessage] {
        converter.convert(topic: work.topic, type: work.type, payload: work.payload, wants: { wants.contains($0) })
    }
}
