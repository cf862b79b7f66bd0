import Foundation

/// A second dedicated OS thread for fork/join inside one inference step (attention heads are split
/// between the inference thread and this one). Never uses Swift's cooperative pool.
final class HelperThread: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var task: (() -> Void)?
    private var busy = false
    private var stopping = false

    init(name: String = "fs-infer-help") {
        let thread = Thread { [name] in
            Thread.current.name = name
            self.loop()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Starts `work` on the helper thread; pair every call with ``join()``.
    func fork(_ work: @escaping () -> Void) {
        condition.lock()
        task = work
        busy = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the forked work has finished.
    func join() {
        condition.lock()
        while busy { condition.wait() }
        condition.unlock()
    }

    /// Ends the thread (after any forked work).
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while task == nil && !stopping { condition.wait() }
            guard let work = task else { condition.unlock(); return }
            task = nil
            condition.unlock()
            work()
            condition.lock()
            busy = false
            condition.broadcast()
            condition.unlock()
        }
    }
}
