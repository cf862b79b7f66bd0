import CMsgPack
import Testing
@testable import ForesightWire

/// Round trips through the writer and reader, at every encoding boundary.
@Suite struct MessagePackTests {
    func roundTrip(_ value: MessagePackValue) throws -> MessagePackValue {
        var writer = MessagePackWriter()
        writer.write(value)
        return try MessagePackReader.decode(writer.bytes)
    }

    @Test(arguments: [0, 1, 127, 128, 255, 256, 65_535, 65_536, 4_294_967_295, 4_294_967_296, UInt64.max])
    func unsignedBoundaries(_ v: UInt64) throws {
        #expect(try roundTrip(.uint(v)) == .uint(v))
    }

    @Test(arguments: [-1, -32, -33, -128, -129, -32_768, -32_769, -2_147_483_648, -2_147_483_649, Int64.min])
    func signedBoundaries(_ v: Int64) throws {
        #expect(try roundTrip(.int(v)) == .int(v))
    }

    @Test func smallestEncodings() {
        var w = MessagePackWriter()
        w.write(Int64(5)); w.write(Int64(-5)); w.write(UInt64(200)); w.write(Int64(1_700_000_000_000_000_000))
        #expect(w.bytes == [0x05, 0xfb, 0xcc, 200, 0xcf, 0x17, 0x97, 0x9c, 0xfe, 0x36, 0x2a, 0x00, 0x00])
    }

    @Test(arguments: [0, 31, 32, 255, 256, 65_535, 65_536])
    func stringAndBinaryLengths(_ n: Int) throws {
        let text = String(repeating: "é", count: n / 2) + String(repeating: "a", count: n % 2)
        #expect(try roundTrip(.string(text)) == .string(text))
        let bytes = [UInt8](repeating: 7, count: n)
        #expect(try roundTrip(.binary(bytes)) == .binary(bytes))
    }

    @Test(arguments: [0, 15, 16, 65_535, 65_536])
    func containerSizes(_ n: Int) throws {
        let array = MessagePackValue.array(Array(repeating: .uint(1), count: n))
        #expect(try roundTrip(array) == array)
        let map = MessagePackValue.map((0..<n).map { (key: "k\($0)", value: .null) })
        #expect(try roundTrip(map) == map)
    }

    @Test func floatsAndExtensions() throws {
        for v: MessagePackValue in [.float32(1.5), .float32(.nan), .float64(-0.0), .float64(.infinity), .bool(true), .null,
                                    .ext(type: 3, data: [1]), .ext(type: -1, data: [1, 2, 3]), .ext(type: 9, data: Array(repeating: 0, count: 16))] {
            #expect(try roundTrip(v) == v)
        }
    }

    @Test func hostileLengthsAreRejectedBeforeAllocating() {
        // map32 claiming 2^32-1 entries, array32 claiming 2^32-1 items, bin32 claiming 4 GiB.
        for bytes: [UInt8] in [[0xdf, 0xff, 0xff, 0xff, 0xff], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xc6, 0xff, 0xff, 0xff, 0xff, 0]] {
            #expect(throws: MessagePackError.self) { try MessagePackReader.decode(bytes) }
            do {
                _ = try MessagePackReader.decode(bytes)
            } catch {
                guard case .lengthExceedsInput = error else { Issue.record("unexpected \(error)"); continue }
            }
        }
    }

    @Test func strictness() {
        #expect(throws: MessagePackError.trailingBytes(count: 1)) { try MessagePackReader.decode([0x80, 0x00]) }
        #expect(throws: MessagePackError.duplicateKey("a")) { try MessagePackReader.decode([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]) }
        #expect(throws: MessagePackError.nonStringKey(offset: 1)) { try MessagePackReader.decode([0x81, 0x01, 0x01]) }
        #expect(throws: MessagePackError.invalidType(byte: 0xc1, offset: 0)) { try MessagePackReader.decode([0xc1]) }
        #expect(throws: MessagePackError.invalidUTF8(offset: 0)) { try MessagePackReader.decode([0xa2, 0xff, 0xfe]) }
        #expect(throws: MessagePackError.truncated(offset: 1)) { try MessagePackReader.decode([0xcd, 0x01]) }
        let deep = [UInt8](repeating: 0x91, count: 40) + [0x00]
        #expect(throws: MessagePackError.tooDeep(limit: 32)) { try MessagePackReader.decode(deep) }
        #expect(throws: Never.self) { try MessagePackReader.decode(deep, maxDepth: 64) }
    }
}

/// Differential tests against msgpack-c, the reference C implementation.
@Suite struct MsgPackCDifferentialTests {
    /// Converts a msgpack-c object to our value type.
    func convert(_ o: msgpack_object) -> MessagePackValue? {
        switch o.type {
        case MSGPACK_OBJECT_NIL: return .null
        case MSGPACK_OBJECT_BOOLEAN: return .bool(o.via.boolean)
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return .uint(o.via.u64)
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return .int(o.via.i64)
        case MSGPACK_OBJECT_FLOAT32: return .float32(Float(o.via.f64))
        case MSGPACK_OBJECT_FLOAT64: return .float64(o.via.f64)
        case MSGPACK_OBJECT_STR:
            let raw = UnsafeRawBufferPointer(start: o.via.str.ptr, count: Int(o.via.str.size))
            return .string(String(decoding: raw, as: UTF8.self))
        case MSGPACK_OBJECT_BIN:
            return .binary(Array(UnsafeRawBufferPointer(start: o.via.bin.ptr, count: Int(o.via.bin.size))))
        case MSGPACK_OBJECT_ARRAY:
            let items = UnsafeBufferPointer(start: o.via.array.ptr, count: Int(o.via.array.size))
            return .array(items.compactMap(convert))
        case MSGPACK_OBJECT_MAP:
            let kvs = UnsafeBufferPointer(start: o.via.map.ptr, count: Int(o.via.map.size))
            return .map(kvs.compactMap { kv in
                guard case .string(let key)? = convert(kv.key), let value = convert(kv.val) else { return nil }
                return (key, value)
            })
        default: return nil
        }
    }

    func unpackWithMsgPackC(_ bytes: [UInt8]) -> MessagePackValue? {
        var result = msgpack_unpacked()
        msgpack_unpacked_init(&result)
        defer { msgpack_unpacked_destroy(&result) }
        var offset = 0
        let rc = bytes.withUnsafeBytes { raw in
            msgpack_unpack_next(&result, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, &offset)
        }
        guard rc == MSGPACK_UNPACK_SUCCESS, offset == bytes.count else { return nil }
        return convert(result.data)
    }

    func randomValue(_ rng: inout SplitMix, depth: Int) -> MessagePackValue {
        switch rng.next() % (depth > 3 ? 7 : 9) {
        case 0: return .uint(rng.next() >> (rng.next() % 64))
        case 1: return .int(-Int64(rng.next() >> (1 + rng.next() % 63)) - 1)
        case 2: return .float64(Double(Int64(bitPattern: rng.next() >> 12)) / 1024)
        case 3: return .string(String((0..<Int(rng.next() % 40)).map { _ in Character(UnicodeScalar(UInt8(97 + rng.next() % 26))) }))
        case 4: return .binary((0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case 5: return .bool(rng.next() % 2 == 0)
        case 6: return .null
        case 7: return .array((0..<Int(rng.next() % 20)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            let n = Int(rng.next() % 20)
            return .map((0..<n).map { (key: "key\($0)", value: randomValue(&rng, depth: depth + 1)) })
        }
    }

    @Test func ourBytesDecodeIdenticallyInMsgPackC() throws {
        var rng = SplitMix(seed: 42)
        for _ in 0..<300 {
            let value = randomValue(&rng, depth: 0)
            var writer = MessagePackWriter()
            writer.write(value)
            #expect(unpackWithMsgPackC(writer.bytes) == value)
            #expect(try MessagePackReader.decode(writer.bytes) == value)
        }
    }

    @Test func msgPackCBytesDecodeIdenticallyHere() throws {
        var sbuf = msgpack_sbuffer()
        msgpack_sbuffer_init(&sbuf)
        defer { msgpack_sbuffer_destroy(&sbuf) }
        var pk = msgpack_packer()
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write)
        func key(_ k: String) { msgpack_pack_str(&pk, k.utf8.count); msgpack_pack_str_body(&pk, k, k.utf8.count) }
        msgpack_pack_map(&pk, 5)
        key("stamp"); msgpack_pack_uint64(&pk, 1_700_000_000_000_000_000)
        key("neg"); msgpack_pack_int64(&pk, -70_000)
        key("f"); msgpack_pack_float(&pk, 0.25)
        key("d"); msgpack_pack_double(&pk, -2.5)
        key("b"); msgpack_pack_bin(&pk, 3); msgpack_pack_bin_body(&pk, [UInt8]([1, 2, 3]), 3)
        let bytes = Array(UnsafeRawBufferPointer(start: sbuf.data, count: sbuf.size))
        let value = try MessagePackReader.decode(bytes)
        #expect(value == .map([("stamp", .uint(1_700_000_000_000_000_000)), ("neg", .int(-70_000)), ("f", .float32(0.25)),
                               ("d", .float64(-2.5)), ("b", .binary([1, 2, 3]))]))
    }
}

/// A tiny deterministic generator for tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
