import Foundation
import Testing
@testable import ForesightBag

@Suite struct BagRecorderTests {
    private let schema: @Sendable (String) -> BagTopicSchema? = { topic in
        topic.hasPrefix("sensor/") ? BagTopicSchema(name: "foresight.Test", encoding: "jsonschema", data: Array("{}".utf8)) : nil
    }

    @Test func recordsFromSeveralThreadsFaithfully() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("rec.mcap").path
        let recorder = try BagRecorder(path: path, options: BagWriterOptions(chunkSize: 16 << 10),
                                       metadata: ["endpoints": "tcp://x:1"], schemaFor: schema)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in 0..<250 {
                let stamp = Int64(1_000_000 + worker * 1_000 + i)
                recorder.submit(topic: worker == 3 ? "debug/x" : "sensor/t\(worker)",
                                payload: wirePayload(stamp: stamp, seq: UInt32(i), blob: 100 + i),
                                receiveTime: UInt64(2_000_000 + worker * 10_000 + i * 7))
            }
        }
        let stats = recorder.finish()
        #expect(stats.received == 1000)
        #expect(stats.written == 1000)
        #expect(stats.dropped == 0)
        #expect(stats.error == nil)
        #expect(stats.files == [path])

        let reader = try BagReader(path: path)
        let info = try reader.info()
        #expect(info.summary.messageCount == 1000)
        #expect(info.summary.metadataCount == 1)
        #expect(info.topics.map(\.topic) == ["debug/x", "sensor/t0", "sensor/t1", "sensor/t2"])
        #expect(info.topics.map(\.schemaName) == ["", "foresight.Test", "foresight.Test", "foresight.Test"])
        let cursor = try reader.messages()
        var n = 0
        while let e = try cursor.next() {
            let header = try #require(PayloadHeader.peek(e.message.data))
            #expect(e.message.publishTime == UInt64(header.stamp))
            #expect(e.message.sequence == header.seq)
            #expect(e.channel.messageEncoding == "msgpack")
            n += 1
        }
        #expect(n == 1000)
        #expect(try python("mcap_check.py", [path]).status == 0)
    }

    @Test func dropsAndCountsWhenTheBufferIsFull() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("drop.mcap").path
        let recorder = try BagRecorder(path: path, bufferLimit: 1_000, schemaFor: schema)
        #expect(recorder.submit(topic: "sensor/a", payload: wirePayload(stamp: 1, seq: 1, blob: 100), receiveTime: 1))
        // Larger than the whole bound: can never fit, must be dropped without blocking.
        #expect(!recorder.submit(topic: "sensor/a", payload: wirePayload(stamp: 2, seq: 2, blob: 2_000), receiveTime: 2))
        let stats = recorder.finish()
        #expect(stats.received == 2)
        #expect(stats.written == 1)
        #expect(stats.dropped == 1)
        #expect(stats.droppedBytes > 2_000)
        #expect(!recorder.submit(topic: "sensor/a", payload: [0x80], receiveTime: 3))
        #expect(try BagReader(path: path).info().summary.messageCount == 1)
    }

    @Test func splitsBySizeIntoValidFiles() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("split.mcap").path
        let recorder = try BagRecorder(path: path, options: BagWriterOptions(compression: .none, chunkSize: 8 << 10),
                                       split: BagSplitPolicy(maxBytes: 40_000), schemaFor: schema)
        for i in 0..<200 {
            recorder.submit(topic: "sensor/a", payload: wirePayload(stamp: Int64(i), seq: UInt32(i), blob: 900), receiveTime: UInt64(i))
        }
        let stats = recorder.finish()
        #expect(stats.files.count >= 4)
        #expect(stats.files.first == dir.appendingPathComponent("split_0000.mcap").path)
        var total: UInt64 = 0
        for file in stats.files {
            let summary = try BagReader(path: file).info().summary
            total += summary.messageCount
            #expect(try BagReader(path: file).fileSize <= 40_000 + 16 << 10)
        }
        #expect(total == 200)
    }

    @Test func splitsByDuration() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("dur.mcap").path
        let recorder = try BagRecorder(path: path, split: BagSplitPolicy(maxDuration: 1_000_000_000), schemaFor: schema)
        for i in 0..<50 {  // 100 ms apart: 5 s in all
            recorder.submit(topic: "sensor/a", payload: wirePayload(stamp: Int64(i), seq: UInt32(i)), receiveTime: UInt64(i) * 100_000_000)
        }
        let stats = recorder.finish()
        #expect(stats.files.count == 5)
        for file in stats.files { #expect(try BagReader(path: file).info().summary.messageCount == 10) }
    }
}
