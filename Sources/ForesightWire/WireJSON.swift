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

    /// Converts a decoded message map to JSON, summarizing every `bin` field (byte count and,
    /// when its `dtype` is known, min/max/mean) instead of dumping it — or, with `full`, writing
    /// every element of numeric arrays (`values`). Floats stay floats (`95.0`).
    public static func summarized(_ value: MessagePackValue, full: Bool = false) -> JSONText.Value {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .uint(u)
        case .float32(let f): return .double(Double(f))
        case .float64(let d): return .double(d)
        case .string(let s): return .string(s)
        case .binary(let b): return .object([("bytes", .int(Int64(b.count)))])
        case .ext(let type, let data): return .object([("ext", .int(Int64(type))), ("bytes", .int(Int64(data.count)))])
        case .array(let items): return .array(items.map { summarized($0, full: full) })
        case .map(let entries):
            var dtype: String?
            var shape: [JSONText.Value]?
            for e in entries {
                if e.key == "dtype", case .string(let d) = e.value { dtype = d }
                if e.key == "shape", case .array(let s) = e.value { shape = s.map { summarized($0) } }
            }
            var out: [(String, JSONText.Value)] = []
            for e in entries.sorted(by: { $0.key < $1.key }) {
                if case .binary(let bytes) = e.value {
                    out.append((e.key, summarize(bytes: Array(bytes), dtype: dtype, shape: shape, full: full)))
                } else {
                    out.append((e.key, summarized(e.value, full: full)))
                }
            }
            return .object(out)
        }
    }

    /// Summary of a packed numeric array: bytes, dtype, shape, and min/max/mean of finite values;
    /// with `full`, also every element (`values`; complex values as `[re, im]` pairs).
    public static func summarize(bytes: [UInt8], dtype: String?, shape: [JSONText.Value]?, full: Bool = false) -> JSONText.Value {
        var out: [(String, JSONText.Value)] = [("bytes", .int(Int64(bytes.count)))]
        if let dtype { out.append(("dtype", .string(dtype))) }
        if let shape { out.append(("shape", .array(shape))) }
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0, n = 0, nan = 0
        var values: [JSONText.Value] = []
        func add(_ v: Double) {
            if v.isNaN { nan += 1; return }
            lo = min(lo, v); hi = max(hi, v); sum += v; n += 1
        }
        var magnitude = false
        bytes.withUnsafeBytes { raw in
            switch dtype {
            case "f32":
                for i in 0..<(raw.count / 4) {
                    let v = Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))))
                    add(v)
                    if full { values.append(.double(v)) }
                }
            case "cf32":
                for i in 0..<(raw.count / 8) {
                    let re = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt32.self)))
                    let im = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8 + 4, as: UInt32.self)))
                    add(Double((re * re + im * im).squareRoot()))
                    if full { values.append(.array([.double(Double(re)), .double(Double(im))])) }
                }
                magnitude = true
            case "ci16":
                for i in 0..<(raw.count / 4) {
                    let re = Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int16.self)))
                    let im = Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4 + 2, as: Int16.self)))
                    add((re * re + im * im).squareRoot())
                    if full { values.append(.array([.int(Int64(re)), .int(Int64(im))])) }
                }
                magnitude = true
            default:
                if full { values = raw.map { .int(Int64($0)) } }
            }
        }
        if magnitude { out.append(("of", .string("magnitude"))) }
        if n > 0 { out += [("min", .double(lo)), ("max", .double(hi)), ("mean", .double(sum / Double(n)))] }
        if nan > 0 { out.append(("nan", .int(Int64(nan)))) }
        if full { out.append(("values", .array(values))) }
        return .object(out.sorted { $0.0 < $1.0 })
    }
}
