import ForesightCore
/// Every message type of wire protocol v1: its name, default topic and JSON Schema.
public enum MessageType: String, Sendable, CaseIterable, Codable {
    case image = "foresight.Image"
    case radarCube = "foresight.RadarCube"
    case pointCloud = "foresight.PointCloud"
    case gnssFix = "foresight.GnssFix"
    case beamPower = "foresight.BeamPower"
    case truthUE = "foresight.TruthUE"
    case truthBeam = "foresight.TruthBeam"
    case truthBlockage = "foresight.TruthBlockage"
    case truthChannel = "foresight.TruthChannel"
    case beamPrediction = "foresight.BeamPrediction"
    case positionPrediction = "foresight.PositionPrediction"
    case powerPrediction = "foresight.PowerPrediction"
    case blockagePrediction = "foresight.BlockagePrediction"
    case fusionFrame = "foresight.FusionFrame"
    case diagnostics = "foresight.Diagnostics"

    /// The protocol name (also the MCAP schema name), e.g. `foresight.Image`.
    public var name: String { rawValue }

    /// The default topic, before any site prefix.
    public var defaultTopic: String {
        switch self {
        case .image: return "sensor/camera"
        case .radarCube: return "sensor/radar"
        case .pointCloud: return "sensor/lidar"
        case .gnssFix: return "sensor/gnss"
        case .beamPower: return "sensor/beam_power"
        case .truthUE: return "truth/ue"
        case .truthBeam: return "truth/beam"
        case .truthBlockage: return "truth/blockage"
        case .truthChannel: return "truth/channel"
        case .beamPrediction: return "predict/beam"
        case .positionPrediction: return "predict/position"
        case .powerPrediction: return "predict/power"
        case .blockagePrediction: return "predict/blockage"
        case .fusionFrame: return "fusion/frame"
        case .diagnostics: return "foresight/diagnostics"
        }
    }

    /// The Swift type that decodes this message type.
    public var swiftType: any WireMessage.Type {
        switch self {
        case .image: return Image.self
        case .radarCube: return RadarCube.self
        case .pointCloud: return PointCloud.self
        case .gnssFix: return GnssFix.self
        case .beamPower: return BeamPower.self
        case .truthUE: return TruthUE.self
        case .truthBeam: return TruthBeam.self
        case .truthBlockage: return TruthBlockage.self
        case .truthChannel: return TruthChannel.self
        case .beamPrediction: return BeamPrediction.self
        case .positionPrediction: return PositionPrediction.self
        case .powerPrediction: return PowerPrediction.self
        case .blockagePrediction: return BlockagePrediction.self
        case .fusionFrame: return FusionFrame.self
        case .diagnostics: return Diagnostics.self
        }
    }

    /// The message type whose default topic is `topic` (after removing a site `prefix`), if any.
    public static func forTopic(_ topic: String, prefix: String = "") -> MessageType? {
        guard topic.hasPrefix(prefix) else { return nil }
        let bare = String(topic.dropFirst(prefix.count))
        return allCases.first { $0.defaultTopic == bare }
    }

    /// Decodes and validates `payload` as this type; errors name `topic`.
    public func decode(_ payload: [UInt8], topic: String, limits: WireLimits = .default) throws(WireError) -> any WireMessage {
        do {
            let fields = try MessageFields(payload: payload, limits: limits)
            return try swiftType.init(fields: fields, limits: limits)
        } catch {
            throw error.on(topic: topic)
        }
    }

    /// The JSON Schema (draft 2020-12) of the decoded MessagePack map, as JSON text.
    ///
    /// `bin` fields are described as `{"type": "string", "contentEncoding": "base64"}`: the
    /// schema of the value a JSON view of the message shows. These texts are the MCAP schemas
    /// and are committed under `docs/schemas/` (a test keeps the two identical).
    public var jsonSchema: String { WireSchemas.schema(for: self).render() }
}

extension Modality {
    /// The sensor message type that carries this modality (`camera` → `foresight.Image`, …).
    public var messageType: MessageType {
        switch self {
        case .camera: return .image
        case .radar: return .radarCube
        case .lidar: return .pointCloud
        case .gnss: return .gnssFix
        case .beamPower: return .beamPower
        }
    }

    /// The default input topic of this modality, before any site prefix (`sensor/camera`, …).
    public var defaultTopic: String { messageType.defaultTopic }
}

extension MessageType {
    /// The modality a sensor message type carries; nil for truth, prediction and status types.
    public var modality: Modality? { Modality.allCases.first { $0.messageType == self } }
}
