import Foundation
import Testing
@testable import ForesightInference

/// The Swift engine against the PyTorch twin (fixtures from `make parity`), within 1e-4.
@Suite struct ParityTests {
    let model: MultiTaskModel
    let cases: [String: Tensor]

    init() throws {
        model = try Fixture.model()
        cases = try Fixture.cases()
    }

    func tensor(_ name: String) throws -> Tensor {
        guard let t = cases[name] else { throw FixtureError.missing(name) }
        return t
    }

    /// The frames of a case as `FrameInputs`, `nil` for frames that are not in the window.
    func frames(_ name: String) throws -> [FrameInputs?] {
        let c = model.config, H = c.history
        let camera = try tensor("\(name).camera").storage, radar = try tensor("\(name).radar").storage
        let lidar = try tensor("\(name).lidar").storage, gnss = try tensor("\(name).gnss").storage
        let power = try tensor("\(name).power").storage, present = try tensor("\(name).present").storage
        let valid = try tensor("\(name).valid").storage
        let (nc, nr, nl, nb) = (c.vision.inputCount, c.radar.inputCount, c.lidar.inputCount, c.numBeams)
        return (0..<H).map { t in
            guard valid[t] > 0.5 else { return nil }
            let has = { (m: Modality) in present[t * 5 + m.rawValue] > 0.5 }
            return FrameInputs(
                stamp: Int64(t),
                camera: has(.vision) ? Array(camera[(t * nc)..<((t + 1) * nc)]) : nil,
                radar: has(.radar) ? Array(radar[(t * nr)..<((t + 1) * nr)]) : nil,
                lidar: has(.lidar) ? Array(lidar[(t * nl)..<((t + 1) * nl)]) : nil,
                gnss: has(.gnss) ? SIMD2(gnss[2 * t], gnss[2 * t + 1]) : nil,
                beamPower: has(.power) ? Array(power[(t * nb)..<((t + 1) * nb)]) : nil)
        }
    }

    /// Streams a case's valid frames through a fresh session; returns the last raw outputs.
    func stream(_ name: String, splitHeads: Bool = false) throws -> ModelOutputs {
        let session = InferenceSession(model: model, splitHeads: splitHeads)
        var last: ModelOutputs?
        for frame in try frames(name) {
            if let frame { last = try session.pushRaw(frame) }
        }
        guard let last else { throw FixtureError.missing("\(name): no valid frame") }
        return last
    }

    @Test("fixtures are small and the model loads", arguments: ["full"])
    func fixturesLoad(_ name: String) throws {
        let dir = try Fixture.directory
        let sizes = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: [.fileSizeKey])
            .map { try $0.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0 }
        #expect(sizes.reduce(0, +) < 2_000_000)
        #expect(model.config.dModel == 32)
        #expect(model.config.tokensPerModality == [9, 16, 16, 1, 1])
    }

    @Test("tokenizers match PyTorch", arguments: ["full", "partial", "gaps"])
    func tokenizers(_ name: String) throws {
        let c = model.config, d = c.dModel, T = c.tokensPerFrame
        let expectedTokens = try tensor("\(name).tokens").storage
        let scratch = Scratch()
        let layers: [(Modality, CNNTokenizerLayer)] = [(.vision, model.vision), (.radar, model.radar), (.lidar, model.lidar)]
        for (t, frame) in try frames(name).enumerated() {
            guard let frame else { continue }
            // Each tokenizer on its raw input (before the missing-token substitution).
            let inputs = [try tensor("\(name).camera"), try tensor("\(name).radar"), try tensor("\(name).lidar")]
            for (i, (m, layer)) in layers.enumerated() {
                let n = layer.config.inputCount
                let x = Array(inputs[i].storage[(t * n)..<((t + 1) * n)])
                var out = [Float](repeating: 0, count: layer.tokens * d)
                x.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { layer(xp.baseAddress!, scratch: scratch, into: $0.baseAddress!) } }
                let part = try tensor("\(name).parts.\(m)").storage
                let expected = Array(part[(t * layer.tokens * d)..<((t + 1) * layer.tokens * d)])
                #expect(parityViolation(out, expected) == 0, "\(name) frame \(t) \(m) tokenizer")
            }
            // The whole frame, with missing modalities replaced by their learned tokens.
            let tokens = try model.tokenize(frame, scratch: scratch)
            let expected = Array(expectedTokens[(t * T * d)..<((t + 1) * T * d)])
            #expect(parityViolation(tokens.tokens, expected) == 0, "\(name) frame \(t) tokens")
        }
    }

    @Test("encoder, predictor, latents and heads match PyTorch (heads on one or two threads)",
          arguments: ["full", "partial", "gaps"], [false, true])
    func wholeModel(_ name: String, splitHeads: Bool) throws {
        let c = model.config, d = c.dModel, T = c.tokensPerFrame, H = c.history
        let out = try stream(name, splitHeads: splitHeads)
        let valid = try tensor("\(name).valid").storage
        // Context and predictor rows are only meaningful for frames in the window (and future slots).
        let context = try tensor("\(name).context").storage
        let predicted = try tensor("\(name).predictor_out").storage
        for t in 0..<H where valid[t] > 0.5 {
            let range = (t * T * d)..<((t + 1) * T * d)
            #expect(parityViolation(Array(out.context[range]), Array(context[range])) == 0, "\(name) context frame \(t)")
            #expect(parityViolation(Array(out.predictorOutput[range]), Array(predicted[range])) == 0, "\(name) predictor frame \(t)")
        }
        let future = (H * T * d)..<predicted.count
        #expect(parityViolation(Array(out.predictorOutput[future]), Array(predicted[future])) == 0, "\(name) predictor future")
        #expect(parityViolation(out.latents, try tensor("\(name).latents").storage) == 0)
        #expect(parityViolation(out.coarsePositions, try tensor("\(name).coarse_positions").storage) == 0)
        #expect(parityViolation(out.positions, try tensor("\(name).positions").storage) == 0)
        #expect(parityViolation(out.beamLogits, try tensor("\(name).beam_logits").storage) == 0)
        #expect(parityViolation(out.beamPower, try tensor("\(name).beam_power").storage) == 0)
        #expect(parityViolation(out.blockageLogits, try tensor("\(name).blockage_logit").storage) == 0)
    }

    @Test("decoded predictions match PyTorch's chosen-beam and mean power", arguments: ["full", "partial", "gaps"])
    func decoded(_ name: String) throws {
        let session = InferenceSession(model: model, topK: 5)
        var prediction: Prediction?
        for frame in try frames(name) { if let frame { prediction = try session.push(frame) } }
        let steps = try #require(prediction).steps
        let chosen = try tensor("\(name).chosen_power").storage
        let mean = try tensor("\(name).mean_power").storage
        let logits = try tensor("\(name).beam_logits").storage
        let blockage = try tensor("\(name).blockage_logit").storage
        let B = model.config.numBeams
        #expect(steps.count == model.config.future)
        for (k, step) in steps.enumerated() {
            #expect(parityViolation([step.chosenBeamPower], [chosen[k]]) == 0)
            #expect(parityViolation([step.meanBeamPower], [mean[k]]) == 0)
            let row = Array(logits[(k * B)..<((k + 1) * B)])
            let best = row.indices.max { row[$0] < row[$1] }
            #expect(step.chosenBeam == best)
            #expect(step.topBeams.first?.beam == best)
            #expect(abs(step.beamProbabilities.reduce(0, +) - 1) < 1e-5)
            #expect(zip(step.topBeams, step.topBeams.dropFirst()).allSatisfy { $0.probability >= $1.probability })
            #expect(abs(step.blockageProbability - 1 / (1 + exp(-blockage[k]))) < 1e-5)
        }
    }

    @Test("the comparison is sensitive: a 1e-3 change in one weight breaks parity")
    func sensitivity() throws {
        var weights = try SafeTensors(contentsOf: Fixture.directory.appendingPathComponent("model.safetensors")).tensors
        var bias = try #require(weights["encoder.layers.1.mlp.fc2.bias"])
        bias.storage[0] += 1e-3
        weights["encoder.layers.1.mlp.fc2.bias"] = bias
        let perturbed = try MultiTaskModel(config: model.config, tensors: weights)
        let session = InferenceSession(model: perturbed)
        var out: ModelOutputs?
        for frame in try frames("full") { if let frame { out = try session.pushRaw(frame) } }
        #expect(parityViolation(try #require(out).latents, try tensor("full.latents").storage) > 0)
    }
}
