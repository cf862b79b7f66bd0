import Foundation
import Testing
@testable import ForesightBag

@Suite struct BagPlayerTests {
    /// A bag with `count` messages 2 ms apart on two topics, stamps = log time − 500 µs.
    private func makeBag(_ dir: URL, count: Int = 40) throws -> String {
        let path = dir.appendingPathComponent("play.mcap").path
        let writer = try BagWriter(path: path, options: BagWriterOptions(chunkSize: 2 << 10))
        let a = try writer.addChannel(topic: "sensor/a", messageEncoding: "msgpack", schemaID: 0)
        let b = try writer.addChannel(topic: "sensor/b", messageEncoding: "msgpack", schemaID: 0)
        for i in 0..<count {
            let log = 1_000_000_000_000 + UInt64(i) * 2_000_000
            let stamp = Int64(log) - 500_000
            try writer.write(channelID: i % 2 == 0 ? a : b, sequence: UInt32(i), logTime: log, publishTime: UInt64(stamp),
                             data: wirePayload(stamp: stamp, seq: UInt32(i), blob: 32))
        }
        try writer.finish()
        return path
    }

    @Test func asFastAsPossiblePublishesEverythingInOrder() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let player = try BagPlayer(path: try makeBag(dir), options: BagReplayOptions(asFastAsPossible: true))
        var got: [(String, Int64)] = []
        let stats = try player.run { topic, payload in got.append((topic, PayloadHeader.peek(payload)?.stamp ?? -1)) }
        #expect(stats.published == 40)
        let expectedStamps: [Int64] = (0..<40).map { (i: Int) -> Int64 in 1_000_000_000_000 + Int64(i) * 2_000_000 - 500_000 }
        let expectedTopics: [String] = (0..<40).map { (i: Int) -> String in i % 2 == 0 ? "sensor/a" : "sensor/b" }
        #expect(got.map(\.1) == expectedStamps)
        #expect(got.map(\.0) == expectedTopics)
    }

    @Test func timedReplayKeepsOrderAndFiltersTopics() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let player = try BagPlayer(path: try makeBag(dir, count: 20), options: BagReplayOptions(rate: 4)) { $0.topic == "sensor/b" }
        var seqs: [UInt32] = []
        let stats = try player.run(recordLateness: true) { _, payload in seqs.append(PayloadHeader.peek(payload)?.seq ?? 0) }
        #expect(seqs == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19])
        #expect(stats.lateness.count == 10)
        #expect(stats.lateness.allSatisfy { $0 >= 0 })  // never early
    }

    @Test func loopShiftsStampsSoTimeKeepsIncreasing() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let player = try BagPlayer(path: try makeBag(dir, count: 10), options: BagReplayOptions(loop: true, asFastAsPossible: true))
        var stamps: [Int64] = []
        let stats = try player.run(shouldStop: { stamps.count >= 30 }) { _, payload in
            stamps.append(PayloadHeader.peek(payload)?.stamp ?? 0)
        }
        #expect(stamps.count == 30)
        #expect(stats.passes == 3)
        #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0 < $1 })
        #expect(stamps[10] - stamps[0] == 20_000_000)  // span 18 ms + one mean gap 2 ms
    }

    @Test func restampMovesStampsToNowAndStartOffsetSkips() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = Int64(realtimeNow())
        let player = try BagPlayer(path: try makeBag(dir), options: BagReplayOptions(startOffset: 0.04, duration: 0.01,
                                                                                      asFastAsPossible: true, restamp: true))
        var stamps: [Int64] = []
        _ = try player.run { _, payload in stamps.append(PayloadHeader.peek(payload)?.stamp ?? 0) }
        #expect(stamps.count == 5)  // log times in [40, 50) ms after the start: messages 20…24
        #expect(stamps.allSatisfy { $0 >= before - 1_000_000 && $0 < before + 60_000_000_000 })
        #expect(stamps[1] - stamps[0] == 2_000_000)
    }

    @Test func rejectsBadOptions() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try makeBag(dir)
        #expect(throws: BagError.self) { _ = try BagPlayer(path: path, options: BagReplayOptions(rate: 0)) }
        #expect(throws: BagError.self) { _ = try BagPlayer(path: path, options: BagReplayOptions(startOffset: -1)) }
    }
}
