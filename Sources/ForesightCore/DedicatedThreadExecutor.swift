import Foundation

/// A serial executor that runs every job on one dedicated OS thread, so that long FFT, JPEG, PCL
/// and BLAS work done by the actors using it never occupies Swift's cooperative thread pool.
/// The one dedicated-thread executor of the code base: the ingest stage, the preprocessing
/// actors, the predictor stage and the learned model's inference actor all adopt it through
/// `unownedExecutor`.
///
/// Call `stop()` when no actor uses the executor any more; the thread finishes the jobs already
/// queued and exits (jobs queued later are never run).
public final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [UnownedJob] = []
    private var stopped = false
    private var owner: pthread_t?
    /// The thread's name (visible in debuggers, backtraces and `top -H`; Linux keeps 15 bytes).
    public let name: String

    /// Starts the executor's thread; `stackSize` (bytes) overrides the platform default (the
    /// inference thread asks for 8 MiB).
    public init(name: String, stackSize: Int? = nil) {
        self.name = name
        // The thread keeps the executor alive until `stop()` ends its loop.
        let thread = Thread { [self] in
            // On Linux a name set before start() is not applied to the OS thread (which inherits its
            // creator's name), so set the OS name directly from inside the thread.
            DedicatedThreadExecutor.setCurrentThreadName(name)
            self.runLoop()
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }

    /// Names the calling OS thread (at most 15 bytes are kept by Linux).
    public static func setCurrentThreadName(_ name: String) {
        #if os(Linux)
        // pthread_setname_np is not exported to Swift on Linux; the kernel's per-thread file is.
        if let handle = FileHandle(forWritingAtPath: "/proc/thread-self/comm") {
            handle.write(Data(name.utf8.prefix(15)))
            try? handle.close()
        }
        #endif
        Thread.current.name = name
    }

    /// The calling OS thread's name, as the kernel reports it.
    public static func currentThreadName() -> String? {
        #if os(Linux)
        guard let data = FileManager.default.contents(atPath: "/proc/thread-self/comm") else { return Thread.current.name }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        #else
        return Thread.current.name
        #endif
    }

    /// Queues a job; called by the Swift runtime. Jobs run on the dedicated thread in order.
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

    /// Whether the caller is running on this executor's thread.
    public var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let owner else { return false }
        return pthread_equal(owner, pthread_self()) != 0
    }

    private func runLoop() {
        condition.lock()
        owner = pthread_self()
        condition.unlock()
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
