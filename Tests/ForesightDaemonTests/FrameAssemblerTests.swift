import Foundation
import Testing
import ForesightTestSupport
@testable import ForesightDaemon
import ForesightWire

/// The daemon's ingest side without sockets: anchored stream time, future stamps, rogue
/// restarts (the socket-level shapes are in RigTimingTests).
@Suite struct FrameAssemblerTests {
    static let ms: Int64 = 1_000_000
    static let start: Int64 = 1_767_225_600_000_000_000

    static func assembler() throws -> (FrameAssembler, WireCounters) {
        let launch = try TestLaunch().configuration()  // deadline 200 ms, lower bound 85 ms
        let counters = WireCounters()
        return (try FrameAssembler(launch: launch, counters: counters), counters)
    }

    /// Feeds one set (five sensors, stamps staggered by 5 ms) received at `receive`.
    static func feed(_ assembler: inout FrameAssembler, seq: UInt32, stamp: Int64, receive: Int64,
                     skip: Set<String> = []) -> [FrameHeader] {
        var contexts: [FrameHeader] = []
        for (topic, payload) in SyntheticSensors.messages(seq: seq, stamp: stamp, skip: skip) {
            contexts += assembler.accept(frames: [Array(topic.utf8), payload], receiveTime: receive).frames.map(\.header)
        }
        return contexts
    }

    @Test func streamTimeIsAnchoredAndNeverAccumulates() throws {
        var (assembler, _) = try Self.assembler()
        #expect(Self.feed(&assembler, seq: 0, stamp: Self.start, receive: 5 * Self.ms).count == 1)
        let newest = Self.start + 20 * Self.ms  // beam power, the last stamp of the set
        #expect(assembler.streamTime(at: 5 * Self.ms + 50 * Self.ms) == newest + 50 * Self.ms)
        // Ticks every 10 ms for a minute: each reading is measured from the same arrival, and
        // capped at twice the deadline.
        var frames = 0
        for k in 1...6_000 { frames += assembler.advance(at: 5 * Self.ms + Int64(k) * 10 * Self.ms).count }
        #expect(frames == 0)
        #expect(assembler.streamTime(at: 60_005 * Self.ms) == newest + 400 * Self.ms)
        #expect(assembler.synchronizer.streamTime == newest)
        // A paused replay resumes with the next stamps: complete frames straight away.
        for k in 1...3 {
            let out = Self.feed(&assembler, seq: UInt32(k), stamp: Self.start + Int64(k) * 100 * Self.ms,
                                receive: 60_010 * Self.ms + Int64(k) * 100 * Self.ms)
            #expect(out.count == 1 && out.first?.missing == [], "set \(k): \(out.map(\.missing))")
        }
    }

    @Test func futureStampsAreRejectedBeforeTheyChangeAnything() throws {
        var (assembler, counters) = try Self.assembler()
        _ = Self.feed(&assembler, seq: 0, stamp: Self.start, receive: 0)
        // A camera glitch 3 s, 30 s and an hour ahead (next seq each time).
        for (n, ahead) in [3_000, 30_000, 3_600_000].enumerated() {
            let glitch = SyntheticSensors.messages(seq: UInt32(1 + n), stamp: Self.start + Int64(ahead) * Self.ms)[0]
            let out = assembler.accept(frames: [Array(glitch.0.utf8), glitch.1], receiveTime: 10 * Self.ms)
            #expect(out.rejection?.reason == .stampFuture)
        }
        #expect(counters.rejected(topic: "sensor/camera", reason: .stampFuture) == 3)
        #expect(assembler.synchronizer.streamTime == Self.start + 20 * Self.ms)
        // The camera's next good message is accepted (its previous stamp was not replaced).
        let out = Self.feed(&assembler, seq: 4, stamp: Self.start + 100 * Self.ms, receive: 100 * Self.ms)
        #expect(out.count == 1 && out.first?.missing == [])
        #expect(counters.rejected(topic: "sensor/camera", reason: .stampNotIncreasing) == 0)
    }

    /// A replay restarted from the beginning (every topic back to seq 0 and old stamps): after
    /// the silence threshold (1 s) of nothing but late messages the synchronizer resynchronizes,
    /// and complete frames resume.
    @Test func aRestartedReplayResynchronizesAfterTheSilenceThreshold() throws {
        var (assembler, _) = try Self.assembler()
        var complete = 0
        for k in 0..<20 {
            let out = Self.feed(&assembler, seq: UInt32(k), stamp: Self.start + Int64(k) * 100 * Self.ms, receive: Int64(k) * 100 * Self.ms)
            complete += out.filter { $0.missing.isEmpty }.count
        }
        #expect(complete == 20)
        var after: [FrameHeader] = []
        for k in 0..<30 {
            after += Self.feed(&assembler, seq: UInt32(k), stamp: Self.start + Int64(k) * 100 * Self.ms,
                               receive: 2_000 * Self.ms + Int64(k) * 100 * Self.ms)
        }
        let resumed = after.filter { $0.missing.isEmpty }
        #expect(resumed.count >= 17, "\(after.map(\.missing))")  // 30 sets minus ~1.1 s of late ones
        #expect(resumed.last?.stamp == Self.start + 2_900 * Self.ms + 20 * Self.ms)
    }

    @Test func aRogueRestartOnOneTopicDoesNotResynchronizeTheOthers() throws {
        var (assembler, _) = try Self.assembler()
        _ = Self.feed(&assembler, seq: 0, stamp: Self.start + 5_000 * Self.ms, receive: 0)
        // Half of the next set, then a LiDAR message with seq 0 and a stamp 5 s old.
        var out = Self.feed(&assembler, seq: 1, stamp: Self.start + 5_100 * Self.ms, receive: 100 * Self.ms,
                            skip: ["lidar", "gnss", "beam_power"])
        let rogue = SyntheticSensors.messages(seq: 0, stamp: Self.start)[2]
        #expect(rogue.0 == "sensor/lidar")
        out += assembler.accept(frames: [Array(rogue.0.utf8), rogue.1], receiveTime: 101 * Self.ms).frames.map(\.header)
        out += Self.feed(&assembler, seq: 1, stamp: Self.start + 5_100 * Self.ms, receive: 102 * Self.ms,
                         skip: ["camera", "radar"])
        // The pending half set was not flushed: the set comes out complete.
        #expect(out.count == 1 && out.first?.missing == [], "\(out.map(\.missing))")
        #expect(assembler.synchronizer.counters.topics[2].late == 1)
    }
}
