import Foundation
import Testing
@testable import ForesightBag

/// Cross-checks with the official Python `mcap` package (Tools/mcap_check.py, Tools/mcap_write.py).
@Suite struct BagInteropTests {
    @Test(arguments: BagCompression.allCases)
    func pythonReaderReadsOurFiles(compression: BagCompression) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ours.mcap").path
        let items = SampleStream.make(count: 240)
        let written = try SampleStream.write(items, to: path, options: BagWriterOptions(compression: compression, chunkSize: 16 << 10))
        let result = try python("mcap_check.py", [path])
        #expect(result.status == 0, "python reader rejected the file: \(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        let messages = oracleMessages(json?["messages"])
        let expected = items.map { OracleMessage(topic: $0.topic, logTime: $0.logTime, publishTime: $0.publishTime,
                                                 sequence: $0.sequence, sha256: sha256Hex($0.data)) }
        #expect(messages == expected)
        #expect((json?["stream_count"] as? Int) == items.count)
        #expect((json?["compressions"] as? [String]) == [compression.mcapName])
        let summary = json?["summary"] as? [String: Any]
        #expect((summary?["chunk_indexes"] as? Int) == written.chunkCount)
        let stats = summary?["statistics"] as? [String: Any]
        #expect((stats?["message_count"] as? Int) == items.count)
        let schemas = (summary?["schemas"] as? [String: [String: String]])?.values.map { $0["name"] ?? "" }.sorted()
        #expect(schemas == ["GnssFix", "Image", "RadarCube"])
        let encodings = Set((summary?["channels"] as? [String: [String: Any]])?.values.compactMap { $0["message_encoding"] as? String } ?? [])
        #expect(encodings == ["msgpack"])
    }

    @Test(arguments: ["zstd", "lz4", "none", "unchunked"])
    func weReadPythonFiles(mode: String) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("py.mcap").path
        let args = mode == "unchunked" ? [path, "none", "--unchunked"] : [path, mode]
        let result = try python("mcap_write.py", args)
        #expect(result.status == 0, "python writer failed: \(result.stderr)")
        let expected = oracleMessages(try JSONSerialization.jsonObject(with: result.stdout))
        #expect(expected.count == 50)

        let reader = try BagReader(path: path)
        let info = try reader.info()
        #expect(info.summary.messageCount == 50)
        #expect(info.summary.attachmentCount == 1)
        #expect(info.summary.metadataCount == 1)
        #expect(info.topics.map(\.topic) == ["sensor/camera", "sensor/gnss"])
        #expect(info.topics.map(\.messageCount) == [17, 33])

        let cursor = try reader.messages()
        var got: [OracleMessage] = []
        while let e = try cursor.next() {
            got.append(OracleMessage(topic: e.channel.topic, logTime: e.message.logTime, publishTime: e.message.publishTime,
                                     sequence: e.message.sequence, sha256: sha256Hex(e.message.data)))
        }
        #expect(got == expected)
    }
}
