import Dispatch

/// The synchronous per-stream state: a token cache holding the window and reusable scratch buffers.
///
/// Each ``push(_:)`` tokenizes only the new frame, slides the window and runs backbone and heads.
/// Not thread-safe; ``StreamingPredictor`` wraps it on a dedicated thread for use from async code.
public final class InferenceSession {
    /// Wall-clock time of each stage of the last ``push(_:)``.
    public struct StageTimings: Sendable, Equatable {
        /// Tokenizing the new frame (ns).
        public var tokenize: UInt64 = 0
        /// Encoder + predictor + heads over the window (ns).
        public var window: UInt64 = 0
    }

    /// Timings of the most recent push.
    public private(set) var lastTimings = StageTimings()
    /// The model this session runs.
    public let model: MultiTaskModel
    /// How many top beams each step reports.
    public let topK: Int
    private let scratch: Scratch
    private var window: [FrameTokens?]

    /// Creates an empty session (the window fills as frames arrive). With `splitHeads`, a second
    /// dedicated thread computes half of the attention heads in parallel (each side with one
    /// OpenBLAS thread); worth it on two or more free cores.
    public init(model: MultiTaskModel, topK: Int = 3, splitHeads: Bool = false) {
        self.model = model
        scratch = Scratch(helper: splitHeads ? HelperThread() : nil)
        self.topK = max(1, min(topK, model.config.numBeams))
        window = Array(repeating: nil, count: model.config.history)
    }

    /// Frames currently cached (≤ history).
    public var framesInWindow: Int { window.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// Forgets every cached frame.
    public func reset() {
        window = Array(repeating: nil, count: model.config.history)
    }

    /// Adds a frame (the newest) and returns predictions for every future step.
    public func push(_ frame: FrameInputs) throws(InputError) -> Prediction {
        let outputs = try pushRaw(frame)
        return Self.decode(outputs, model: model, topK: topK, stamp: frame.stamp, frames: framesInWindow)
    }

    /// Adds a frame and returns the raw outputs with intermediates (used by the parity tests).
    public func pushRaw(_ frame: FrameInputs) throws(InputError) -> ModelOutputs {
        let start = DispatchTime.now().uptimeNanoseconds
        let tokens = try model.tokenize(frame, scratch: scratch)
        let tokenized = DispatchTime.now().uptimeNanoseconds
        window.removeFirst()
        window.append(tokens)
        let outputs = model.run(window: window, scratch: scratch)
        lastTimings = StageTimings(tokenize: tokenized - start, window: DispatchTime.now().uptimeNanoseconds - tokenized)
        return outputs
    }

    /// Turns raw outputs into per-step predictions (softmax, top-k, chosen-beam power, sigmoid).
    static func decode(_ o: ModelOutputs, model: MultiTaskModel, topK: Int, stamp: Int64, frames: Int) -> Prediction {
        let F = model.config.future, B = model.config.numBeams
        var steps: [StepPrediction] = []
        steps.reserveCapacity(F)
        for k in 0..<F {
            let logits = Array(o.beamLogits[(k * B)..<((k + 1) * B)])
            var probabilities = logits
            probabilities.withUnsafeMutableBufferPointer { Ops.softmaxRows($0.baseAddress!, rows: 1, cols: B, keyValid: nil) }
            var chosen = 0
            for b in 1..<B where logits[b] > logits[chosen] { chosen = b }
            let ranked = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }
            let top = ranked.prefix(topK).map { BeamScore(beam: $0, probability: probabilities[$0]) }
            let power = Array(o.beamPower[(k * B)..<((k + 1) * B)])
            let mean = power.reduce(0, +) / Float(B)
            steps.append(StepPrediction(
                east: o.positions[2 * k], north: o.positions[2 * k + 1], beamLogits: logits,
                beamProbabilities: probabilities, topBeams: top, beamPower: power, chosenBeam: chosen,
                chosenBeamPower: power[chosen], meanBeamPower: mean,
                blockageProbability: FastMath.sigmoid(o.blockageLogits[k])))
        }
        return Prediction(stamp: stamp, framesInWindow: frames, steps: steps)
    }
}
