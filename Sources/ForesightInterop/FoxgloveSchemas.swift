/// JSON Schemas of the Foxglove well-known message types Foresight writes (JSON encoding):
/// every field of the type, all required, times as `{sec, nsec}`, bytes as base64 strings,
/// enums as integers. The schema *name* (`foxglove.CompressedImage`, …) is what makes Foxglove
/// treat a channel as a well-known type; the tests check these texts and every message against
/// the descriptors of the `foxglove-schemas-protobuf` package.
public enum FoxgloveSchemas {
    indirect enum Node: Sendable {
        case number, integer, string, bytes, boolean, time, duration
        case enumeration([Int])
        case object([(String, Node)])
        case array(Node)

        func render() -> String {
            switch self {
            case .number: return #"{"type":"number"}"#
            case .integer: return #"{"type":"integer","minimum":0}"#
            case .string: return #"{"type":"string"}"#
            case .bytes: return #"{"type":"string","contentEncoding":"base64"}"#
            case .boolean: return #"{"type":"boolean"}"#
            case .time, .duration:
                return #"{"type":"object","properties":{"sec":{"type":"integer","minimum":0},"nsec":{"type":"integer","minimum":0,"maximum":999999999}},"required":["sec","nsec"]}"#
            case .enumeration(let values): return #"{"type":"integer","enum":["# + values.map(String.init).joined(separator: ",") + "]}"
            case .array(let item): return #"{"type":"array","items":"# + item.render() + "}"
            case .object(let fields):
                let props = fields.map { "\"\($0.0)\":" + $0.1.render() }.joined(separator: ",")
                let required = fields.map { "\"\($0.0)\"" }.joined(separator: ",")
                return #"{"type":"object","properties":{"# + props + #"},"required":["# + required + "]}"
            }
        }
    }

    static let vector3 = Node.object([("x", .number), ("y", .number), ("z", .number)])
    static let quaternion = Node.object([("x", .number), ("y", .number), ("z", .number), ("w", .number)])
    static let pose = Node.object([("position", vector3), ("orientation", quaternion)])
    static let color = Node.object([("r", .number), ("g", .number), ("b", .number), ("a", .number)])
    static let point3 = Node.object([("x", .number), ("y", .number), ("z", .number)])
    static let keyValue = Node.object([("key", .string), ("value", .string)])

    static let compressedImage = Node.object([("timestamp", .time), ("frame_id", .string), ("data", .bytes), ("format", .string)])
    static let rawImage = Node.object([("timestamp", .time), ("frame_id", .string), ("width", .integer), ("height", .integer),
                                       ("encoding", .string), ("step", .integer), ("data", .bytes)])
    static let packedElementField = Node.object([("name", .string), ("offset", .integer), ("type", .enumeration(Array(0...8)))])
    static let pointCloud = Node.object([("timestamp", .time), ("frame_id", .string), ("pose", pose), ("point_stride", .integer),
                                         ("fields", .array(packedElementField)), ("data", .bytes)])
    static let locationFix = Node.object([("timestamp", .time), ("frame_id", .string), ("latitude", .number), ("longitude", .number),
                                          ("altitude", .number), ("position_covariance", .array(.number)),
                                          ("position_covariance_type", .enumeration([0, 1, 2, 3])), ("metadata", .array(keyValue))])
    static let arrow = Node.object([("pose", pose), ("shaft_length", .number), ("shaft_diameter", .number), ("head_length", .number),
                                    ("head_diameter", .number), ("color", color)])
    static let cube = Node.object([("pose", pose), ("size", vector3), ("color", color)])
    static let sphere = cube
    static let cylinder = Node.object([("pose", pose), ("size", vector3), ("bottom_scale", .number), ("top_scale", .number), ("color", color)])
    static let line = Node.object([("type", .enumeration([0, 1, 2])), ("pose", pose), ("thickness", .number), ("scale_invariant", .boolean),
                                   ("points", .array(point3)), ("color", color), ("colors", .array(color)), ("indices", .array(.integer))])
    static let triangles = Node.object([("pose", pose), ("points", .array(point3)), ("color", color), ("colors", .array(color)),
                                        ("indices", .array(.integer))])
    static let text = Node.object([("pose", pose), ("billboard", .boolean), ("font_size", .number), ("scale_invariant", .boolean),
                                   ("color", color), ("text", .string)])
    static let model = Node.object([("pose", pose), ("scale", vector3), ("color", color), ("override_color", .boolean), ("url", .string),
                                    ("media_type", .string), ("data", .bytes)])
    static let entity = Node.object([("timestamp", .time), ("frame_id", .string), ("id", .string), ("lifetime", .duration),
                                     ("frame_locked", .boolean), ("metadata", .array(keyValue)), ("arrows", .array(arrow)),
                                     ("cubes", .array(cube)), ("spheres", .array(sphere)), ("cylinders", .array(cylinder)),
                                     ("lines", .array(line)), ("triangles", .array(triangles)), ("texts", .array(text)),
                                     ("models", .array(model))])
    static let deletion = Node.object([("timestamp", .time), ("type", .enumeration([0, 1])), ("id", .string)])
    static let sceneUpdate = Node.object([("deletions", .array(deletion)), ("entities", .array(entity))])
    static let frameTransform = Node.object([("timestamp", .time), ("parent_frame_id", .string), ("child_frame_id", .string),
                                             ("translation", vector3), ("rotation", quaternion)])
    static let frameTransforms = Node.object([("transforms", .array(frameTransform))])

    /// The JSON Schema text of a well-known type by its full name (`foxglove.PointCloud`, …).
    public static func schema(_ name: String) -> String? {
        let node: Node
        switch name {
        case "foxglove.CompressedImage": node = compressedImage
        case "foxglove.RawImage": node = rawImage
        case "foxglove.PointCloud": node = pointCloud
        case "foxglove.LocationFix": node = locationFix
        case "foxglove.SceneUpdate": node = sceneUpdate
        case "foxglove.FrameTransforms": node = frameTransforms
        default: return nil
        }
        return #"{"$schema":"https://json-schema.org/draft/2020-12/schema","title":""# + name + #"","# + String(node.render().dropFirst())
    }
}
