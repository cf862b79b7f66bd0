import Foundation
import Testing
@testable import ForesightInference

/// The streaming API: token cache, actor on its own thread, input validation.
@Suite struct StreamingTests {
    let model: MultiTaskModel

    init() throws { model = try Fixture.model() }

    func frame(_ i: Int, missing: Set<Modality> = []) -> FrameInputs {
        let c = model.config
        var rng = TestRandom(UInt64(100 + i))
        return FrameInputs(stamp: Int64(i),
                           camera: missing.contains(.vision) ? nil : rng.array(c.vision.inputCount),
                           radar: missing.contains(.radar) ? nil : rng.array(c.radar.inputCount).map { abs($0) },
                           lidar: missing.contains(.lidar) ? nil : rng.array(c.lidar.inputCount),
                           gnss: missing.contains(.gnss) ? nil : SIMD2(Float(i), -2 * Float(i)),
                           beamPower: missing.contains(.power) ? nil : rng.array(c.numBeams))
    }

    @Test("the window slides: after history+k frames only the last `history` frames matter")
    func tokenCacheSlides() throws {
        let H = model.config.history
        let long = InferenceSession(model: model)
        let short = InferenceSession(model: model)
        var a: ModelOutputs?, b: ModelOutputs?
        for i in 0..<(H + 3) { a = try long.pushRaw(frame(i)) }
        for i in 3..<(H + 3) { b = try short.pushRaw(frame(i)) }
        #expect(long.framesInWindow == H)
        // Equal up to summation order (OpenBLAS's split depends on its thread count, which other tests change).
        #expect(parityViolation(try #require(a).beamLogits, try #require(b).beamLogits, tolerance: 1e-5) == 0)
        #expect(parityViolation(try #require(a).positions, try #require(b).positions, tolerance: 1e-5) == 0)
        long.reset()
        #expect(long.framesInWindow == 0)
    }

    @Test("splitting attention heads over a helper thread gives the same outputs")
    func splitHeads() throws {
        let plain = InferenceSession(model: model), split = InferenceSession(model: model, splitHeads: true)
        var a: ModelOutputs?, b: ModelOutputs?
        for i in 0..<3 {
            a = try plain.pushRaw(frame(i, missing: i == 1 ? [.radar] : []))
            b = try split.pushRaw(frame(i, missing: i == 1 ? [.radar] : []))
        }
        let x = try #require(a), y = try #require(b)
        #expect(parityViolation(y.predictorOutput, x.predictorOutput, tolerance: 1e-5) == 0)
        #expect(parityViolation(y.beamLogits, x.beamLogits, tolerance: 1e-5) == 0)
    }

    @Test("missing modalities change the output but inference still runs")
    func missingModalities() throws {
        let full = InferenceSession(model: model), partial = InferenceSession(model: model)
        let p1 = try full.push(frame(0))
        let p2 = try partial.push(frame(0, missing: [.vision, .gnss, .power]))
        #expect(p1.steps.count == model.config.future)
        #expect(p2.steps.allSatisfy { $0.east.isFinite && $0.blockageProbability.isFinite })
        #expect(p1.steps[0].beamLogits != p2.steps[0].beamLogits)
        #expect(frame(0, missing: [.lidar]).missing == [.lidar])
    }

    @Test("constant-velocity coarse estimate uses the last two fixes")
    func constantVelocity() throws {
        let session = InferenceSession(model: model)
        _ = try session.pushRaw(frame(0))
        _ = try session.pushRaw(frame(1, missing: [.gnss]))
        let out = try session.pushRaw(frame(2))
        // Fixes (0, 0) at slot H-3 and (2, -4) at slot H-1: velocity (1, -2) per frame.
        #expect(Array(out.coarsePositions.prefix(4)) == [3, -6, 4, -8])
    }

    @Test("bad input is rejected with a reason and leaves the window unchanged")
    func badInput() throws {
        let session = InferenceSession(model: model)
        var f = frame(0)
        f.radar = [1, 2, 3]
        #expect(throws: InputError.wrongSize(modality: .radar, expected: model.config.radar.inputCount, found: 3)) {
            try session.push(f)
        }
        f = frame(0)
        f.beamPower?[5] = .nan
        #expect(throws: InputError.nonFinite(modality: .power, index: 5)) { try session.push(f) }
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
        await predictor.reset()
        #expect(await predictor.framesInWindow == 0)
    }
}
