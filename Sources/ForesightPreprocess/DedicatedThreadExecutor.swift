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
            // On Linux a name set before start() is not applied to the OS thread (which inherits its
            // creator's name), so set the OS name directly from inside the thread.
            DedicatedThreadExecutor.setCurrentThreadName(name)
            self.runLoop()
        }
        thread.name = name
        thread.start()
    }

    /// Names the calling OS thread (at most 15 bytes are kept by Linux).
    static func setCurrentThreadName(_ name: String) {
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
    static func currentThreadName() -> String? {
        #if os(Linux)
        guard let data = FileManager.default.contents(atPath: "/proc/thread-self/comm") else { return Thread.current.name }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
        #else
        return Thread.current.name
        #endif
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
