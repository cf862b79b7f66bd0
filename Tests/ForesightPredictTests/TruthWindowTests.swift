import Testing
import ForesightPredict
import ForesightWire

/// A long-running consumer (the live view) keeps a bounded window of truth.
@Suite struct TruthWindowTests {
    @Test func removeAllBeforeKeepsOnlyTheWindow() {
        var truth = TruthTimeline(tolerance: 10)
        for k in 0..<1_000 {
            let header = Header(stamp: Int64(k) * 100, seq: UInt32(k), frameID: "ue")
            truth.insert(TruthUE(header: header, east: Double(k), north: 0, velocityEast: 1, velocityNorth: 0, heading: 0))
            truth.insert(TruthBlockage(header: header, blocked: k % 2 == 0))
        }
        #expect(truth.newestStamp == 99_900)
        truth.removeAll(before: 90_000)
        #expect(truth.counts.ue == 100 && truth.counts.blockage == 100)
        #expect(truth.ue(near: 89_900) == nil)
        #expect(truth.ue(near: 90_000)?.east == 900)
        #expect(truth.blockage(near: 99_900)?.blocked == false)
        truth.removeAll(before: 1_000_000)
        #expect(truth.counts.ue == 0 && truth.newestStamp == nil)
    }
}
