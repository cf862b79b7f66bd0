import Foundation
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

    @Test func matchesTheBitwiseDefinition() {
        // Reference: plain bit-by-bit CRC-32.
        let data = (0..<517).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 3) }
        var c: UInt32 = 0xFFFF_FFFF
        for byte in data {
            c ^= UInt32(byte)
            for _ in 0..<8 { c = (c & 1) != 0 ? (0xEDB8_8320 ^ (c >> 1)) : (c >> 1) }
        }
        #expect(CRC32.checksum(data) == c ^ 0xFFFF_FFFF)
    }

    /// Extending a checksum by a block's own CRC equals feeding the block.
    @Test func appendingAKnownCRCEqualsFeedingTheBytes() {
        let a = (0..<4099).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let b = (0..<70_001).map { UInt8(truncatingIfNeeded: $0 &* 101 &+ 9) }
        var fed = CRC32()
        fed.update(a)
        fed.update(b)
        var combined = CRC32()
        combined.update(a)
        combined.append(crc: CRC32.checksum(b), length: b.count)
        #expect(combined.value == fed.value)
        var fromEmpty = CRC32()
        fromEmpty.append(crc: CRC32.checksum(b), length: b.count)
        #expect(fromEmpty.value == CRC32.checksum(b))
        fromEmpty.append(crc: 0, length: 0)
        #expect(fromEmpty.value == CRC32.checksum(b))
    }

    /// The Data End record of an uncompressed bag (whose chunks are folded into the data-section
    /// CRC by their known CRC, not read twice) holds the CRC-32 of every byte before it.
    @Test(arguments: [BagCompression.none, .zstd, .lz4])
    func dataSectionCRCCoversEveryByteBeforeDataEnd(_ compression: BagCompression) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("crc.mcap").path
        let writer = try BagWriter(path: path, options: BagWriterOptions(compression: compression, chunkSize: 64 << 10))
        for i in 0..<300 {
            let payload = (0..<(1000 + i * 37)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            try writer.write(topic: "t\(i % 3)", schema: nil, sequence: UInt32(i), logTime: UInt64(i), publishTime: UInt64(i), data: payload)
        }
        _ = try writer.finish()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u64(_ at: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) } }
        // Footer: opcode, length, summary start, summary offset start, summary CRC; then the magic.
        let footer = bytes.count - 8 - (1 + 8 + 8 + 8 + 4)
        let summaryStart = u64(footer + 9)
        // Data End (opcode 0x0F, length 4, CRC) ends where the summary starts.
        let dataEnd = summaryStart - (1 + 8 + 4)
        #expect(bytes[dataEnd] == 0x0F && u64(dataEnd + 1) == 4)
        #expect(u32(dataEnd + 9) == CRC32.checksum(Array(bytes[0..<dataEnd])))
    }
}
