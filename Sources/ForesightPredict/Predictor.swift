import ForesightCore

/// A predictor: fed every frame in stamp order, it predicts every step of a horizon.
///
/// The daemon (and `foresight eval`) calls ``predict(history:horizon:)`` exactly once per frame,
/// in stamp order, with the window of recent frames (oldest first, the new frame last; default 8)
/// and the horizon stamps (default 5 steps of ~100 ms after the new frame). At the start of every
/// segment — the first frame, after a clock jump or a publisher restart, or after a gap longer
/// than the launch file's `predictor.reset_gap_ms` — the window is cleared and ``reset()`` is
/// called first.
///
/// Two kinds conform:
/// - **window predictors** (classical CTRV, persistence) are stateless: the result depends only
///   on `history` and `horizon`, so they can be called on any window, shared between tasks, and
///   keep the default no-op ``reset()``;
/// - **streaming predictors** (the learned and GRU models) keep state between calls (a key/value
///   cache, a recurrent state), use only the newest frame of `history`, and forget everything in
///   ``reset()``. They must be fed every frame of a segment in order.
///
/// Calls may suspend (a learned model runs on its own inference thread) and may throw (the frame
/// does not fit the model); a throwing call produces no prediction for that frame and is counted.
public protocol Predictor: Sendable {
    /// The model name published in every prediction (e.g. `classical-ctrv`).
    var model: String { get }
    /// Predicts every horizon step after the newest frame of `history`.
    ///
    /// - Parameters:
    ///   - history: the frames of the window, oldest first, the new frame last; may have missing
    ///     modalities.
    ///   - horizon: target stamps (ns), strictly increasing, normally after the newest frame.
    /// - Returns: one step per horizon stamp, with finite values and probabilities in [0, 1].
    func predict(history: [FrameView], horizon: [Int64]) async throws -> PredictionSet
    /// Forgets every frame seen so far (segment start). Window predictors have nothing to forget.
    func reset() async
    /// Releases threads and memory once the predictor is no longer used.
    func shutdown() async
}

/// A predictor that treats a modality it cannot use (a tensor of another size than its input, a
/// non-finite value) as missing instead of failing the whole frame, and reports each one so the
/// daemon counts and logs it (rejection reason `model_input_mismatch`).
public protocol InputScreeningPredictor: Predictor {
    /// One modality a predictor treated as missing: on how many frames, and why (the latest reason).
    typealias ScreenedInput = (modality: Modality, frames: Int, reason: String)

    /// The modalities treated as missing since the last call: how many frames each, and the latest
    /// reason (one a person can act on). Resets the counts.
    func takeScreenedInputs() -> [ScreenedInput]
}

extension Predictor {
    /// Nothing to forget: the default for window predictors.
    public func reset() async {}
    /// Nothing to release: the default for window predictors.
    public func shutdown() async {}
}
