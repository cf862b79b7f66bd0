/// A predictor: a window of past frames in, per-step predictions over a horizon out.
///
/// The daemon keeps the window (default 8 frames) and the horizon stamps (default 5 steps of
/// ~100 ms after the newest frame) and calls `predict` once per frame. Implementations must be
/// **stateless over the window**: the result depends only on `history` and `horizon`, so the same
/// inputs always give the same predictions (replays and `foresight eval` are reproducible) and a
/// predictor can be shared between tasks. The classical CTRV predictor and the learned model of a
/// later issue both conform.
public protocol Predictor: Sendable {
    /// The model name published in every prediction (e.g. `classical-ctrv`).
    var model: String { get }
    /// Predicts every horizon step from `history` (oldest first).
    ///
    /// - Parameters:
    ///   - history: the frames of the window, oldest first; may be empty or have missing modalities.
    ///   - horizon: target stamps (ns), strictly increasing, normally after the newest frame.
    /// - Returns: one step per horizon stamp, with finite values and probabilities in [0, 1].
    func predict(history: [FrameObservation], horizon: [Int64]) -> PredictionSet
}
