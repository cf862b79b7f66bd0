import Foundation
import Testing
@testable import ForesightBag

/// Corrupt input must end in a clear `BagError`, never a crash or an unbounded allocation.
@Suite struct BagCorruptionTests {
    private func sampleBag(_ dir: URL, compression: BagCompression = .none) throws -> (String, [UInt8]) {
        let path = dir.appendingPathComponent("good.mcap").path
        _ = try SampleStream.write(SampleStream.make(count: 60), to: path,
                                   options: BagWriterOptions(compression: compression, chunkSize: 4 << 10))
        return (path, Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    private func readAll(_ path: String) throws(BagError) -> Int {
        let reader = try BagReader(path: path)
        _ = try reader.info()
        _ = try reader.readSummary()
        let cursor = try reader.messages()
        var n = 0
        while try cursor.next() != nil { n += 1 }
        return n
    }

    private func write(_ bytes: [UInt8], _ dir: URL, _ name: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func badMagic() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var (_, bytes) = try sampleBag(dir)
        bytes[1] = UInt8(ascii: "X")
        let path = try write(bytes, dir, "magic.mcap")
        #expect(throws: BagError.badMagic(path: path, atEnd: false)) { _ = try BagReader(path: path) }
        let notBag = try write(Array("hello".utf8), dir, "tiny.mcap")
        #expect(throws: BagError.badMagic(path: notBag, atEnd: false)) { _ = try BagReader(path: notBag) }
    }

    @Test func truncatedFileIsReportedAndScanStopsCleanly() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, bytes) = try sampleBag(dir)
        let path = try write(Array(bytes[0..<(bytes.count * 2 / 3)]), dir, "cut.mcap")
        let reader = try BagReader(path: path)
        #expect(try reader.readSummary() == nil)
        // `info` still describes the readable part and says where the file is cut off.
        let info = try reader.info()
        #expect(info.summary.cutOff != nil)
        #expect(info.summary.messageCount > 0 && info.summary.messageCount < 60)
        #expect(info.text.contains("bag recover"))
        do {
            _ = try readAll(path)
            Issue.record("reading a cut-off file should fail")
        } catch {
            guard case .truncated = error else { Issue.record("expected .truncated, got \(error)"); return }
            #expect(error.description.contains("recover"))
        }
    }

    @Test func absurdRecordLength() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var bytes = mcapMagic
        bytes.append(Opcode.header.rawValue)
        bytes += [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]  // 2^63 bytes
        bytes += [0, 0, 0, 0]
        let path = try write(bytes, dir, "absurd.mcap")
        do {
            _ = try readAll(path)
            Issue.record("absurd length accepted")
        } catch {
            guard case .absurdLength = error else { Issue.record("expected .absurdLength, got \(error)"); return }
        }
    }

    @Test func absurdChunkSizeIsRejectedBeforeAllocating() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var (_, bytes) = try sampleBag(dir, compression: .zstd)
        // First chunk record starts after magic + header record; patch its uncompressed_size.
        let headerLength = Int(bytes[9]) | Int(bytes[10]) << 8
        let chunkAt = 8 + 9 + headerLength
        #expect(bytes[chunkAt] == Opcode.chunk.rawValue)
        for i in 0..<8 { bytes[chunkAt + 9 + 16 + i] = 0xFF }
        let path = try write(bytes, dir, "bigchunk.mcap")
        do {
            _ = try readAll(path)
            Issue.record("absurd chunk size accepted")
        } catch {
            guard case .absurdLength = error else { Issue.record("expected .absurdLength, got \(error)"); return }
        }
    }

    @Test func chunkCRCMismatch() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var (_, bytes) = try sampleBag(dir, compression: .none)
        let headerLength = Int(bytes[9]) | Int(bytes[10]) << 8
        let chunkAt = 8 + 9 + headerLength
        // Flip a payload byte well inside the first (uncompressed) chunk's records.
        bytes[chunkAt + 9 + 8 + 8 + 8 + 4 + 4 + 8 + 1500] ^= 0x5A
        let path = try write(bytes, dir, "crc.mcap")
        do {
            _ = try readAll(path)
            Issue.record("CRC mismatch not detected")
        } catch {
            guard case .crcMismatch = error else { Issue.record("expected .crcMismatch, got \(error)"); return }
        }
    }

    @Test func corruptZstdData() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var (_, bytes) = try sampleBag(dir, compression: .zstd)
        let headerLength = Int(bytes[9]) | Int(bytes[10]) << 8
        let chunkAt = 8 + 9 + headerLength
        let recordsAt = chunkAt + 9 + 8 + 8 + 8 + 4 + 4 + 4 + 8
        for i in 0..<16 { bytes[recordsAt + i] ^= 0xA5 }
        let path = try write(bytes, dir, "zstd.mcap")
        #expect(throws: BagError.self) { _ = try readAll(path) }
    }

    @Test func summaryCRCMismatch() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var (_, bytes) = try sampleBag(dir)
        // Flip a byte in the summary (just before the footer's 37-byte tail).
        bytes[bytes.count - 8 - 29 - 30] ^= 0x01
        let path = try write(bytes, dir, "summary.mcap")
        do {
            _ = try BagReader(path: path).readSummary()
            Issue.record("summary CRC mismatch not detected")
        } catch {
            guard case .crcMismatch = error else { Issue.record("expected .crcMismatch, got \(error)"); return }
        }
    }

    @Test func randomGarbageNeverCrashes() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (_, good) = try sampleBag(dir, compression: .lz4)
        var state: UInt64 = 12345
        for round in 0..<40 {
            var bytes = good
            for _ in 0..<8 {
                state = state &* 6_364_136_223_846_793_005 &+ 1
                let at = 8 + Int(state >> 33) % (bytes.count - 8)
                bytes[at] = UInt8(truncatingIfNeeded: state >> 17)
            }
            let path = try write(bytes, dir, "garbage\(round).mcap")
            // Either reads (the flip hit a harmless spot) or fails with a typed error.
            _ = try? readAll(path)
        }
    }
}
