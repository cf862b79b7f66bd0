import Testing
@testable import ForesightBag

@Suite struct CRC32Tests {
    @Test func knownVectors() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
    }

    @Test func incrementalEqualsOneShot() {
        let data = (0..<1037).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var crc = CRC32()
        for split in stride(from: 0, to: data.count, by: 13) {
            crc.update(Array(data[split..<min(split + 13, data.count)]))
        }
        #expect(crc.value == CRC32.checksum(data))
    }

    @Test func slicedPathMatchesBytewise() {
        // Reference: plain bit-by-bit CRC-32.
        let data = (0..<517).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 3) }
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = (c & 1) != 0 ? (0xEDB8_8320 ^ (c >> 1)) : (c >> 1) }
        }
        #expect(CRC32.checksum(data) == c ^ 0xFFFF_FFFF)
    }
}
