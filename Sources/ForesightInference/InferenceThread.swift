import Foundation

/// A serial executor backed by one dedicated OS thread, so long BLAS work never occupies Swift's
/// cooperative thread pool. Actors adopt it through `unownedExecutor`.
public final class InferenceThread: SerialExecutor, @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private var owner: pthread_t?

    /// Starts the thread. Linux limits thread names to 15 characters (longer names are ignored).
    public init(name: String = "fs-inference") {
        // The thread keeps the executor alive until `shutdown()` ends its loop.
        let thread = Thread { [name] in
            Thread.current.name = name
            self.loop()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues a job; it runs on the dedicated thread in order.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// This executor as an unowned reference for `unownedExecutor`.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread finish after the queued jobs; later jobs are never run.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    /// Whether the caller is running on this executor's thread.
    public var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let owner else { return false }
        return pthread_equal(owner, pthread_self()) != 0
    }

    private func loop() {
        condition.lock()
        owner = pthread_self()
        condition.unlock()
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            let done = stopping && batch.isEmpty
            condition.unlock()
            if done { return }
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }
}

/// The streaming predictor the daemon uses: an actor whose work runs on its own ``InferenceThread``
/// (never long on the cooperative pool), holding an ``InferenceSession`` (key/value cache or GRU state).
public actor StreamingPredictor {
    private let thread: InferenceThread
    private let session: InferenceSession
    /// Sizes and provenance of the model (format, history, horizon, step, beams, preprocessing version).
    public nonisolated let info: ModelInfo

    /// Runs this actor's methods on the dedicated inference thread.
    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// Loads a model folder (the config's `format` picks the multi-task model or the GRU baseline) and
    /// starts its inference thread; sets OpenBLAS to `blasThreads` worker threads (process-wide).
    /// Errors name the folder, the file or tensor, and what to do.
    public static func load(directory: URL, blasThreads: Int = 2, topK: Int = 3) throws(ModelError) -> StreamingPredictor {
        StreamingPredictor(model: try LoadedModel.load(directory: directory), blasThreads: blasThreads, topK: topK)
    }

    /// Creates a predictor for a loaded model; sets OpenBLAS to `blasThreads` worker threads (process-wide).
    public init(model: LoadedModel, blasThreads: Int = 2, topK: Int = 3) {
        BLAS.configure(threads: blasThreads)
        thread = InferenceThread()
        session = InferenceSession(model: model, topK: topK)
        info = session.info
    }

    /// Creates a predictor for a multi-task model.
    public init(model: MultiTaskModel, blasThreads: Int = 2, topK: Int = 3) {
        self.init(model: .multitask(model), blasThreads: blasThreads, topK: topK)
    }

    /// Adds the newest frame and returns the predictions for every future step (power in dBm).
    public func push(_ frame: FrameInputs) throws(InputError) -> Prediction {
        try session.push(frame)
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
    public nonisolated func shutdown() { thread.shutdown() }
}
