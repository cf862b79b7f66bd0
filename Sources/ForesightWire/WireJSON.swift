import Foundation

/// Conversions between MessagePack values and JSON, for people poking a running system
/// (`foresight pub`, `foresight echo --json`).
///
/// In JSON given to `pub`, binary fields are written as `{"$base64": "..."}`, or as
/// `{"$f32": [1.5, 2.0]}` (packed little-endian float32). Whole JSON numbers become integers,
/// other numbers float64.
public enum WireJSON {
    /// Why a JSON document cannot become a message.
    public struct ConversionError: Error, CustomStringConvertible, Sendable {
        /// Where in the document (a dotted path).
        public var path: String
        /// What is wrong.
        public var problem: String
        public var description: String { "\(path.isEmpty ? "document" : path): \(problem)" }
    }

    /// Converts a parsed JSON value (from `JSONSerialization`) to MessagePack.
    public static func messagePack(fromJSON json: Any, path: String = "") throws(ConversionError) -> MessagePackValue {
        switch json {
        case is NSNull: return .null
        case let number as NSNumber:
            let kind = String(cString: number.objCType)
            if kind == "c" || String(describing: type(of: number)).contains("Boolean") { return .bool(number.boolValue) }
            if kind == "d" || kind == "f" { return .float64(number.doubleValue) }
            let i = number.int64Value
            return i < 0 ? .int(i) : .uint(number.uint64Value)
        case let text as String:
            return .string(text)
        case let items as [Any]:
            var out: [MessagePackValue] = []
            for (i, item) in items.enumerated() { out.append(try messagePack(fromJSON: item, path: "\(path)[\(i)]")) }
            return .array(out)
        case let object as [String: Any]:
            if object.count == 1, let b64 = object["$base64"] {
                guard let text = b64 as? String, let data = Data(base64Encoded: text) else {
                    throw ConversionError(path: path, problem: "$base64 must be a base64 string")
                }
                return .binary([UInt8](data))
            }
            if object.count == 1, let list = object["$f32"] {
                guard let numbers = list as? [NSNumber] else { throw ConversionError(path: path, problem: "$f32 must be an array of numbers") }
                return .binary(PackedArray.bytes(numbers.map { $0.floatValue }))
            }
            var entries: [(key: String, value: MessagePackValue)] = []
            for key in object.keys.sorted() {
                let child = path.isEmpty ? key : "\(path).\(key)"
                entries.append((key, try messagePack(fromJSON: object[key] as Any, path: child)))
            }
            return .map(entries)
        default:
            throw ConversionError(path: path, problem: "unsupported JSON value \(type(of: json))")
        }
    }

    /// Converts a decoded message map to a JSON-ready value, summarizing every `bin` field
    /// (byte count and, when its `dtype` is known, min/max/mean) instead of dumping it.
    public static func summarized(_ value: MessagePackValue) -> Any {
        switch value {
        case .null: return NSNull()
        case .bool(let b): return b
        case .int(let i): return i
        case .uint(let u): return u
        case .float32(let f): return f.isFinite ? Double(f) : String(describing: f) as Any
        case .float64(let d): return d.isFinite ? d : String(describing: d) as Any
        case .string(let s): return s
        case .binary(let b): return ["bytes": b.count]
        case .ext(let type, let data): return ["ext": Int(type), "bytes": data.count]
        case .array(let items): return items.map(summarized)
        case .map(let entries):
            var dtype: String?
            var shape: [Any]?
            for e in entries {
                if e.key == "dtype", case .string(let d) = e.value { dtype = d }
                if e.key == "shape", case .array(let s) = e.value { shape = s.map(summarized) }
            }
            var out: [String: Any] = [:]
            for e in entries {
                if case .binary(let bytes) = e.value {
                    out[e.key] = summarize(bytes: bytes, dtype: dtype, shape: shape)
                } else {
                    out[e.key] = summarized(e.value)
                }
            }
            return out
        }
    }

    /// Summary of a packed numeric array: bytes, dtype, shape, and min/max/mean of finite values.
    public static func summarize(bytes: [UInt8], dtype: String?, shape: [Any]?) -> [String: Any] {
        var out: [String: Any] = ["bytes": bytes.count]
        if let dtype { out["dtype"] = dtype }
        if let shape { out["shape"] = shape }
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0, n = 0, nan = 0
        func add(_ v: Double) {
            if v.isNaN { nan += 1; return }
            lo = min(lo, v); hi = max(hi, v); sum += v; n += 1
        }
        bytes.withUnsafeBytes { raw in
            switch dtype {
            case "f32":
                for i in 0..<(raw.count / 4) { add(Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))))) }
            case "cf32":
                for i in 0..<(raw.count / 8) {
                    let re = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt32.self)))
                    let im = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8 + 4, as: UInt32.self)))
                    add(Double((re * re + im * im).squareRoot()))
                }
                out["of"] = "magnitude"
            case "ci16":
                for i in 0..<(raw.count / 4) {
                    let re = Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int16.self)))
                    let im = Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4 + 2, as: Int16.self)))
                    add((re * re + im * im).squareRoot())
                }
                out["of"] = "magnitude"
            default:
                return
            }
        }
        if n > 0 { out["min"] = lo; out["max"] = hi; out["mean"] = sum / Double(n) }
        if nan > 0 { out["nan"] = nan }
        return out
    }
}
