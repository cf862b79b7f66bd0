import Foundation
import Testing
@testable import ForesightBag

@Suite struct BagRecoveryTests {
    @Test(arguments: [0.3, 0.55, 0.8, 0.97])
    func cutOffFileIsRecoveredAndReadableByPython(fraction: Double) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.mcap").path
        let items = SampleStream.make(count: 400)
        _ = try SampleStream.write(items, to: good, options: BagWriterOptions(compression: .zstd, chunkSize: 8 << 10))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let cut = dir.appendingPathComponent("cut.mcap").path
        try bytes.prefix(Int(Double(bytes.count) * fraction)).write(to: URL(fileURLWithPath: cut))

        // The Python reader refuses the cut file …
        #expect(try python("mcap_check.py", [cut]).status != 0)
        // … and accepts the recovered one.
        let fixed = dir.appendingPathComponent("fixed.mcap").path
        let report = try BagRecovery.recover(input: cut, output: fixed)
        #expect(report.chunksKept > 0)
        #expect(report.messagesKept > 0 && report.messagesKept < 400)
        let result = try python("mcap_check.py", [fixed])
        #expect(result.status == 0, "python rejected the recovered file: \(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        let messages = oracleMessages(json?["messages"])
        #expect(UInt64(messages.count) == report.messagesKept)
        // What was kept is exactly a prefix of what was written.
        let expected = items.prefix(messages.count).map {
            OracleMessage(topic: $0.topic, logTime: $0.logTime, publishTime: $0.publishTime,
                          sequence: $0.sequence, sha256: sha256Hex($0.data))
        }
        #expect(messages == Array(expected))
    }

    @Test func completeFileRecoversToTheSameMessages() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.mcap").path
        _ = try SampleStream.write(SampleStream.make(count: 100), to: good, options: BagWriterOptions(compression: .lz4, chunkSize: 4 << 10))
        let fixed = dir.appendingPathComponent("fixed.mcap").path
        let report = try BagRecovery.recover(input: good, output: fixed)
        #expect(report.messagesKept == 100)
        #expect(report.bytesDropped == 0)
        #expect(report.corruptChunksSkipped == 0)
        #expect(try BagReader(path: fixed).info().summary.messageCount == 100)
    }

    @Test func unchunkedPythonFileWithAttachmentRecovers() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let py = dir.appendingPathComponent("py.mcap").path
        #expect(try python("mcap_write.py", [py, "none", "--unchunked"]).status == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: py))
        let cut = dir.appendingPathComponent("cut.mcap").path
        try bytes.prefix(bytes.count * 3 / 4).write(to: URL(fileURLWithPath: cut))
        let fixed = dir.appendingPathComponent("fixed.mcap").path
        let report = try BagRecovery.recover(input: cut, output: fixed)
        #expect(report.messagesKept > 10)
        #expect(report.attachmentsSkipped == 1)
        #expect(report.metadataKept == 1)
        #expect(try python("mcap_check.py", [fixed]).status == 0)
    }

    @Test func recoveryRejectsNonMCAP() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.mcap").path
        try Data("not an mcap file at all".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: BagError.badMagic(path: path, atEnd: false)) {
            _ = try BagRecovery.recover(input: path, output: dir.appendingPathComponent("y.mcap").path)
        }
    }
}
