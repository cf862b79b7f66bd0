import ForesightCore
import Foundation
import Testing
@testable import ForesightInference

/// The streaming API: key/value cache, reset, the actor on its own thread, input validation.
@Suite struct StreamingTests {
    let model: MultiTaskModel

    init() throws { model = try Fixture.model() }

    func frame(_ i: Int, missing: Set<Modality> = [], stamp: Int64? = nil) -> FrameView {
        let c = model.config
        var rng = TestRandom(UInt64(100 + i))
        // Drawn in the same order as before (camera, radar, lidar, beam power, dBm).
        let camera: [Float]? = missing.contains(.camera) ? nil : rng.array(c.vision.inputCount)
        let radar: [Float]? = missing.contains(.radar) ? nil : rng.array(c.radar.inputCount).map { abs($0) }
        let lidar: [Float]? = missing.contains(.lidar) ? nil : rng.array(c.lidar.inputCount)
        let power: [Float]? = missing.contains(.beamPower) ? nil : rng.array(c.numBeams)
        let dBm: [Float]? = missing.contains(.beamPower) ? nil : rng.array(c.numBeams).map { $0 * 10 - 70 }
        return FrameView(stamp: stamp ?? Int64(i) * 100_000_000,
                         gnss: missing.contains(.gnss) ? nil : SIMD2(Double(i), -2 * Double(i)), beamPowerDBm: dBm,
                         camera: camera, radarMap: radar, lidarDepth: lidar, beamPowerNormalized: power, missing: missing)
    }

    @Test("reset starts a new segment: the outputs equal a fresh session's, for both formats")
    func resetEqualsFresh() throws {
        for loaded in [LoadedModel.multitask(model), .gru(try Fixture.gru())] {
            let used = InferenceSession(model: loaded), fresh = InferenceSession(model: loaded)
            for i in 0..<(model.config.history + 2) { _ = try used.pushRaw(frame(i)) }
            #expect(used.framesInWindow == model.config.history)
            used.reset()
            #expect(used.framesInWindow == 0)
            var a: ModelOutputs?, b: ModelOutputs?
            for i in 20..<23 {
                a = try used.pushRaw(frame(i, stamp: Int64(i) * 100_000_000))
                b = try fresh.pushRaw(frame(i, stamp: Int64(i) * 100_000_000))
            }
            #expect(parityViolation(try #require(a).beamLogits, try #require(b).beamLogits, tolerance: 1e-5) == 0)
            #expect(parityViolation(try #require(a).latents, try #require(b).latents, tolerance: 1e-5) == 0)
        }
    }

    @Test("warming a batch of frames equals warming them one by one, on one thread or a team",
          arguments: [1, 2, 3])
    func warmBatch(threads: Int) throws {
        let H = model.config.history
        // Jittered stamps, a gap, missing modalities: the batch must follow the same lag and token rules.
        var frames: [FrameView] = []
        var stamp: Int64 = 5_000_000_000
        for i in 0..<(H + 4) {
            stamp += 100_000_000 + Int64(i % 3) * 3_000_000 + (i == 2 ? 250_000_000 : 0)
            frames.append(frame(i, missing: i == 1 ? [.camera, .gnss] : i == 3 ? [.lidar] : [], stamp: stamp))
        }
        for warmed in [H - 1, 3, H + 2] {          // fills the window; leaves room; more than fits (falls back)
            let batched = InferenceSession(model: model, threads: threads), single = InferenceSession(model: model)
            try batched.warm(Array(frames.prefix(warmed)))
            for f in frames.prefix(warmed) { try single.warm(f) }
            #expect(batched.framesInWindow == single.framesInWindow)
            for f in frames.dropFirst(warmed) {
                let a = try batched.pushRaw(f), b = try single.pushRaw(f)
                for (x, y) in [(a.context, b.context), (a.latents, b.latents), (a.beamLogits, b.beamLogits),
                               (a.positions, b.positions), (a.blockageLogits, b.blockageLogits)] {
                    #expect(parityViolation(x, y, tolerance: 1e-5) == 0, "warmed \(warmed) on \(threads) threads")
                }
            }
        }
        // A bad frame inside a batch is rejected before any frame of it is added.
        let session = InferenceSession(model: model, threads: threads)
        var bad = frames[2]
        bad.radarMap = [1, 2, 3]
        #expect(throws: InputError.self) { try session.warm([frames[0], frames[1], bad, frames[3]]) }
        #expect(session.framesInWindow == 0)
    }

    @Test("the window holds at most H frames and older history still shapes the cached keys")
    func windowSlides() throws {
        let H = model.config.history
        let long = InferenceSession(model: model), short = InferenceSession(model: model)
        var a: ModelOutputs?, b: ModelOutputs?
        for i in 0..<(H + 3) { a = try long.pushRaw(frame(i)) }
        for i in 3..<(H + 3) { b = try short.pushRaw(frame(i)) }
        #expect(long.framesInWindow == H && short.framesInWindow == H)
        // The new frame's tokens are identical; its context is not, because the cached keys of the
        // window's frames were computed with their own history (as in training's segment mode).
        #expect(try #require(a).tokens == (try #require(b)).tokens)
        #expect(parityViolation(try #require(a).context, try #require(b).context, tolerance: 1e-6) > 0)
    }

    @Test("stamps enter through the lag bias: a gap changes the output, a shifted clock does not")
    func stampsMatter() throws {
        let base = InferenceSession(model: model), gap = InferenceSession(model: model), shifted = InferenceSession(model: model)
        var a: ModelOutputs?, b: ModelOutputs?, c: ModelOutputs?
        for i in 0..<3 {
            a = try base.pushRaw(frame(i))
            b = try gap.pushRaw(frame(i, stamp: Int64(i) * 100_000_000 + (i == 2 ? 200_000_000 : 0)))
            c = try shifted.pushRaw(frame(i, stamp: Int64(i) * 100_000_000 + 5_000_000_000_000))
        }
        #expect(parityViolation(try #require(a).latents, try #require(b).latents, tolerance: 1e-6) > 0)
        #expect(parityViolation(try #require(a).latents, try #require(c).latents, tolerance: 1e-5) == 0)
    }

    @Test("missing modalities change the output but inference still runs")
    func missingModalities() throws {
        let full = InferenceSession(model: model), partial = InferenceSession(model: model)
        let p1 = try full.push(frame(0))
        let p2 = try partial.push(frame(0, missing: [.camera, .gnss, .beamPower]))
        #expect(p1.steps.count == model.config.future)
        #expect(p2.steps.allSatisfy { $0.east.isFinite && $0.blockageProbability.isFinite })
        #expect(p1.steps[0].beamLogits != p2.steps[0].beamLogits)
        // Without any measured power the coarse power is the config's default.
        let raw = try InferenceSession(model: model).pushRaw(frame(0, missing: [.beamPower]))
        #expect(raw.coarsePower.allSatisfy { $0 == model.config.powerDefaultDbm })
        #expect(frame(0, missing: [.lidar]).missing == [.lidar])
    }

    @Test("constant-velocity coarse estimate: least-squares line through the window's fixes, times from stamps")
    func constantVelocity() throws {
        let session = InferenceSession(model: model)
        _ = try session.pushRaw(frame(0))
        _ = try session.pushRaw(frame(1, missing: [.gnss]))
        let out = try session.pushRaw(frame(2))
        // Fixes (0, 0) at 0 s and (2, -4) at 0.2 s: velocity (10, -20) m/s; step k lands at 0.2 + 0.1(k+1) s.
        #expect(parityViolation(Array(out.coarsePositions.prefix(4)), [3, -6, 4, -8], tolerance: 1e-5) == 0)
        // Three fixes, the middle one off the line: the least-squares slope (10, -20) m/s, anchored at the
        // fitted value (2.1, -4.1) of the newest fix, not at the raw fix (2, -4).
        let fit = InferenceSession(model: model)
        _ = try fit.pushRaw(frame(0))
        var noisy = frame(1)
        noisy.gnss = SIMD2(1.3, -2.3)
        _ = try fit.pushRaw(noisy)
        let fitted = try fit.pushRaw(frame(2))
        #expect(parityViolation(Array(fitted.coarsePositions.prefix(4)), [3.1, -6.1, 4.1, -8.1], tolerance: 1e-5) == 0)
    }

    @Test("bad input is rejected with a reason and leaves the window unchanged")
    func badInput() throws {
        let session = InferenceSession(model: model)
        var f = frame(0)
        f.radarMap = [1, 2, 3]
        #expect(throws: InputError.wrongSize(modality: .radar, expected: model.config.radar.inputCount, found: 3)) {
            try session.push(f)
        }
        f = frame(0)
        f.beamPowerNormalized?[5] = .nan
        #expect(throws: InputError.nonFinite(modality: .beamPower, index: 5)) { try session.push(f) }
        f = frame(0)
        f.beamPowerDBm = [1]
        #expect(throws: InputError.self) { try session.push(f) }
        f = frame(0)
        f.gnss = SIMD2(.infinity, 0)
        #expect(throws: InputError.self) { try session.push(f) }
        #expect(session.framesInWindow == 0)
    }

    @Test("the actor runs on its own thread and matches the synchronous session")
    func actorMatchesSession() async throws {
        let predictor = StreamingPredictor(model: model, blasThreads: 1, topK: 4)
        defer { predictor.shutdown() }
        let session = InferenceSession(model: model, topK: 4)
        var fromActor: Prediction?, fromSession: Prediction?
        for i in 0..<5 {
            fromActor = try await predictor.push(frame(i))
            fromSession = try session.push(frame(i))
        }
        let a = try #require(fromActor), s = try #require(fromSession)
        #expect(a.framesInWindow == min(5, model.config.history))
        #expect(parityViolation(a.steps.flatMap(\.beamLogits), s.steps.flatMap(\.beamLogits), tolerance: 1e-5) == 0)
        #expect(a.steps[0].topBeams.count == 4)
        #expect(await predictor.framesInWindow == a.framesInWindow)
        #expect(await predictor.isOnInferenceThread)
        #expect(predictor.info.kind == .multitask)
        await predictor.reset()
        #expect(await predictor.framesInWindow == 0)
    }
}
