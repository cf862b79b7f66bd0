import Foundation
import Testing
@testable import ForesightBag

@Suite struct BagRoundTripTests {
    @Test(arguments: BagCompression.allCases)
    func writeThenReadBack(compression: BagCompression) throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("rt.mcap").path
        let items = SampleStream.make(count: 300)
        let written = try SampleStream.write(items, to: path, options: BagWriterOptions(compression: compression, chunkSize: 8 << 10))
        #expect(written.messageCount == 300)
        #expect(written.chunkCount > 5)

        let reader = try BagReader(path: path)
        let info = try reader.info()
        #expect(info.summary.indexed)
        #expect(info.summary.messageCount == 300)
        #expect(info.summary.chunkCompressions.keys.sorted() == [compression.mcapName])
        #expect(info.topics.map(\.topic) == ["sensor/camera", "sensor/gnss", "sensor/radar"])
        #expect(info.topics.map(\.messageCount) == [100, 100, 100])
        #expect(info.topics.map(\.schemaName) == ["Image", "GnssFix", "RadarCube"])
        #expect(info.summary.startTime == items[0].logTime)
        #expect(info.summary.endTime == items[299].logTime)

        let cursor = try reader.messages()
        var got: [BagEntry] = []
        while let entry = try cursor.next() { got.append(entry) }
        #expect(got.count == items.count)
        for (entry, item) in zip(got, items) {
            #expect(entry.channel.topic == item.topic)
            #expect(entry.message.logTime == item.logTime)
            #expect(entry.message.publishTime == item.publishTime)
            #expect(entry.message.sequence == item.sequence)
            #expect(entry.message.data == item.data)
        }
    }

    @Test func outOfOrderWritesComeBackInLogTimeOrder() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ooo.mcap").path
        var items = SampleStream.make(count: 200, payload: 100)
        // Swap neighbours in blocks so chunks overlap in time.
        for i in stride(from: 0, to: items.count - 40, by: 40) { items.swapAt(i, i + 39) }
        _ = try SampleStream.write(items, to: path, options: BagWriterOptions(compression: .lz4, chunkSize: 2 << 10))
        let cursor = try BagReader(path: path).messages()
        var times: [UInt64] = []
        while let entry = try cursor.next() { times.append(entry.message.logTime) }
        #expect(times.count == 200)
        #expect(times == times.sorted())
    }

    @Test func filtersByTopicAndTime() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("f.mcap").path
        let items = SampleStream.make(count: 90)
        _ = try SampleStream.write(items, to: path, options: BagWriterOptions(chunkSize: 4 << 10))
        let start = items[30].logTime
        let end = items[59].logTime
        let cursor = try BagReader(path: path).messages(startTime: start, endTime: end) { $0.topic == "sensor/gnss" }
        var got: [UInt64] = []
        while let entry = try cursor.next() {
            #expect(entry.channel.topic == "sensor/gnss")
            got.append(entry.message.logTime)
        }
        let expected = items[30...59].filter { $0.topic == "sensor/gnss" }.map(\.logTime)
        #expect(got == expected)
    }

    @Test func emptyBagIsValid() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("empty.mcap").path
        let summary = try BagWriter(path: path).finish()
        #expect(summary.messageCount == 0)
        let info = try BagReader(path: path).info()
        #expect(info.summary.messageCount == 0)
        #expect(info.topics.isEmpty)
        #expect(try BagReader(path: path).messages().next() == nil)
    }

    @Test func writerRejectsMisuse() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = try BagWriter(path: dir.appendingPathComponent("m.mcap").path)
        #expect(throws: BagError.self) { try writer.write(channelID: 3, sequence: 0, logTime: 1, publishTime: 1, data: [1]) }
        #expect(throws: BagError.self) { _ = try writer.addChannel(topic: "x", messageEncoding: "msgpack", schemaID: 9) }
        try writer.finish()
        #expect(throws: BagError.self) { _ = try writer.addSchema(name: "a", encoding: "b", data: []) }
    }

    @Test func registrationIsIdempotent() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let writer = try BagWriter(path: dir.appendingPathComponent("i.mcap").path)
        let a = try writer.addSchema(name: "Image", encoding: "jsonschema", data: [1, 2])
        let b = try writer.addSchema(name: "Image", encoding: "jsonschema", data: [1, 2])
        let c = try writer.addSchema(name: "Image", encoding: "jsonschema", data: [1, 3])
        #expect(a == b && a != c && a != 0)
        let x = try writer.addChannel(topic: "t", messageEncoding: "msgpack", schemaID: a)
        let y = try writer.addChannel(topic: "t", messageEncoding: "msgpack", schemaID: a)
        #expect(x == y)
        try writer.finish()
    }

    @Test func metadataIsCountedAndSkippedByMessageReads() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("md.mcap").path
        let writer = try BagWriter(path: path)
        try writer.writeMetadata(name: "session", values: ["endpoint": "tcp://a:1"])
        let ch = try writer.addChannel(topic: "t", messageEncoding: "msgpack", schemaID: 0)
        try writer.write(channelID: ch, sequence: 1, logTime: 5, publishTime: 4, data: [0xC0])
        try writer.finish()
        let reader = try BagReader(path: path)
        #expect(try reader.info().summary.metadataCount == 1)
        let cursor = try reader.messages()
        #expect(try cursor.next()?.message.data == [0xC0])
        #expect(try cursor.next() == nil)
    }

    @Test func topicConvenienceRegistersOnce() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("topic.mcap").path
        let writer = try BagWriter(path: path)
        let schema = BagTopicSchema(name: "foresight.GnssFix", encoding: "jsonschema", data: Array("{}".utf8))
        for i in 0..<10 {
            try writer.write(topic: i % 2 == 0 ? "sensor/gnss" : "debug/raw", schema: i % 2 == 0 ? schema : nil,
                             sequence: UInt32(i), logTime: UInt64(100 + i), publishTime: UInt64(90 + i), data: [0x80])
        }
        try writer.finish()
        let info = try BagReader(path: path).info()
        #expect(info.summary.channels.count == 2)
        #expect(info.summary.schemas.count == 1)
        #expect(info.topics.map(\.topic) == ["debug/raw", "sensor/gnss"])
        #expect(info.topics.map(\.schemaName) == ["", "foresight.GnssFix"])
        #expect(info.topics.map(\.messageCount) == [5, 5])
    }
}
