import Foundation

/// The project's one way to write JSON that people read, grep and pipe: plain `/` (never `\/`),
/// floats always written as floats (`95.0`, not `95`), keys in a stable order, and — for whole
/// documents — a final newline.
///
/// Build a ``JSONText/Value`` by hand (or from a MessagePack message with
/// ``WireJSON/summarized(_:)``), or encode any `Encodable` with ``JSONText/encode(_:pretty:)``.
public enum JSONText {
    /// A JSON value that keeps integers and floats apart.
    public indirect enum Value: Sendable, Equatable {
        /// `null`.
        case null
        /// `true` / `false`.
        case bool(Bool)
        /// A signed integer.
        case int(Int64)
        /// An unsigned integer.
        case uint(UInt64)
        /// A floating-point number; always written with a fraction or exponent. Non-finite values
        /// are written as the strings `"nan"`, `"inf"`, `"-inf"` (JSON has no such numbers).
        case double(Double)
        /// A string.
        case string(String)
        /// An array.
        case array([Value])
        /// An object; keys keep the given order.
        case object([(String, Value)])

        public static func == (a: Value, b: Value) -> Bool { JSONText.write(a) == JSONText.write(b) }
    }

    /// Keeps integers and floats of a Foundation JSON object (`[String: Any]`, `[Any]`, `NSNumber`,
    /// `String`, `NSNull`) apart; object keys are sorted.
    public static func value(foundation object: Any) -> Value { Value(foundation: object) }

    /// An object value from key/value pairs, in the given order.
    public static func object(_ pairs: [(String, Value)], pretty: Bool = false) -> String {
        write(.object(pairs), pretty: pretty)
    }

    /// Writes `value` (no final newline). `pretty` indents by two spaces.
    public static func write(_ value: Value, pretty: Bool = false) -> String {
        var out = ""
        append(value, to: &out, pretty: pretty, indent: 0)
        return out
    }

    /// A whole JSON document: `value` written and a final newline.
    public static func document(_ value: Value, pretty: Bool = true) -> String {
        write(value, pretty: pretty) + "\n"
    }

    /// Encodes an `Encodable` as a document (sorted keys, plain slashes, final newline).
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    /// Writes a document to `path`, or to standard output when `path` is `-`.
    public static func save(_ text: String, to path: String) throws {
        if path == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
        } else {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
    }

    /// A float as JSON: shortest round-trip digits, always with a fraction or exponent.
    public static func number(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "\"nan\"" : d > 0 ? "\"inf\"" : "\"-inf\"" }
        var text = "\(d)"
        if !text.contains(".") && !text.contains("e") && !text.contains("E") { text += ".0" }
        return text
    }

    /// A string as JSON, escaping only what JSON requires.
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func append(_ value: Value, to out: inout String, pretty: Bool, indent: Int) {
        let pad = pretty ? String(repeating: "  ", count: indent + 1) : ""
        let close = pretty ? String(repeating: "  ", count: indent) : ""
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .uint(let u): out += String(u)
        case .double(let d): out += number(d)
        case .string(let s): out += quote(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + pad } else if i > 0 { out += " " }
                append(item, to: &out, pretty: pretty, indent: indent + 1)
            }
            out += pretty ? "\n" + close + "]" : "]"
        case .object(let pairs):
            if pairs.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (key, item)) in pairs.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + pad } else if i > 0 { out += " " }
                out += quote(key) + ": "
                append(item, to: &out, pretty: pretty, indent: indent + 1)
            }
            out += pretty ? "\n" + close + "}" : "}"
        }
    }
}

extension JSONText.Value {
    /// Converts a Foundation JSON object (as `JSONSerialization` takes it); object keys sorted.
    public init(foundation object: Any) {
        switch object {
        case is NSNull: self = .null
        case let b as Bool where type(of: object) == Bool.self: self = .bool(b)
        case let i as Int: self = .int(Int64(i))
        case let i as Int64: self = .int(i)
        case let i as Int32: self = .int(Int64(i))
        case let u as UInt64: self = .uint(u)
        case let u as UInt: self = .uint(UInt64(u))
        case let u as UInt32: self = .uint(UInt64(u))
        case let u as UInt16: self = .uint(UInt64(u))
        case let d as Double: self = .double(d)
        case let f as Float: self = .double(Double(f))
        case let n as NSNumber:
            let kind = String(cString: n.objCType)
            if kind == "d" || kind == "f" { self = .double(n.doubleValue) } else { self = .int(n.int64Value) }
        case let s as String: self = .string(s)
        case let items as [Any]: self = .array(items.map { JSONText.Value(foundation: $0) })
        case let map as [String: Any]: self = .object(map.keys.sorted().map { ($0, JSONText.Value(foundation: map[$0] as Any)) })
        case let optional as Optional<Any>:
            if case .some(let wrapped) = optional { self = JSONText.Value(foundation: wrapped) } else { self = .null }
        default: self = .string("\(object)")
        }
    }
}
