/// A message of Foresight's wire protocol v1 (docs/protocol.md).
///
/// On the wire a message is a MessagePack map with string keys. Conforming types decode
/// themselves from validated `MessageFields` and write themselves with a `MessagePackWriter`.
public protocol WireMessage: Sendable {
    /// The protocol type of this message (name, default topic, JSON Schema).
    static var messageType: MessageType { get }
    /// `stamp`, `seq`, `frame_id`.
    var header: Header { get set }
    /// Decodes and validates the message from its top-level map.
    init(fields: MessageFields, limits: WireLimits) throws(WireError)
    /// Writes the message as one MessagePack map.
    func encode(into writer: inout MessagePackWriter)
}

extension WireMessage {
    /// The message as MessagePack bytes (frame 2 of the ZeroMQ message).
    public func encoded() -> [UInt8] {
        var writer = MessagePackWriter(capacity: 256)
        encode(into: &writer)
        return writer.bytes
    }

    /// Decodes and validates `payload`; errors name `topic`.
    public static func decode(_ payload: [UInt8], topic: String = Self.messageType.defaultTopic,
                              limits: WireLimits = .default) throws(WireError) -> Self {
        do {
            let fields = try MessageFields(payload: payload, limits: limits)
            return try Self(fields: fields, limits: limits)
        } catch {
            throw error.on(topic: topic)
        }
    }
}

/// Little-endian packing of numeric arrays carried as `bin`.
public enum PackedArray {
    /// Packs float32 values little-endian.
    public static func bytes(_ values: [Float]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * 4)
        out.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        return out
    }

    /// Unpacks little-endian float32 values (`bytes.count` must be a multiple of 4).
    public static func floats(_ bytes: [UInt8]) -> [Float] {
        floats(bytes[...])
    }

    /// Decodes little-endian float32 values from a slice (e.g. a `bin` field of a payload).
    public static func floats(_ bytes: ArraySlice<UInt8>) -> [Float] {
        let n = bytes.count / 4
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// Whether every IEEE-754 float32 in `bytes` is finite (exponent bits not all ones).
    public static func allFiniteFloat32(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { allFiniteFloat32($0) }
    }

    /// Whether every IEEE-754 float32 in a borrowed buffer is finite.
    public static func allFiniteFloat32(_ raw: UnsafeRawBufferPointer) -> Bool {
        let n = raw.count / 4
        var bad: UInt32 = 0
        for i in 0..<n {
            let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
            bad |= ((bits & 0x7f80_0000) == 0x7f80_0000) ? 1 : 0
        }
        return bad == 0
    }

    /// Multiplies sizes, reporting overflow as nil.
    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for f in factors {
            let (r, overflow) = result.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            result = r
        }
        return result
    }
}

/// Writes a map whose entries are produced by `body`, counting them for the header.
///
/// Entries are collected into a scratch writer so each message type can list its keys once.
struct MapBuilder {
    private var body = MessagePackWriter(capacity: 128)
    private var count = 0

    mutating func header(_ header: Header) {
        header.write(to: &body)
        count += 3
    }

    mutating func entry(_ key: String, _ write: (inout MessagePackWriter) -> Void) {
        body.write(key)
        write(&body)
        count += 1
    }

    mutating func entry(_ key: String, _ value: String) { entry(key) { $0.write(value) } }
    mutating func entry(_ key: String, _ value: Int) { entry(key) { $0.write(value) } }
    mutating func entry(_ key: String, _ value: Int64) { entry(key) { $0.write(value) } }
    mutating func entry(_ key: String, _ value: Double) { entry(key) { $0.write(value) } }
    mutating func entry(_ key: String, _ value: Bool) { entry(key) { $0.write(value) } }
    mutating func entry(_ key: String, binary value: [UInt8]) { entry(key) { $0.writeBinary(value) } }
    mutating func entry(_ key: String, strings: [String]) {
        entry(key) { w in w.writeArrayHeader(count: strings.count); for s in strings { w.write(s) } }
    }
    mutating func entry(_ key: String, ints: [Int]) {
        entry(key) { w in w.writeArrayHeader(count: ints.count); for v in ints { w.write(v) } }
    }
    mutating func entry(_ key: String, int64s: [Int64]) {
        entry(key) { w in w.writeArrayHeader(count: int64s.count); for v in int64s { w.write(v) } }
    }
    mutating func entry(_ key: String, doubles: [Double]) {
        entry(key) { w in w.writeArrayHeader(count: doubles.count); for v in doubles { w.write(v) } }
    }

    func finish(into writer: inout MessagePackWriter) {
        writer.writeMapHeader(count: count)
        body.bytes.withUnsafeBytes { writer.appendRaw($0) }
    }
}
