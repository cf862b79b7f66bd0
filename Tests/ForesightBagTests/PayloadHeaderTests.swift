import Foundation
import Testing
@testable import ForesightBag

/// A minimal MessagePack map writer for test payloads (same layout as the wire protocol).
func wirePayload(stamp: Int64, seq: UInt32, blob: Int = 64, stampFirst: Bool = true) -> [UInt8] {
    var out: [UInt8] = [0x84]
    func str(_ s: String) { out.append(0xA0 | UInt8(s.utf8.count)); out += Array(s.utf8) }
    func stampEntry() {
        str("stamp")
        out.append(0xD3)
        withUnsafeBytes(of: stamp.bigEndian) { out += $0 }
    }
    if stampFirst { stampEntry() }
    str("frame_id"); str("cam0")
    str("data"); out.append(0xC5); out.append(UInt8(blob >> 8)); out.append(UInt8(blob & 0xFF))
    out += (0..<blob).map { UInt8(truncatingIfNeeded: $0 * 13) }
    str("seq"); out.append(0xCE); withUnsafeBytes(of: seq.bigEndian) { out += $0 }
    if !stampFirst { stampEntry() }
    return out
}

@Suite struct PayloadHeaderTests {
    @Test func peeksStampAndSeq() {
        let p = wirePayload(stamp: 1_763_900_000_123_456_789, seq: 77)
        let h = PayloadHeader.peek(p)
        #expect(h?.stamp == 1_763_900_000_123_456_789)
        #expect(h?.seq == 77)
        let q = wirePayload(stamp: -5, seq: 3, blob: 300, stampFirst: false)
        #expect(PayloadHeader.peek(q)?.stamp == -5)
        #expect(PayloadHeader.peek(q)?.seq == 3)
    }

    @Test func smallIntegerEncodings() {
        // {"seq": 5, "stamp": 100} with fixints.
        let p: [UInt8] = [0x82, 0xA3] + Array("seq".utf8) + [0x05, 0xA5] + Array("stamp".utf8) + [0x64]
        #expect(PayloadHeader.peek(p)?.stamp == 100)
        #expect(PayloadHeader.peek(p)?.seq == 5)
    }

    @Test func restampKeepsEverythingElse() throws {
        let p = wirePayload(stamp: 1000, seq: 9, blob: 500, stampFirst: false)
        let r = try #require(PayloadHeader.restamped(p, stamp: 42_000_000_000))
        #expect(PayloadHeader.peek(r)?.stamp == 42_000_000_000)
        #expect(PayloadHeader.peek(r)?.seq == 9)
        #expect(r.count == p.count)  // both int64-encoded
        #expect(Array(r[0..<(r.count - 8)]) == Array(p[0..<(p.count - 8)]))
    }

    @Test func rejectsNonMapsAndTruncation() {
        #expect(PayloadHeader.peek([]) == nil)
        #expect(PayloadHeader.peek([0x93, 1, 2, 3]) == nil)
        let p = wirePayload(stamp: 1, seq: 1, blob: 200, stampFirst: false)
        #expect(PayloadHeader.peek(Array(p[0..<100])) == nil)
        // A map claiming 2^32-1 entries in a few bytes.
        #expect(PayloadHeader.peek([0xDF, 0xFF, 0xFF, 0xFF, 0xFF, 0xA1, 0x61]) == nil)
        #expect(PayloadHeader.restamped([0x80], stamp: 5) == nil)
    }
}
