/// A decoded MessagePack value.
///
/// Maps keep their entries in wire order and only ever have string keys: Foresight's wire
/// protocol rejects any other key type at decode time (see `MessagePackReader`).
public enum MessagePackValue: Sendable, Equatable {
    /// `nil`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// A signed integer encoding (fixint negative, int8…int64).
    case int(Int64)
    /// An unsigned integer encoding (positive fixint, uint8…uint64).
    case uint(UInt64)
    /// A float32.
    case float32(Float)
    /// A float64.
    case float64(Double)
    /// A UTF-8 string.
    case string(String)
    /// Opaque bytes. Decoded from an array (``MessagePackReader/decode(_:maxDepth:)``), a slice
    /// of that array: the bytes are not copied.
    case binary(ArraySlice<UInt8>)
    /// An array.
    case array([MessagePackValue])
    /// A map with string keys, in wire order.
    case map([(key: String, value: MessagePackValue)])
    /// An extension value (type code and bytes).
    case ext(type: Int8, data: [UInt8])

    /// Opaque bytes held in an array of their own.
    public static func binary(_ bytes: [UInt8]) -> MessagePackValue { .binary(bytes[...]) }

    public static func == (lhs: MessagePackValue, rhs: MessagePackValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.uint(a), .uint(b)): return a == b
        case let (.float32(a), .float32(b)): return a.bitPattern == b.bitPattern
        case let (.float64(a), .float64(b)): return a.bitPattern == b.bitPattern
        case let (.string(a), .string(b)): return a == b
        case let (.binary(a), .binary(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.map(a), .map(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.ext(ta, da), .ext(tb, db)): return ta == tb && da == db
        default: return false
        }
    }

    /// A short name of the value's kind, used in error messages ("expected uint, found str").
    public var kindName: String {
        switch self {
        case .null: return "nil"
        case .bool: return "bool"
        case .int: return "int"
        case .uint: return "uint"
        case .float32: return "float32"
        case .float64: return "float64"
        case .string: return "str"
        case .binary: return "bin"
        case .array: return "array"
        case .map: return "map"
        case .ext: return "ext"
        }
    }
}

/// Why a byte sequence is not acceptable MessagePack for Foresight.
public enum MessagePackError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended inside a value.
    case truncated(offset: Int)
    /// A byte that starts no MessagePack value (0xc1).
    case invalidType(byte: UInt8, offset: Int)
    /// A declared length or element count cannot fit in what remains of the input.
    case lengthExceedsInput(declared: UInt64, remaining: Int, offset: Int)
    /// Nesting deeper than the configured bound.
    case tooDeep(limit: Int)
    /// A map key that is not a string.
    case nonStringKey(offset: Int)
    /// The same key twice in one map.
    case duplicateKey(String)
    /// A string that is not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// Bytes left over after the top-level value.
    case trailingBytes(count: Int)

    public var description: String {
        switch self {
        case .truncated(let offset): return "input ends inside a value at byte \(offset)"
        case .invalidType(let byte, let offset): return "byte 0x\(String(byte, radix: 16)) at \(offset) is not a MessagePack type"
        case .lengthExceedsInput(let declared, let remaining, let offset):
            return "length \(declared) declared at byte \(offset) exceeds the \(remaining) bytes that remain"
        case .tooDeep(let limit): return "values nested deeper than \(limit) levels"
        case .nonStringKey(let offset): return "map key at byte \(offset) is not a string"
        case .duplicateKey(let key): return "key '\(key)' appears twice in one map"
        case .invalidUTF8(let offset): return "string at byte \(offset) is not valid UTF-8"
        case .trailingBytes(let count): return "\(count) trailing bytes after the message"
        }
    }
}

/// A strict, bounded MessagePack reader.
///
/// Every declared length is checked against the bytes that remain *before* anything is
/// allocated, so a hostile header (a map claiming 2³² entries) costs nothing. Nesting depth is
/// bounded, map keys must be unique strings, strings must be UTF-8, and `readDocument` rejects
/// trailing bytes.
public struct MessagePackReader {
    private let bytes: UnsafeRawBufferPointer
    /// The array `bytes` points into, when reading one: `bin` values are slices of it, not copies.
    private let source: [UInt8]?
    private var offset = 0
    private let maxDepth: Int

    /// Creates a reader over `bytes` (which must stay valid while reading); `bin` values are copied out.
    public init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 32) {
        self.bytes = bytes
        self.source = nil
        self.maxDepth = maxDepth
    }

    private init(_ bytes: UnsafeRawBufferPointer, source: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.source = source
        self.maxDepth = maxDepth
    }

    /// Decodes exactly one value spanning the whole input. `bin` values are slices of `data`
    /// (sharing its storage), so a camera image is not copied by decoding.
    public static func decode(_ data: [UInt8], maxDepth: Int = 32) throws(MessagePackError) -> MessagePackValue {
        let result: Result<MessagePackValue, MessagePackError> = data.withUnsafeBytes { raw in
            var reader = MessagePackReader(raw, source: data, maxDepth: maxDepth)
            return Result { () throws(MessagePackError) -> MessagePackValue in try reader.readDocument() }
        }
        return try result.get()
    }

    /// Reads one value and requires that it ends the input.
    public mutating func readDocument() throws(MessagePackError) -> MessagePackValue {
        let value = try readValue(depth: 0)
        if offset != bytes.count { throw .trailingBytes(count: bytes.count - offset) }
        return value
    }

    private var remaining: Int { bytes.count - offset }

    private mutating func byte() throws(MessagePackError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    private mutating func bigEndian<T: FixedWidthInteger>(_: T.Type) throws(MessagePackError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(offset: offset) }
        var value: T = 0
        for i in 0..<size { value = (value << 8) | T(bytes[offset + i]) }
        offset += size
        return value
    }

    private mutating func take(_ count: UInt64, at start: Int) throws(MessagePackError) -> UnsafeRawBufferPointer {
        guard count <= UInt64(remaining) else {
            throw .lengthExceedsInput(declared: count, remaining: remaining, offset: start)
        }
        let n = Int(count)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    /// A `bin` body: a slice of the source array when there is one, else a copy.
    private mutating func binary(_ count: UInt64, at start: Int) throws(MessagePackError) -> MessagePackValue {
        let from = offset
        let raw = try take(count, at: start)
        if let source { return .binary(source[from..<(from + raw.count)]) }
        ByteAudit.record(.payloadCopy)
        return .binary(ArraySlice(raw))
    }

    private mutating func string(length: UInt64, at start: Int) throws(MessagePackError) -> String {
        let raw = try take(length, at: start)
        guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(offset: start) }
        return text
    }

    private mutating func array(count: UInt64, depth: Int, at start: Int) throws(MessagePackError) -> MessagePackValue {
        // Each element takes at least one byte: bound the count before reserving.
        guard count <= UInt64(remaining) else { throw .lengthExceedsInput(declared: count, remaining: remaining, offset: start) }
        guard depth < maxDepth else { throw .tooDeep(limit: maxDepth) }
        var items: [MessagePackValue] = []
        items.reserveCapacity(Int(count))
        for _ in 0..<count { items.append(try readValue(depth: depth + 1)) }
        return .array(items)
    }

    private mutating func map(count: UInt64, depth: Int, at start: Int) throws(MessagePackError) -> MessagePackValue {
        // Each entry takes at least two bytes.
        guard count <= UInt64(remaining / 2) else { throw .lengthExceedsInput(declared: count, remaining: remaining, offset: start) }
        guard depth < maxDepth else { throw .tooDeep(limit: maxDepth) }
        var entries: [(key: String, value: MessagePackValue)] = []
        entries.reserveCapacity(Int(count))
        var seen = Set<String>(minimumCapacity: Int(count))
        for _ in 0..<count {
            let keyOffset = offset
            guard case .string(let key) = try readValue(depth: depth + 1) else { throw .nonStringKey(offset: keyOffset) }
            guard seen.insert(key).inserted else { throw .duplicateKey(key) }
            entries.append((key, try readValue(depth: depth + 1)))
        }
        return .map(entries)
    }

    private mutating func readValue(depth: Int) throws(MessagePackError) -> MessagePackValue {
        let start = offset
        let b = try byte()
        switch b {
        case 0x00...0x7f: return .uint(UInt64(b))
        case 0x80...0x8f: return try map(count: UInt64(b & 0x0f), depth: depth, at: start)
        case 0x90...0x9f: return try array(count: UInt64(b & 0x0f), depth: depth, at: start)
        case 0xa0...0xbf: return .string(try string(length: UInt64(b & 0x1f), at: start))
        case 0xc0: return .null
        case 0xc2: return .bool(false)
        case 0xc3: return .bool(true)
        case 0xc4: return try binary(UInt64(try bigEndian(UInt8.self)), at: start)
        case 0xc5: return try binary(UInt64(try bigEndian(UInt16.self)), at: start)
        case 0xc6: return try binary(UInt64(try bigEndian(UInt32.self)), at: start)
        case 0xc7, 0xc8, 0xc9:
            let length: UInt64
            switch b {
            case 0xc7: length = UInt64(try bigEndian(UInt8.self))
            case 0xc8: length = UInt64(try bigEndian(UInt16.self))
            default: length = UInt64(try bigEndian(UInt32.self))
            }
            let type = Int8(bitPattern: try byte())
            return .ext(type: type, data: Array(try take(length, at: start)))
        case 0xca: return .float32(Float(bitPattern: try bigEndian(UInt32.self)))
        case 0xcb: return .float64(Double(bitPattern: try bigEndian(UInt64.self)))
        case 0xcc: return .uint(UInt64(try bigEndian(UInt8.self)))
        case 0xcd: return .uint(UInt64(try bigEndian(UInt16.self)))
        case 0xce: return .uint(UInt64(try bigEndian(UInt32.self)))
        case 0xcf: return .uint(try bigEndian(UInt64.self))
        case 0xd0: return .int(Int64(Int8(bitPattern: try bigEndian(UInt8.self))))
        case 0xd1: return .int(Int64(Int16(bitPattern: try bigEndian(UInt16.self))))
        case 0xd2: return .int(Int64(Int32(bitPattern: try bigEndian(UInt32.self))))
        case 0xd3: return .int(Int64(bitPattern: try bigEndian(UInt64.self)))
        case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
            let length = UInt64(1) << UInt64(b - 0xd4)
            let type = Int8(bitPattern: try byte())
            return .ext(type: type, data: Array(try take(length, at: start)))
        case 0xd9: return .string(try string(length: UInt64(try bigEndian(UInt8.self)), at: start))
        case 0xda: return .string(try string(length: UInt64(try bigEndian(UInt16.self)), at: start))
        case 0xdb: return .string(try string(length: UInt64(try bigEndian(UInt32.self)), at: start))
        case 0xdc: return try array(count: UInt64(try bigEndian(UInt16.self)), depth: depth, at: start)
        case 0xdd: return try array(count: UInt64(try bigEndian(UInt32.self)), depth: depth, at: start)
        case 0xde: return try map(count: UInt64(try bigEndian(UInt16.self)), depth: depth, at: start)
        case 0xdf: return try map(count: UInt64(try bigEndian(UInt32.self)), depth: depth, at: start)
        case 0xe0...0xff: return .int(Int64(Int8(bitPattern: b)))
        default: throw .invalidType(byte: b, offset: start)
        }
    }
}

/// Writes MessagePack into a growing byte array, always choosing the smallest encoding.
public struct MessagePackWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates a writer, reserving `capacity` bytes up front.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Creates a writer that writes into `buffer`'s storage (emptied, capacity kept and grown to
    /// at least `capacity`): a producer that recycles its buffers allocates no new memory.
    public init(reusing buffer: [UInt8], capacity: Int) {
        bytes = buffer
        bytes.removeAll(keepingCapacity: true)
        bytes.reserveCapacity(capacity)
    }

    private mutating func bigEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.bigEndian
        withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
    }

    /// Writes `nil`.
    public mutating func writeNil() { bytes.append(0xc0) }

    /// Writes a boolean.
    public mutating func write(_ value: Bool) { bytes.append(value ? 0xc3 : 0xc2) }

    /// Writes a signed integer in its smallest encoding (non-negative values as unsigned).
    public mutating func write(_ value: Int64) {
        if value >= 0 { write(UInt64(value)); return }
        switch value {
        case -32 ..< 0: bytes.append(UInt8(bitPattern: Int8(value)))
        case Int64(Int8.min)...: bytes.append(0xd0); bigEndian(Int8(value))
        case Int64(Int16.min)...: bytes.append(0xd1); bigEndian(Int16(value))
        case Int64(Int32.min)...: bytes.append(0xd2); bigEndian(Int32(value))
        default: bytes.append(0xd3); bigEndian(value)
        }
    }

    /// Writes a signed integer in its smallest encoding.
    public mutating func write(_ value: Int) { write(Int64(value)) }

    /// Writes an unsigned integer in its smallest encoding.
    public mutating func write(_ value: UInt64) {
        switch value {
        case 0...0x7f: bytes.append(UInt8(value))
        case ...UInt64(UInt8.max): bytes.append(0xcc); bytes.append(UInt8(value))
        case ...UInt64(UInt16.max): bytes.append(0xcd); bigEndian(UInt16(value))
        case ...UInt64(UInt32.max): bytes.append(0xce); bigEndian(UInt32(value))
        default: bytes.append(0xcf); bigEndian(value)
        }
    }

    /// Writes a float32.
    public mutating func write(_ value: Float) { bytes.append(0xca); bigEndian(value.bitPattern) }

    /// Writes a float64.
    public mutating func write(_ value: Double) { bytes.append(0xcb); bigEndian(value.bitPattern) }

    /// Writes a UTF-8 string.
    public mutating func write(_ value: String) {
        var text = value
        text.withUTF8 { utf8 in
            let n = utf8.count
            switch n {
            case 0...31: bytes.append(0xa0 | UInt8(n))
            case ...0xff: bytes.append(0xd9); bytes.append(UInt8(n))
            case ...0xffff: bytes.append(0xda); bigEndian(UInt16(n))
            default: bytes.append(0xdb); bigEndian(UInt32(n))
            }
            bytes.append(contentsOf: utf8)
        }
    }

    /// Writes the header of a `bin` of `count` bytes; the caller appends exactly that many bytes next.
    public mutating func writeBinaryHeader(count: Int) {
        switch count {
        case 0...0xff: bytes.append(0xc4); bytes.append(UInt8(count))
        case ...0xffff: bytes.append(0xc5); bigEndian(UInt16(count))
        default: bytes.append(0xc6); bigEndian(UInt32(count))
        }
    }

    /// Writes a `bin` value.
    public mutating func writeBinary(_ data: some Collection<UInt8>) {
        writeBinaryHeader(count: data.count)
        bytes.append(contentsOf: data)
    }

    /// Appends raw bytes (the body announced by `writeBinaryHeader`).
    public mutating func appendRaw(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }

    /// Writes an array header; the caller writes `count` values next.
    public mutating func writeArrayHeader(count: Int) {
        switch count {
        case 0...15: bytes.append(0x90 | UInt8(count))
        case ...0xffff: bytes.append(0xdc); bigEndian(UInt16(count))
        default: bytes.append(0xdd); bigEndian(UInt32(count))
        }
    }

    /// Writes a map header; the caller writes `count` key/value pairs next.
    public mutating func writeMapHeader(count: Int) {
        switch count {
        case 0...15: bytes.append(0x80 | UInt8(count))
        case ...0xffff: bytes.append(0xde); bigEndian(UInt16(count))
        default: bytes.append(0xdf); bigEndian(UInt32(count))
        }
    }

    /// Writes any decoded value back out.
    public mutating func write(_ value: MessagePackValue) {
        switch value {
        case .null: writeNil()
        case .bool(let v): write(v)
        case .int(let v): write(v)
        case .uint(let v): write(v)
        case .float32(let v): write(v)
        case .float64(let v): write(v)
        case .string(let v): write(v)
        case .binary(let v): writeBinary(v)
        case .array(let items):
            writeArrayHeader(count: items.count)
            for item in items { write(item) }
        case .map(let entries):
            writeMapHeader(count: entries.count)
            for entry in entries { write(entry.key); write(entry.value) }
        case .ext(let type, let data):
            switch data.count {
            case 1, 2, 4, 8, 16:
                bytes.append(0xd4 + UInt8(data.count.trailingZeroBitCount))
            case 0...0xff: bytes.append(0xc7); bytes.append(UInt8(data.count))
            case ...0xffff: bytes.append(0xc8); bigEndian(UInt16(data.count))
            default: bytes.append(0xc9); bigEndian(UInt32(data.count))
            }
            bytes.append(UInt8(bitPattern: type))
            bytes.append(contentsOf: data)
        }
    }
}
