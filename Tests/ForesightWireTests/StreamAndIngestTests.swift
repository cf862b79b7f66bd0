import Foundation
import Testing
import ForesightTestSupport
@testable import ForesightWire

@Suite struct StreamMonitorTests {
    func h(_ stamp: Int64, _ seq: UInt32) -> Header { Header(stamp: stamp, seq: seq, frameID: "f") }

    @Test func stampsMustIncrease() throws {
        var m = StreamMonitor()
        _ = try m.observe(topic: "a", header: h(100, 1)).get()
        #expect(throws: WireError.self) { try m.observe(topic: "a", header: h(100, 2)).get() }  // repeat
        #expect(throws: WireError.self) { try m.observe(topic: "a", header: h(50, 3)).get() }   // backwards
        // State is untouched by rejections; other topics are independent.
        #expect(try m.observe(topic: "a", header: h(101, 2)).get() == StreamObservation())
        #expect(try m.observe(topic: "b", header: h(1, 9)).get() == StreamObservation())
    }

    @Test func gapsResetsWrapsAndClockJumps() throws {
        var m = StreamMonitor(clockJumpBound: 10_000_000_000)
        _ = try m.observe(topic: "a", header: h(0, 10)).get()
        #expect(try m.observe(topic: "a", header: h(1, 13)).get().gap == 2)
        let jump = try m.observe(topic: "a", header: h(20_000_000_000, 14)).get()
        #expect(jump.clockJump && jump.gap == 0)
        let reset = try m.observe(topic: "a", header: h(5, 0)).get()  // restarted replay: seq 0, stamp back
        #expect(reset.publisherReset && reset.clockJump)
        _ = try m.observe(topic: "w", header: h(1, .max)).get()
        #expect(try m.observe(topic: "w", header: h(2, 0)).get() == StreamObservation())  // legal wrap
    }

    @Test func ingestCountsEveryRejectionUnderItsName() {
        var ingest = WireIngest(routes: WireIngest.defaultRoutes([.gnssFix, .image], prefix: "bs1/"))
        let good = GnssFix(header: h(10, 0), lat: 1, lon: 2, alt: 3, hdop: 1, fix: .threeD)
        #expect((try? ingest.accept(frames: [Array("bs1/sensor/gnss".utf8), good.encoded()]).get()) != nil)
        _ = ingest.accept(frames: [Array("bs1/sensor/gnss".utf8), good.encoded()])             // duplicate stamp
        _ = ingest.accept(frames: [Array("bs1/sensor/gnss".utf8)])                              // one frame
        _ = ingest.accept(frames: [Array("bs1/sensor/gnss".utf8), [], []])                      // three frames
        _ = ingest.accept(frames: [Array("bs1/sensor/gnss_raw".utf8), good.encoded()])          // exact topics
        _ = ingest.accept(frames: [Array("bs1/sensor/camera".utf8), good.encoded()])            // missing fields
        let c = ingest.counters
        #expect(c.rejected(topic: "bs1/sensor/gnss", reason: .stampNotIncreasing) == 1)
        #expect(c.rejected(topic: "bs1/sensor/gnss", reason: .framing) == 2)
        // Unconfigured topics share one counter: junk names cannot grow the counters.
        #expect(c.rejected(topic: "bs1/sensor/gnss_raw", reason: .unknownTopic) == 0)
        #expect(c.rejected(topic: WireCounters.unknownTopicLabel, reason: .unknownTopic) == 1)
        _ = ingest.accept(frames: [Array("bs1/sensor/gnss/left".utf8), good.encoded()])
        _ = ingest.accept(frames: [Array(("bs1/sensor/gnss" + String(repeating: "x", count: 1000)).utf8), good.encoded()])
        #expect(c.rejected(topic: WireCounters.unknownTopicLabel, reason: .unknownTopic) == 3)
        #expect(c.rejectionSnapshot().count == 4)
        #expect(c.rejected(topic: "bs1/sensor/camera", reason: .missingField) == 1)
        #expect(c.rejectionSnapshot().map(\.count).reduce(0, +) == 7)
    }
}

@Suite struct SchemaTests {
    @Test func committedSchemasMatchTheCode() throws {
        for type in MessageType.allCases {
            let path = TestSupport.path("docs/schemas/\(type.name).json")
            let committed = try String(contentsOfFile: path, encoding: .utf8)
            #expect(committed == type.jsonSchema + "\n", "\(path) is stale: run `foresight schema --write docs/schemas`")
            let object = try JSONSerialization.jsonObject(with: Data(type.jsonSchema.utf8)) as? [String: Any]
            #expect(object?["title"] as? String == type.name)
        }
    }
}
