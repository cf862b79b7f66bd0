import ForesightCore
import Foundation
import Testing
@testable import ForesightPredict

@Suite struct CTRVTests {
    func track(speed: Double, heading: Double, yawRate: Double, frames: Int, sigma: Double = 0,
               drop: Set<Int> = [], seed: UInt64 = 1, filterSigma: Double = 0.5) -> (PredictionSet, [SIMD2<Double>]) {
        var rng = SeededGenerator(state: seed)
        let start = SIMD2<Double>(-20, 30)
        let history = Fixture.stamps(frames: frames).enumerated().map { i, stamp -> FrameView in
            let p = Fixture.ctrv(start: start, speed: speed, heading: heading, yawRate: yawRate, t: Fixture.seconds(stamp))
            let noisy = p + SIMD2(rng.gaussian(), rng.gaussian()) * sigma
            return FrameView(stamp: stamp, gnss: drop.contains(i) ? nil : noisy)
        }
        let horizon = Fixture.horizon(after: frames)
        let truth = horizon.map { Fixture.ctrv(start: start, speed: speed, heading: heading, yawRate: yawRate, t: Fixture.seconds($0)) }
        return (Fixture.predictor(gnssSigma: filterSigma).predict(history: history, horizon: horizon), truth)
    }

    func errors(_ set: PredictionSet, _ truth: [SIMD2<Double>]) -> [Double] {
        zip(set.steps, truth).map { s, t in ((s.east - t.x) * (s.east - t.x) + (s.north - t.y) * (s.north - t.y)).squareRoot() }
    }

    @Test func straightLineIsExtrapolated() {
        let (set, truth) = track(speed: 10, heading: 0.5, yawRate: 0, frames: 8)
        let e = errors(set, truth)
        #expect(set.model == "classical-ctrv")
        #expect(set.positionKnown)
        #expect(e.count == 5)
        #expect(e.max()! < 0.05, "errors \(e)")
    }

    @Test func constantTurnIsTracked() {
        // 8 m/s on a 20 m radius (0.4 rad/s), 20 clean fixes: the filter must learn the turn rate.
        let (set, truth) = track(speed: 8, heading: 0.2, yawRate: 0.4, frames: 20)
        let e = errors(set, truth)
        // Constant velocity would be off by ½·v·ω·t² = 0.4 m at 0.5 s; the CTRV filter must do much better.
        #expect(e.last! < 0.15, "errors \(e)")
    }

    @Test func turnWithDefaultWindowBeatsStraightLine() {
        // 8 frames (0.7 s) of a 0.4 rad/s turn: only a filter told the fixes are precise (σ = 5 cm)
        // can separate the curvature from noise; it must beat constant velocity (0.4 m at 0.5 s).
        let (set, truth) = track(speed: 8, heading: 0.2, yawRate: 0.4, frames: 8, filterSigma: 0.05)
        let e = errors(set, truth)
        #expect(e.last! < 0.15, "errors \(e)")
    }

    @Test func missingFixesArePredictedThrough() {
        let (set, truth) = track(speed: 12, heading: -1.0, yawRate: 0, frames: 8, drop: [2, 3, 4, 7])
        let e = errors(set, truth)
        #expect(set.positionKnown)
        #expect(e.max()! < 0.1, "errors \(e)")
    }

    @Test func noisyFixesStayWithinAFewMetres() {
        var fde: [Double] = []
        for seed in 1...20 as ClosedRange<UInt64> {
            let (set, truth) = track(speed: 10, heading: 2.0, yawRate: 0.1, frames: 8, sigma: 0.5, seed: seed)
            fde.append(errors(set, truth).last!)
        }
        let mean = fde.reduce(0, +) / Double(fde.count)
        #expect(mean < 2.0, "mean FDE \(mean) m over 20 noisy tracks")
    }

    @Test func singleFixHoldsPosition() {
        let history = [FrameView(stamp: Fixture.t0, gnss: SIMD2(3, 4))]
        let set = Fixture.predictor().predict(history: history, horizon: Fixture.horizon(after: 1))
        #expect(set.positionKnown)
        #expect(set.steps.allSatisfy { abs($0.east - 3) < 1e-9 && abs($0.north - 4) < 1e-9 })
    }

    @Test(arguments: [0.0, 1e-6, 0.3, -0.7])
    func jacobianMatchesFiniteDifferences(yawRate: Double) {
        let s = CTRVState(x: 1, y: -2, v: 7, yaw: 0.8, yawRate: yawRate)
        let dt = 0.3
        let f = s.jacobian(dt: dt)
        let h = 1e-6
        for c in 0..<5 {
            var plus = s, minus = s
            switch c {
            case 0: plus.x += h; minus.x -= h
            case 1: plus.y += h; minus.y -= h
            case 2: plus.v += h; minus.v -= h
            case 3: plus.yaw += h; minus.yaw -= h
            default: plus.yawRate += h; minus.yawRate -= h
            }
            let a = plus.propagated(by: dt), b = minus.propagated(by: dt)
            let numeric = [(a.x - b.x), (a.y - b.y), (a.v - b.v), (a.yaw - b.yaw), (a.yawRate - b.yawRate)].map { $0 / (2 * h) }
            for r in 0..<5 {
                // Around the straight-line switch the finite difference straddles two formulas: looser bound.
                let tol = abs(yawRate) < 1e-3 ? 2e-2 : 1e-5
                #expect(abs(numeric[r] - f[r, c]) < tol, "∂\(r)/∂\(c): numeric \(numeric[r]) vs analytic \(f[r, c])")
            }
        }
    }

    @Test func predictionIsDeterministic() {
        let a = track(speed: 9, heading: 1, yawRate: 0.2, frames: 8, sigma: 0.3, seed: 7).0
        let b = track(speed: 9, heading: 1, yawRate: 0.2, frames: 8, sigma: 0.3, seed: 7).0
        #expect(a == b)
    }
}


@Suite struct RobustnessTests {
    @Test func historyOrderDoesNotMatter() {
        let predictor = Fixture.predictor()
        let history = Fixture.stamps(frames: 8).map { s in
            FrameView(stamp: s, gnss: SIMD2(-5 + 8 * Fixture.seconds(s), 12))
        }
        let horizon = Fixture.horizon(after: 8)
        #expect(predictor.predict(history: history.reversed(), horizon: horizon) == predictor.predict(history: history, horizon: horizon))
    }

    @Test func nonFiniteFixesAreIgnored() throws {
        let predictor = Fixture.predictor()
        var history = Fixture.stamps(frames: 8).map { s in
            FrameView(stamp: s, gnss: SIMD2(-5 + 8 * Fixture.seconds(s), 12))
        }
        history[3].gnss = SIMD2(.nan, 12)
        history[5].gnss = SIMD2(0, .infinity)
        let set = predictor.predict(history: history, horizon: Fixture.horizon(after: 8))
        try set.validate()
        #expect(abs(set.steps[4].east - (-5 + 8 * 1.2)) < 0.1)
    }

    @Test func fitInitializationNeedsTwoDistinctStamps() {
        let noise = MotionNoise()
        #expect(CTRVFilter(fit: [(stamp: 5, position: SIMD2(0, 0))], noise: noise) == nil)
        #expect(CTRVFilter(fit: [(stamp: 5, position: SIMD2(0, 0)), (stamp: 5, position: SIMD2(1, 0))], noise: noise) == nil)
        let f = CTRVFilter(fit: [(stamp: 0, position: SIMD2(0, 0)), (stamp: 500_000_000, position: SIMD2(0, 5))], noise: noise)
        #expect(f.map { abs($0.state.v - 10) < 1e-9 && abs($0.state.yaw - Double.pi / 2) < 1e-9 } == true)
    }
}
