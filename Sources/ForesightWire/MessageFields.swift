/// The string-keyed top-level map of a message, with typed, validating accessors.
///
/// Every accessor throws a `WireError` that names the field and the reason. Integer accessors
/// accept any MessagePack integer encoding whose value fits (msgpack-python sends every stamp
/// as uint64); float accessors accept float32, float64 and integers. Unknown keys are ignored.
public struct MessageFields: Sendable {
    /// The decoded entries by key.
    public let values: [String: MessagePackValue]

    /// Decodes `payload` as one MessagePack map, enforcing the size limit before decoding.
    public init(payload: [UInt8], limits: WireLimits = .default) throws(WireError) {
        guard payload.count <= limits.maxPayloadBytes else {
            throw WireError(reason: .payloadTooLarge,
                            detail: "payload of \(payload.count) bytes exceeds the limit of \(limits.maxPayloadBytes) bytes")
        }
        let value: MessagePackValue
        do {
            value = try MessagePackReader.decode(payload, maxDepth: limits.maxDepth)
        } catch {
            throw WireError(error)
        }
        guard case .map(let entries) = value else {
            throw WireError(reason: .notAMap, detail: "a message must be a MessagePack map, found \(value.kindName)")
        }
        var dict: [String: MessagePackValue] = [:]
        dict.reserveCapacity(entries.count)
        for entry in entries { dict[entry.key] = entry.value }
        values = dict
    }

    /// Wraps already-decoded entries.
    public init(values: [String: MessagePackValue]) {
        self.values = values
    }

    // MARK: Raw access

    /// The value of `key`, or a `missing_field` error.
    public func require(_ key: String) throws(WireError) -> MessagePackValue {
        guard let value = values[key] else {
            throw WireError(field: key, reason: .missingField, detail: "required key '\(key)' is missing")
        }
        return value
    }

    /// Whether `key` is present and not nil.
    public func has(_ key: String) -> Bool {
        if let value = values[key], value != .null { return true }
        return false
    }

    static func wrongType(_ key: String, expected: String, found value: MessagePackValue) -> WireError {
        WireError(field: key, reason: .wrongType, detail: "expected \(expected), found \(value.kindName)")
    }

    // MARK: Integers

    /// An integer field as `Int64` (any integer encoding whose value fits).
    public func int64(_ key: String) throws(WireError) -> Int64 {
        try MessageFields.int64(try require(key), field: key)
    }

    /// Converts any integer encoding to `Int64`.
    public static func int64(_ value: MessagePackValue, field: String) throws(WireError) -> Int64 {
        switch value {
        case .int(let v): return v
        case .uint(let v):
            guard v <= UInt64(Int64.max) else {
                throw WireError(field: field, reason: .outOfRange, detail: "\(v) does not fit in int64")
            }
            return Int64(v)
        default: throw wrongType(field, expected: "an integer", found: value)
        }
    }

    /// A non-negative integer field no larger than `max` (sizes, counts, indices).
    public func count(_ key: String, max: Int = Int.max) throws(WireError) -> Int {
        try MessageFields.count(try require(key), field: key, max: max)
    }

    /// Converts any integer encoding to a non-negative `Int` no larger than `max`.
    public static func count(_ value: MessagePackValue, field: String, max: Int = Int.max) throws(WireError) -> Int {
        let v = try int64(value, field: field)
        guard v >= 0 else { throw WireError(field: field, reason: .outOfRange, detail: "\(v) is negative") }
        guard v <= Int64(max) else {
            throw WireError(field: field, reason: .limitExceeded, detail: "\(v) exceeds the limit of \(max)")
        }
        return Int(v)
    }

    /// A `uint32` field.
    public func uint32(_ key: String) throws(WireError) -> UInt32 {
        let v = try int64(key)
        guard v >= 0, v <= Int64(UInt32.max) else {
            throw WireError(field: key, reason: .outOfRange, detail: "\(v) does not fit in uint32")
        }
        return UInt32(v)
    }

    // MARK: Floats

    /// A floating-point field (float32, float64 or an integer); non-finite values are rejected unless allowed.
    public func double(_ key: String, allowNonFinite: Bool = false) throws(WireError) -> Double {
        try MessageFields.double(try require(key), field: key, allowNonFinite: allowNonFinite)
    }

    /// Converts a float or integer value to `Double`.
    public static func double(_ value: MessagePackValue, field: String, allowNonFinite: Bool = false) throws(WireError) -> Double {
        let v: Double
        switch value {
        case .float32(let f): v = Double(f)
        case .float64(let d): v = d
        case .int(let i): v = Double(i)
        case .uint(let u): v = Double(u)
        default: throw wrongType(field, expected: "a number", found: value)
        }
        if !allowNonFinite && !v.isFinite {
            throw WireError(field: field, reason: .nonFinite, detail: "\(v) is not a finite number")
        }
        return v
    }

    // MARK: Strings, bytes, booleans

    /// A string field.
    public func string(_ key: String) throws(WireError) -> String {
        let value = try require(key)
        guard case .string(let s) = value else { throw MessageFields.wrongType(key, expected: "str", found: value) }
        return s
    }

    /// An enum given as an exact lowercase string.
    public func enumeration<E: RawRepresentable>(_ key: String, _: E.Type) throws(WireError) -> E where E.RawValue == String, E: CaseIterable {
        let text = try string(key)
        guard let value = E(rawValue: text) else {
            let allowed = E.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw WireError(field: key, reason: .unknownEnum, detail: "'\(text)' is not one of \(allowed)")
        }
        return value
    }

    /// A `bin` field in an array of its own (a copy of the bytes; see ``binarySlice(_:)``).
    public func binary(_ key: String) throws(WireError) -> [UInt8] {
        let bytes = try binarySlice(key)
        ByteAudit.record(.payloadCopy)
        return Array(bytes)
    }

    /// A `bin` field as a slice of the payload it was decoded from (no copy of the bytes).
    public func binarySlice(_ key: String) throws(WireError) -> ArraySlice<UInt8> {
        let value = try require(key)
        guard case .binary(let b) = value else { throw MessageFields.wrongType(key, expected: "bin", found: value) }
        return b
    }

    /// A boolean field.
    public func bool(_ key: String) throws(WireError) -> Bool {
        let value = try require(key)
        guard case .bool(let b) = value else { throw MessageFields.wrongType(key, expected: "bool", found: value) }
        return b
    }

    /// An array field.
    public func array(_ key: String) throws(WireError) -> [MessagePackValue] {
        let value = try require(key)
        guard case .array(let items) = value else { throw MessageFields.wrongType(key, expected: "array", found: value) }
        return items
    }

    /// An array of strings.
    public func stringArray(_ key: String) throws(WireError) -> [String] {
        var out: [String] = []
        for (i, item) in try array(key).enumerated() {
            guard case .string(let s) = item else {
                throw MessageFields.wrongType("\(key)[\(i)]", expected: "str", found: item)
            }
            out.append(s)
        }
        return out
    }

    /// An array of booleans.
    public func boolArray(_ key: String) throws(WireError) -> [Bool] {
        var out: [Bool] = []
        for (i, item) in try array(key).enumerated() {
            guard case .bool(let b) = item else { throw MessageFields.wrongType("\(key)[\(i)]", expected: "bool", found: item) }
            out.append(b)
        }
        return out
    }

    /// An array of non-negative integers, each at most `max`.
    public func countArray(_ key: String, max: Int = Int.max) throws(WireError) -> [Int] {
        var out: [Int] = []
        for (i, item) in try array(key).enumerated() {
            out.append(try MessageFields.count(item, field: "\(key)[\(i)]", max: max))
        }
        return out
    }

    /// An array of signed 64-bit integers.
    public func int64Array(_ key: String) throws(WireError) -> [Int64] {
        var out: [Int64] = []
        for (i, item) in try array(key).enumerated() { out.append(try MessageFields.int64(item, field: "\(key)[\(i)]")) }
        return out
    }

    /// An array of numbers.
    public func doubleArray(_ key: String, allowNonFinite: Bool = false) throws(WireError) -> [Double] {
        var out: [Double] = []
        for (i, item) in try array(key).enumerated() {
            out.append(try MessageFields.double(item, field: "\(key)[\(i)]", allowNonFinite: allowNonFinite))
        }
        return out
    }

    /// An array of maps.
    public func mapArray(_ key: String) throws(WireError) -> [MessageFields] {
        var out: [MessageFields] = []
        for (i, item) in try array(key).enumerated() {
            guard case .map(let entries) = item else {
                throw MessageFields.wrongType("\(key)[\(i)]", expected: "map", found: item)
            }
            var dict: [String: MessagePackValue] = [:]
            for e in entries { dict[e.key] = e.value }
            out.append(MessageFields(values: dict))
        }
        return out
    }

    // MARK: Header

    /// The common header: `stamp`, `seq`, `frame_id`.
    public func header() throws(WireError) -> Header {
        let stamp = try int64("stamp")
        let seq = try uint32("seq")
        let frameID = try string("frame_id")
        guard !frameID.isEmpty, frameID.utf8.count <= Header.maxFrameIDBytes else {
            throw WireError(field: "frame_id", reason: .badFrameID,
                            detail: "frame_id must be 1…\(Header.maxFrameIDBytes) bytes of UTF-8, got \(frameID.utf8.count)")
        }
        return Header(stamp: stamp, seq: seq, frameID: frameID)
    }
}

/// Fields every message carries.
public struct Header: Sendable, Hashable, Codable {
    /// The longest accepted `frame_id`, in UTF-8 bytes.
    public static let maxFrameIDBytes = 256

    /// Acquisition time in sensor time: nanoseconds since the Unix epoch.
    public var stamp: Int64
    /// Per-topic sequence number; wraps legally at 2³².
    public var seq: UInt32
    /// The sensor's frame name in the site calibration.
    public var frameID: String

    /// Creates a header.
    public init(stamp: Int64, seq: UInt32, frameID: String) {
        self.stamp = stamp
        self.seq = seq
        self.frameID = frameID
    }

    /// Writes the three header entries (the caller counts them in its map header).
    public func write(to writer: inout MessagePackWriter) {
        writer.write("stamp"); writer.write(stamp)
        writer.write("seq"); writer.write(UInt64(seq))
        writer.write("frame_id"); writer.write(frameID)
    }
}
