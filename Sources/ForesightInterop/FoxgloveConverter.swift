import Foundation
import ForesightPreprocess
import ForesightSite
import ForesightWire

/// One message on a Foxglove channel: JSON bytes ready to write into a bag or send to a viewer.
public struct FoxgloveMessage: Sendable {
    /// The Foxglove topic (`/camera`, `/scene`, `/predict/beam`, …).
    public var topic: String
    /// The schema name: a well-known `foxglove.X` type or a Foresight protocol type.
    public var schemaName: String
    /// The JSON message.
    public var data: [UInt8]
}

/// A channel Foresight can offer to Foxglove: topic, schema name and the JSON Schema text.
public struct FoxgloveChannelSpec: Sendable, Equatable {
    /// The Foxglove topic.
    public var topic: String
    /// The schema name (`foxglove.CompressedImage`, `foresight.BeamPrediction`, …).
    public var schemaName: String
    /// The JSON Schema (schema encoding `jsonschema`, message encoding `json`).
    public var schema: String
    /// The protocol messages this channel is computed from.
    public var sources: Set<MessageType>
}

/// Turns Foresight protocol messages (MessagePack) into Foxglove channels — the one converter
/// behind both `foresight bag export --foxglove` and the live view of `foresight run`:
/// camera → `foxglove.CompressedImage` (`/camera`) or `RawImage` (`/camera/raw`), LiDAR → `foxglove.PointCloud`, GNSS and
/// predicted positions → `foxglove.LocationFix`, the radar range-angle map → `foxglove.RawImage`
/// mono8, a `foxglove.SceneUpdate` scene in the site frame (base station, boresight, the UE's
/// measured and predicted track, the best beam as a cone coloured by the blockage probability)
/// with `foxglove.FrameTransforms`, and every other message as plain JSON with its Foresight JSON
/// Schema. Not thread-safe: one owner feeds it messages in order (it keeps the scene state).
public final class FoxgloveConverter {
    /// The site calibration (base station, array, codebook); without it there is no 3-D scene.
    public let site: Site?
    /// Measured UE positions kept in the track line.
    public let trackLength: Int
    /// Messages not converted, per "topic: reason".
    public private(set) var skipped: [String: Int] = [:]
    /// Notes about the conversion as a whole (a disabled radar map, no scene without a site).
    public private(set) var notes: [String] = []

    private var radar: RadarPreprocessor?
    private var radarTried = false
    private var scene = SceneState()
    private var out: [FoxgloveMessage] = []
    private var wants: (String) -> Bool = { _ in true }

    /// Creates a converter; `site` enables `/scene`, `/tf` and `/predict/position_fix` placement.
    public init(site: Site?, trackLength: Int = 50) {
        self.site = site
        self.trackLength = trackLength
        if site == nil { notes.append("no --site: no /scene (base station, tracks, beam cone)") }
    }

    /// Foxglove topic names of the well-known channels.
    public enum Topic {
        public static let camera = "/camera", cameraRaw = "/camera/raw", lidar = "/lidar", gnss = "/gnss", radarMap = "/radar/range_angle"
        public static let predictedFix = "/predict/position_fix", scene = "/scene", transforms = "/tf"
    }

    /// The well-known channels. A camera has two: JPEG frames on `/camera` as
    /// `foxglove.CompressedImage`, raw-pixel frames (`rgb8`, `bgr8`, `mono8`) on `/camera/raw` as
    /// `foxglove.RawImage` — a channel's schema is fixed when it is advertised, before any frame
    /// says which kind a camera sends, and Foxglove panels decode a topic as one type (as ROS
    /// keeps `image_raw` and `image_raw/compressed` apart).
    public static let wellKnownChannels: [FoxgloveChannelSpec] = {
        func spec(_ topic: String, _ name: String, _ sources: Set<MessageType>) -> FoxgloveChannelSpec {
            FoxgloveChannelSpec(topic: topic, schemaName: name, schema: FoxgloveSchemas.schema(name) ?? "{}", sources: sources)
        }
        let scene: Set<MessageType> = [.gnssFix, .positionPrediction, .beamPrediction, .blockagePrediction, .truthBeam, .truthBlockage]
        return [spec(Topic.camera, "foxglove.CompressedImage", [.image]),
                spec(Topic.cameraRaw, "foxglove.RawImage", [.image]),
                spec(Topic.lidar, "foxglove.PointCloud", [.pointCloud]),
                spec(Topic.gnss, "foxglove.LocationFix", [.gnssFix]),
                spec(Topic.radarMap, "foxglove.RawImage", [.radarCube]),
                spec(Topic.predictedFix, "foxglove.LocationFix", [.positionPrediction]),
                spec(Topic.scene, "foxglove.SceneUpdate", scene),
                spec(Topic.transforms, "foxglove.FrameTransforms", scene)]
    }()

    /// Whether a protocol message type also gets the plain JSON view (`/TOPIC`); images, clouds
    /// and radar cubes are shown only through their well-known channels.
    public static func hasJSONView(_ type: MessageType) -> Bool {
        ![.image, .pointCloud, .radarCube].contains(type)
    }

    /// The plain JSON channel of a protocol topic: `/TOPIC`, the type's name, its JSON Schema
    /// with numbers relaxed to allow `null`.
    public static func jsonViewChannel(topic: String, type: MessageType) -> FoxgloveChannelSpec {
        FoxgloveChannelSpec(topic: "/" + topic, schemaName: type.name, schema: jsonViewSchema(type), sources: [type])
    }

    /// The JSON Schema text of a schema name: a well-known type or a protocol type's JSON view.
    public static func schemaText(_ name: String) -> String {
        FoxgloveSchemas.schema(name) ?? MessageType(rawValue: name).map(jsonViewSchema) ?? "{}"
    }

    /// The protocol message type of a topic by its default name (with any site prefix).
    public static func type(of topic: String) -> MessageType? {
        MessageType.allCases.first { topic == $0.defaultTopic || topic.hasSuffix("/" + $0.defaultTopic) }
    }

    /// Converts one protocol message of `type` received on `topic`, encoding only the Foxglove
    /// topics `wants` accepts (the scene state follows every message regardless). A message that
    /// does not decode is counted in ``skipped`` and gives nothing.
    public func convert(topic: String, type: MessageType, payload: [UInt8],
                        wants: @escaping (String) -> Bool = { _ in true }) -> [FoxgloveMessage] {
        self.wants = wants
        out.removeAll(keepingCapacity: true)
        defer { self.wants = { _ in true } }
        let message: any WireMessage
        do {
            message = try type.decode(payload, topic: topic)
        } catch {
            skip(topic, error.reason.rawValue)
            return []
        }
        switch message {
        case let m as Image: image(m, topic)
        case let m as PointCloud: cloud(m, topic)
        case let m as GnssFix: gnss(m, topic)
        case let m as RadarCube: radarMap(m, topic)
        default: break
        }
        if Self.hasJSONView(type), wants("/" + topic) {
            do {
                var json = JSONText()
                json.value(try MessagePackReader.decode(payload))
                emit("/" + topic, schema: type.name, json: json)
            } catch {
                skip(topic, "malformed")
            }
        }
        updateScene(with: message)
        return out
    }

    /// The `foxglove.RawImage` encoding of a raw pixel format: `rgb8`, `bgr8` and `mono8` are
    /// spelled the same in Foxglove (JPEG frames are `foxglove.CompressedImage` and never get here).
    public static func rawImageEncoding(_ encoding: ImageEncoding) -> String {
        switch encoding {
        case .rgb8: return "rgb8"
        case .bgr8: return "bgr8"
        case .mono8: return "mono8"
        case .jpeg: return "jpeg"
        }
    }

    /// The protocol's JSON Schema for the JSON view of a message: JSON has no NaN or infinity,
    /// so every number may also be `null` (the view writes non-finite values as null).
    static func jsonViewSchema(_ type: MessageType) -> String {
        func relax(_ value: Any) -> Any {
            if var object = value as? [String: Any] {
                for (k, v) in object { object[k] = relax(v) }
                if object["type"] as? String == "number" {
                    object["type"] = ["number", "null"]
                    let note = "null: NaN or infinity (JSON has neither)"
                    object["description"] = (object["description"] as? String).map { $0 + "; " + note } ?? note
                }
                return object
            }
            if let array = value as? [Any] { return array.map(relax) }
            return value
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(type.jsonSchema.utf8)),
              let data = try? JSONSerialization.data(withJSONObject: relax(object), options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return type.jsonSchema
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func skip(_ topic: String, _ reason: String) { skipped["\(topic): \(reason)", default: 0] += 1 }

    private func emit(_ topic: String, schema: String, json: JSONText) {
        out.append(FoxgloveMessage(topic: topic, schemaName: schema, data: json.bytes))
    }

    /// The radar preprocessor, created on first use (its FFT plans cost a few milliseconds).
    private func radarPreprocessor() -> RadarPreprocessor? {
        if !radarTried {
            radarTried = true
            do {
                radar = try RadarPreprocessor()
            } catch {
                notes.append("radar map disabled: \(error)")
            }
        }
        return radar
    }

    // MARK: Sensors

    private func header(_ json: inout JSONText, stamp: Int64, frame: String) {
        json.raw("{")
        json.key("timestamp", first: true); json.time(stamp)
        json.key("frame_id"); json.string(frame)
    }

    private func image(_ m: Image, _ topic: String) {
        guard wants(m.encoding == .jpeg ? Topic.camera : Topic.cameraRaw) else { return }
        var json = JSONText(capacity: m.data.count * 4 / 3 + 200)
        header(&json, stamp: m.header.stamp, frame: m.header.frameID)
        if m.encoding == .jpeg {
            json.key("data"); json.base64(m.data)
            json.key("format"); json.string("jpeg")
            json.raw("}")
            emit(Topic.camera, schema: "foxglove.CompressedImage", json: json)
        } else {
            // The protocol's pixel formats are Foxglove's encoding names too, tightly packed rows.
            json.key("width"); json.integer(Int64(m.width))
            json.key("height"); json.integer(Int64(m.height))
            json.key("encoding"); json.string(Self.rawImageEncoding(m.encoding))
            json.key("step"); json.integer(Int64(m.width * (m.encoding.bytesPerPixel ?? 1)))
            json.key("data"); json.base64(m.data)
            json.raw("}")
            emit(Topic.cameraRaw, schema: "foxglove.RawImage", json: json)
        }
    }

    private func cloud(_ m: PointCloud, _ topic: String) {
        guard wants(Topic.lidar) else { return }
        var json = JSONText(capacity: m.data.count * 4 / 3 + 400)
        header(&json, stamp: m.header.stamp, frame: m.header.frameID)
        json.key("pose"); json.raw(#"{"position":{"x":0,"y":0,"z":0},"orientation":{"x":0,"y":0,"z":0,"w":1}}"#)
        json.key("point_stride"); json.integer(Int64(m.fields.count * 4))
        json.key("fields"); json.raw("[")
        for (i, name) in m.fields.enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{"); json.key("name", first: true); json.string(name)
            json.key("offset"); json.integer(Int64(i * 4))
            json.key("type"); json.integer(7)  // FLOAT32
            json.raw("}")
        }
        json.raw("]")
        json.key("data"); json.base64(m.data)
        json.raw("}")
        emit(Topic.lidar, schema: "foxglove.PointCloud", json: json)
    }

    private func locationFix(_ json: inout JSONText, stamp: Int64, frame: String, lat: Double, lon: Double, alt: Double,
                             horizontalVariance: Double?) {
        header(&json, stamp: stamp, frame: frame)
        json.key("latitude"); json.number(lat)
        json.key("longitude"); json.number(lon)
        json.key("altitude"); json.number(alt)
        json.key("position_covariance"); json.raw("[")
        let h = horizontalVariance ?? 0
        let values = [h, 0, 0, 0, h, 0, 0, 0, horizontalVariance == nil ? 0 : 4 * h]
        for (i, v) in values.enumerated() { if i > 0 { json.raw(",") }; json.number(v) }
        json.raw("]")
        json.key("position_covariance_type"); json.integer(horizontalVariance == nil ? 0 : 1)  // UNKNOWN / APPROXIMATED
        json.key("metadata"); json.raw("[]")
        json.raw("}")
    }

    private func gnss(_ m: GnssFix, _ topic: String) {
        guard wants(Topic.gnss) else { return }
        guard m.isUsable else {
            skip(topic, "no_fix")
            return
        }
        var json = JSONText()
        let sigma = 2.5 * max(m.hdop, 0.1)  // ~UERE 2.5 m × HDOP
        locationFix(&json, stamp: m.header.stamp, frame: m.header.frameID, lat: m.lat, lon: m.lon, alt: m.alt.isFinite ? m.alt : 0,
                    horizontalVariance: sigma * sigma)
        emit(Topic.gnss, schema: "foxglove.LocationFix", json: json)
    }

    private func radarMap(_ m: RadarCube, _ topic: String) {
        guard wants(Topic.radarMap), let radar = radarPreprocessor() else { return }
        let map: [Float]
        do {
            map = try radar.process(cube: m.data, rx: m.rx, samples: m.samples, chirps: m.chirps, type: m.dtype)
        } catch {
            skip(topic, "radar_map_failed")
            return
        }
        let width = m.samples, height = radar.parameters.angleBins
        var pixels = [UInt8](repeating: 0, count: width * height)
        for i in 0..<min(pixels.count, map.count) {
            // 40 dB of dynamic range below the map's peak (the map is divided by its maximum).
            let db = 10 * log10(max(Double(map[i]), 1e-12))
            pixels[i] = UInt8(max(0, min(255, (1 + db / 40) * 255)).rounded())
        }
        var json = JSONText(capacity: pixels.count * 4 / 3 + 200)
        header(&json, stamp: m.header.stamp, frame: m.header.frameID)
        json.key("width"); json.integer(Int64(width))
        json.key("height"); json.integer(Int64(height))
        json.key("encoding"); json.string("mono8")
        json.key("step"); json.integer(Int64(width))
        json.key("data"); json.base64(pixels)
        json.raw("}")
        emit(Topic.radarMap, schema: "foxglove.RawImage", json: json)
    }

    // MARK: Scene

    struct SceneState {
        var measured: [(east: Double, north: Double)] = []
        var predicted: [(east: Double, north: Double)] = []
        var predictedBeam: Int?
        var truthBeam: Int?
        var blockageProbability: Double?
        var truthBlocked: Bool?
    }

    private func updateScene(with message: any WireMessage) {
        guard let site else { return }
        var changed = false
        switch message {
        case let m as GnssFix where m.isUsable:
            let p = site.origin.toLocal(lat: m.lat, lon: m.lon)
            scene.measured.append(p)
            if scene.measured.count > trackLength { scene.measured.removeFirst(scene.measured.count - trackLength) }
            changed = true
        case let m as PositionPrediction:
            scene.predicted = zip(m.east, m.north).map { ($0, $1) }
            if wants(Topic.predictedFix), let i = m.lat.indices.first {
                var json = JSONText()
                locationFix(&json, stamp: m.horizon[i], frame: "predicted", lat: m.lat[i], lon: m.lon[i], alt: 0, horizontalVariance: nil)
                emit(Topic.predictedFix, schema: "foxglove.LocationFix", json: json)
            }
            changed = true
        case let m as BeamPrediction:
            scene.predictedBeam = m.best.first
        case let m as BlockagePrediction:
            scene.blockageProbability = m.prob.first
        case let m as TruthBeam:
            scene.truthBeam = m.best
            changed = scene.predictedBeam == nil
        case let m as TruthBlockage:
            scene.truthBlocked = m.blocked
        default:
            break
        }
        guard changed else { return }
        emitScene(site: site, stamp: message.header.stamp)
    }

    /// The scene (if wanted), then the sensor frames (if wanted).
    private func emitScene(site: Site, stamp: Int64) {
        if wants(Topic.scene) { sceneUpdate(site: site, stamp: stamp) }
        if wants(Topic.transforms) { emitTransforms(site: site, stamp: stamp) }
    }

    private func sceneUpdate(site: Site, stamp: Int64) {
        let array = site.mmwave.pose
        let bs = array.position
        let yaw = array.yawDeg * .pi / 180
        let angles = site.codebookSteeringAngles()
        var json = JSONText(capacity: 4096)
        json.raw("{"); json.key("deletions", first: true); json.raw("[]")
        json.key("entities"); json.raw("[")
        var firstEntity = true
        func entity(_ id: String, _ body: (inout JSONText) -> Void) {
            if !firstEntity { json.raw(",") }
            firstEntity = false
            json.raw("{")
            json.key("timestamp", first: true); json.time(stamp)
            json.key("frame_id"); json.string("site")
            json.key("id"); json.string(id)
            json.key("lifetime"); json.raw(#"{"sec":0,"nsec":0}"#)
            json.key("frame_locked"); json.bool(false)
            json.key("metadata"); json.raw("[]")
            // `body` writes the primitive arrays it uses as `"name":[…]` pairs separated by commas.
            var sub = JSONText()
            body(&sub)
            let text = String(decoding: sub.bytes, as: UTF8.self)
            let used = Set(EntityArrays.all.filter { text.contains("\"\($0)\":[") })
            if !text.isEmpty { json.raw(","); json.rawString(text) }
            for name in EntityArrays.all where !used.contains(name) { json.rawString(",\"\(name)\":[]") }
            json.raw("}")
        }
        func pose(_ x: Double, _ y: Double, _ z: Double, yaw: Double = 0) -> String {
            "{\"position\":{\"x\":\(num(x)),\"y\":\(num(y)),\"z\":\(num(z))},\"orientation\":{\"x\":0,\"y\":0,\"z\":\(num(sin(yaw / 2))),\"w\":\(num(cos(yaw / 2)))}}"
        }
        func color(_ r: Double, _ g: Double, _ b: Double, _ a: Double) -> String {
            "{\"r\":\(num(r)),\"g\":\(num(g)),\"b\":\(num(b)),\"a\":\(num(a))}"
        }
        func line(_ points: [(east: Double, north: Double)], z: Double, color c: String, thickness: Double) -> String {
            let pts = points.map { "{\"x\":\(num($0.east)),\"y\":\(num($0.north)),\"z\":\(num(z))}" }.joined(separator: ",")
            return "{\"type\":0,\"pose\":\(pose(0, 0, 0)),\"thickness\":\(num(thickness)),\"scale_invariant\":false,\"points\":[\(pts)],\"color\":\(c),\"colors\":[],\"indices\":[]}"
        }
        entity("base_station") { j in
            j.rawString("\"cubes\":[{\"pose\":\(pose(bs.x, bs.y, bs.z / 2, yaw: yaw)),\"size\":{\"x\":0.6,\"y\":0.6,\"z\":\(num(max(bs.z, 0.5)))},\"color\":\(color(0.6, 0.6, 0.65, 1))}]")
        }
        entity("boresight") { j in
            j.rawString("\"arrows\":[{\"pose\":\(pose(bs.x, bs.y, bs.z, yaw: yaw)),\"shaft_length\":4,\"shaft_diameter\":0.15,\"head_length\":1,\"head_diameter\":0.4,\"color\":\(color(0.2, 0.5, 1, 1))}]")
        }
        if !scene.measured.isEmpty {
            entity("ue_measured_track") { j in j.rawString("\"lines\":[\(line(scene.measured, z: 1.5, color: color(1, 1, 1, 0.9), thickness: 0.15))]") }
            let ue = scene.measured[scene.measured.count - 1]
            let blocked = scene.blockageProbability.map { $0 >= 0.5 } ?? scene.truthBlocked ?? false
            entity("ue") { j in
                j.rawString("\"spheres\":[{\"pose\":\(pose(ue.east, ue.north, 1.5)),\"size\":{\"x\":1.2,\"y\":1.2,\"z\":1.2},\"color\":\(blocked ? color(0.9, 0.15, 0.1, 1) : color(0.1, 0.8, 0.3, 1))}]")
            }
        }
        if !scene.predicted.isEmpty {
            let start = scene.measured.last.map { [$0] } ?? []
            entity("ue_predicted_track") { j in j.rawString("\"lines\":[\(line(start + scene.predicted, z: 1.5, color: color(1, 0.8, 0.1, 1), thickness: 0.2))]") }
        }
        if let beam = scene.predictedBeam ?? scene.truthBeam, angles.indices.contains(beam) {
            let az = yaw + angles[beam]
            let width = angles.count > 1 ? abs(angles[min(beam + 1, angles.count - 1)] - angles[max(beam - 1, 0)]) / 2 : 0.1
            let length = 30.0
            let p = scene.blockageProbability ?? (scene.truthBlocked == true ? 1 : 0)
            let tip1 = (bs.x + length * cos(az - width), bs.y + length * sin(az - width))
            let tip2 = (bs.x + length * cos(az + width), bs.y + length * sin(az + width))
            let pts = [(bs.x, bs.y), tip1, tip2].map { "{\"x\":\(num($0.0)),\"y\":\(num($0.1)),\"z\":\(num(bs.z))}" }.joined(separator: ",")
            let id = scene.predictedBeam == nil ? "beam_truth" : "beam_predicted"
            entity(id) { j in
                j.rawString("\"triangles\":[{\"pose\":\(pose(0, 0, 0)),\"points\":[\(pts)],\"color\":\(color(p, 1 - p, 0.2, 0.45)),\"colors\":[],\"indices\":[]}]")
                j.rawString(",\"texts\":[{\"pose\":\(pose(tip1.0, tip1.1, bs.z + 1)),\"billboard\":true,\"font_size\":14,\"scale_invariant\":true,\"color\":\(color(1, 1, 1, 1)),\"text\":\"beam \(beam)\(scene.predictedBeam == nil ? " (truth)" : "")\(scene.blockageProbability.map { String(format: ", blockage %.2f", $0) } ?? "")\"}]")
            }
        }
        json.raw("]}")
        emit(Topic.scene, schema: "foxglove.SceneUpdate", json: json)
    }

    /// `/tf`: the sensor frames in the site frame (from the site file's poses), so the 3-D panel
    /// can draw the LiDAR cloud in the scene.
    private func emitTransforms(site: Site, stamp: Int64) {
        let frames: [(String, Pose)] = [(site.lidar.frameID, site.lidar.pose), (site.camera.frameID, site.camera.pose),
                                        (site.radar.frameID, site.radar.pose), (site.beamPower.frameID, site.mmwave.pose)]
        var json = JSONText(capacity: 1024)
        json.raw("{"); json.key("transforms", first: true); json.raw("[")
        var seen = Set<String>()
        for (frame, pose) in frames where seen.insert(frame).inserted {
            if seen.count > 1 { json.raw(",") }
            let q = quaternion(pose)
            json.raw("{"); json.key("timestamp", first: true); json.time(stamp)
            json.key("parent_frame_id"); json.string("site")
            json.key("child_frame_id"); json.string(frame)
            json.key("translation"); json.rawString("{\"x\":\(num(pose.position.x)),\"y\":\(num(pose.position.y)),\"z\":\(num(pose.position.z))}")
            json.key("rotation"); json.rawString("{\"x\":\(num(q.x)),\"y\":\(num(q.y)),\"z\":\(num(q.z)),\"w\":\(num(q.w))}")
            json.raw("}")
        }
        json.raw("]}")
        emit(Topic.transforms, schema: "foxglove.FrameTransforms", json: json)
    }
}

/// The primitive arrays of a `foxglove.SceneEntity` (every one is written, empty when unused).
enum EntityArrays {
    static let all = ["arrows", "cubes", "spheres", "cylinders", "lines", "triangles", "texts", "models"]
}

/// The unit quaternion of a pose's body-to-site rotation.
func quaternion(_ pose: Pose) -> (x: Double, y: Double, z: Double, w: Double) {
    let r = pose.rotation  // columns: body x, y, z in site coordinates
    let (m00, m10, m20) = (r.x.x, r.x.y, r.x.z)
    let (m01, m11, m21) = (r.y.x, r.y.y, r.y.z)
    let (m02, m12, m22) = (r.z.x, r.z.y, r.z.z)
    let trace = m00 + m11 + m22
    if trace > 0 {
        let s = 0.5 / (trace + 1).squareRoot()
        return ((m21 - m12) * s, (m02 - m20) * s, (m10 - m01) * s, 0.25 / s)
    } else if m00 > m11 && m00 > m22 {
        let s = 2 * (1 + m00 - m11 - m22).squareRoot()
        return (0.25 * s, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s)
    } else if m11 > m22 {
        let s = 2 * (1 + m11 - m00 - m22).squareRoot()
        return ((m01 + m10) / s, 0.25 * s, (m12 + m21) / s, (m02 - m20) / s)
    } else {
        let s = 2 * (1 + m22 - m00 - m11).squareRoot()
        return ((m02 + m20) / s, (m12 + m21) / s, 0.25 * s, (m10 - m01) / s)
    }
}

/// A finite JSON number.
private func num(_ v: Double) -> String {
    guard v.isFinite else { return "0" }
    return v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : "\(v)"
}
