import Foundation

/// A serial executor that runs every job on one dedicated OS thread, so that long FFT, JPEG and
/// PCL work done by the actors using it never occupies Swift's cooperative thread pool.
///
/// Call `stop()` when no actor uses the executor any more (the stage actors do this in
/// `deinit`); the thread finishes the jobs already queued and exits.
public final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [UnownedJob] = []
    private var stopped = false
    /// The thread's name (visible in debuggers and backtraces).
    public let name: String

    /// Starts the executor's thread.
    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in
            // On Linux a name set before start() is not applied to the OS thread; set it from inside.
            Thread.current.name = name
            self.runLoop()
        }
        thread.name = name
        thread.start()
    }

    /// Queues a job; called by the Swift runtime.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        pending.append(unowned)
        condition.signal()
        condition.unlock()
    }

    /// This executor as an unowned serial executor reference.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Lets the thread exit once the queued jobs have run.
    public func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func runLoop() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while pending.isEmpty && !stopped { condition.wait() }
            if pending.isEmpty && stopped {
                condition.unlock()
                return
            }
            swap(&batch, &pending)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
