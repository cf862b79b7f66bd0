import ForesightCore
import Foundation

/// The streaming predictor the daemon uses: an actor whose work runs on its own inference thread
/// (a ``DedicatedThreadExecutor``, never long on the cooperative pool), holding an
/// ``InferenceSession`` (key/value cache or GRU state).
public actor StreamingPredictor {
    private let thread: DedicatedThreadExecutor
    private let session: InferenceSession
    /// Sizes and provenance of the model (format, history, horizon, step, beams, preprocessing version).
    public nonisolated let info: ModelInfo

    /// Runs this actor's methods on the dedicated inference thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// Loads a model folder (the config's `format` picks the multi-task model or the GRU baseline) and
    /// starts its inference thread. `threads`: threads that share each frame's work (the inference
    /// thread plus `threads − 1` workers of the session's team); `blasThreads`: OpenBLAS's own worker
    /// threads inside each product (process-wide; 1 is right whenever `threads` > 1).
    /// Errors name the folder, the file or tensor, and what to do.
    public static func load(directory: URL, threads: Int = 2, blasThreads: Int = 1, topK: Int = 3) throws(ModelError) -> StreamingPredictor {
        StreamingPredictor(model: try LoadedModel.load(directory: directory), threads: threads, blasThreads: blasThreads, topK: topK)
    }

    /// Creates a predictor for a loaded model (see ``load(directory:threads:blasThreads:topK:)``).
    public init(model: LoadedModel, threads: Int = 2, blasThreads: Int = 1, topK: Int = 3) {
        BLAS.configure(threads: blasThreads)
        thread = DedicatedThreadExecutor(name: "fs-inference", stackSize: 8 << 20)
        session = InferenceSession(model: model, topK: topK, threads: threads)
        info = session.info
    }

    /// Creates a predictor for a multi-task model.
    public init(model: MultiTaskModel, threads: Int = 2, blasThreads: Int = 1, topK: Int = 3) {
        self.init(model: .multitask(model), threads: threads, blasThreads: blasThreads, topK: topK)
    }

    /// Adds the newest frame and returns the predictions for every future step (power in dBm);
    /// `coarse`: see ``InferenceSession/push(_:coarse:)``.
    public func push(_ frame: FrameView, coarse: CoarseEstimates? = nil) throws(InputError) -> Prediction {
        try session.push(frame, coarse: coarse)
    }

    /// Frames currently in the window.
    public var framesInWindow: Int { session.framesInWindow }

    /// Stage timings of the last push.
    public var lastTimings: StageTimings { session.lastTimings }

    /// Clears the cache (a new segment: clock jump, publisher restart, long gap).
    public func reset() { session.reset() }

    /// Whether this actor's code is running on its dedicated thread (it always should).
    var isOnInferenceThread: Bool { thread.isCurrent }

    /// Stops the dedicated thread after pending work (call when the predictor is no longer needed).
    public nonisolated func shutdown() { thread.stop() }
}
