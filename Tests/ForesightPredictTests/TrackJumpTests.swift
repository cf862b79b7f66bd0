import ForesightCore
import Foundation
import Testing
@testable import ForesightPredict

@Suite struct TrackJumpTests {
    /// A UE leaving the street at the west end (east −110 m, driving west at 10 m/s) and re-entering at
    /// the east end (+110 m) after frame `jumpAt`, as the simulator's UE starts a new pass.
    func history(jumpAt: Int) -> [FrameView] {
        Fixture.stamps(frames: 8).enumerated().map { k, s in
            let east = k < jumpAt ? -106 - 10 * Fixture.seconds(s) : 110 - 10 * (Fixture.seconds(s) - 0.1 * Double(jumpAt))
            return FrameView(stamp: s, gnss: SIMD2(east, 12))
        }
    }

    func predictor(maxSpeed: Double) throws -> ClassicalPredictor {
        var c = Fixture.configuration()
        c.maxSpeed = maxSpeed
        return try ClassicalPredictor(configuration: c)
    }

    @Test func theTrackRestartsAfterAJump() throws {
        let horizon = Fixture.horizon(after: 8)
        for jumpAt in [2, 5, 7] {
            let history = history(jumpAt: jumpAt)
            let newest = try #require(history.last?.gnss)
            let set = try predictor(maxSpeed: 70).predict(history: history, horizon: horizon)
            for (k, step) in set.steps.enumerated() {
                // After the jump the UE is near the east end, moving west (or held there with one fix).
                let expected = newest.x - (jumpAt == 7 ? 0 : 10 * 0.1 * Double(k + 1))
                #expect(abs(step.east - expected) < 1.5 && abs(step.north - 12) < 1, "jump after \(jumpAt), step \(k): \(step.east)")
            }
            // Without jump handling the filter fits one velocity across the 216 m jump.
            let unguarded = try predictor(maxSpeed: .infinity).predict(history: history, horizon: horizon)
            let worst = unguarded.steps.map { abs($0.east - newest.x) + abs($0.north - 12) }.max() ?? 0
            #expect(worst > 10, "jump after \(jumpAt): unguarded worst \(worst)")
        }
    }

    @Test func ordinaryNoiseIsNoJump() throws {
        // 1 m of noise between fixes 100 ms apart is far below 70 m/s × 0.1 s + 5 m.
        var rng = SeededGenerator(state: 5)
        let history = Fixture.stamps(frames: 8).map { s in
            FrameView(stamp: s, gnss: SIMD2(10 * Fixture.seconds(s) + rng.gaussian(), 12 + rng.gaussian()))
        }
        let p = try predictor(maxSpeed: 70)
        #expect(p.afterLastJump(history.map { ($0.stamp, $0.gnss) }).allSatisfy { $0.position != nil })
    }
}
