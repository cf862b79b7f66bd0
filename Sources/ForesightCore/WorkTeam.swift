import Foundation
import Synchronization

/// A fork-join team that splits one frame's work across cores: the calling thread plus
/// `size − 1` dedicated worker threads (never Swift's cooperative pool).
///
/// The inference engine splits a frame's CNN tokenizers (or a window's frames), the heads of an
/// attention and the output columns of a product over its team (its products are too small for
/// OpenBLAS's own threads to pay off); the radar preprocessor splits a cube's range bins. Tasks get
/// a `member` index (0 is the caller) so each can use its own scratch buffers.
///
/// Tasks are claimed one at a time from a single atomic word (job generation, task count, next
/// task), so the caller never waits for a worker that has not started: a late worker finds nothing
/// left to claim. Workers spin for a short while after the last task (the next split region of the
/// same frame follows within microseconds), then sleep on a semaphore, so an idle stream costs no CPU.
///
/// Not reentrant: one ``forEach(_:_:)`` at a time, from one thread (the owner's).
public final class WorkTeam: @unchecked Sendable {
    /// Threads taking part, the caller included (≥ 1).
    public let size: Int

    /// What the workers share with the caller. The worker threads hold it (not the team), so the
    /// team can be released while they are parked; its deinit stops and joins them.
    private let shared: Shared
    private var generation: UInt64 = 0

    /// How long a worker spins for the next job before it sleeps.
    private static let spinNanoseconds: UInt64 = 300_000

    private final class Worker: @unchecked Sendable {
        let wake = DispatchSemaphore(value: 0)
        let exited = DispatchSemaphore(value: 0)
        let sleeping = Atomic<Bool>(false)
    }

    private final class Shared: @unchecked Sendable {
        let workers: [Worker]
        /// `generation << 32 | count << 16 | next`: the current job and its next unclaimed task.
        let state = Atomic<UInt64>(0)
        /// Tasks of the current job finished.
        let done = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        /// The current job; written before its generation is published, cleared when all its tasks are done.
        var job: ((Int, Int) -> Void)?

        init(workers: Int) { self.workers = (0..<workers).map { _ in Worker() } }

        /// The task count and the next unclaimed task of a `state` word.
        @inline(__always)
        static func tasks(_ s: UInt64) -> (count: Int, next: Int) { (Int((s >> 16) & 0xFFFF), Int(s & 0xFFFF)) }

        /// Claims the next task of the current job, if any is left; returns its index.
        @inline(__always)
        func claim() -> Int? {
            var s = state.load(ordering: .acquiring)
            while true {
                let (count, next) = Self.tasks(s)
                guard next < count else { return nil }
                let (exchanged, original) = state.compareExchange(expected: s, desired: s + 1, ordering: .acquiringAndReleasing)
                if exchanged { return next }
                s = original
            }
        }

        var hasWork: Bool {
            let (count, next) = Self.tasks(state.load(ordering: .sequentiallyConsistent))
            return next < count
        }

        func workLoop(_ w: Worker, member: Int) {
            var idleSince: UInt64 = 0
            var spins = 0
            while !stopping.load(ordering: .relaxed) {
                if let i = claim() {
                    // The claim (acquire) happened after the job was published: `job` is this job's.
                    job?(i, member)
                    done.add(1, ordering: .releasing)
                    idleSince = 0
                    continue
                }
                spins += 1
                if spins & 127 != 0 { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if idleSince == 0 { idleSince = now; continue }
                if now - idleSince < WorkTeam.spinNanoseconds { continue }
                // Sleep unless a job was published meanwhile (the caller signals every sleeper it sees).
                w.sleeping.store(true, ordering: .sequentiallyConsistent)
                if !hasWork && !stopping.load(ordering: .sequentiallyConsistent) { w.wake.wait() }
                w.sleeping.store(false, ordering: .sequentiallyConsistent)
                idleSince = 0
            }
        }
    }

    /// Creates a team of `size` threads (values below 1 mean 1: everything runs on the caller); the
    /// workers are named `name-1`, `name-2`, ….
    public init(size: Int, name: String = "fs-worker") {
        let n = max(1, min(size, 64))
        self.size = n
        let shared = Shared(workers: n - 1)
        self.shared = shared
        for (i, w) in shared.workers.enumerated() {
            let member = i + 1
            let t = Thread {
                shared.workLoop(w, member: member)
                w.exited.signal()
            }
            t.name = "\(name)-\(member)"
            t.stackSize = 8 << 20
            t.start()
        }
    }

    deinit {
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        for w in shared.workers { w.wake.signal() }
        for w in shared.workers { w.exited.wait() }
    }

    /// Runs `body(index, member)` for every index in `0..<count`, spread over the team, and returns
    /// when all are done. `member` (0..<size) tells which thread runs the task (0 is the caller), for
    /// per-member scratch buffers. Indices are handed out in order, so put the largest pieces first.
    public func forEach(_ count: Int, _ body: (_ index: Int, _ member: Int) -> Void) {
        guard count > 0 else { return }
        guard size > 1, count > 1 else {
            for i in 0..<count { body(i, 0) }
            return
        }
        precondition(count <= 0xFFFF, "WorkTeam.forEach: at most 65,535 tasks")
        let shared = shared
        withoutActuallyEscaping(body) { escaping in
            shared.job = escaping
            shared.done.store(0, ordering: .relaxed)
            generation = (generation + 1) & 0xFFFF_FFFF
            shared.state.store(generation << 32 | UInt64(count) << 16, ordering: .sequentiallyConsistent)
            for w in shared.workers where w.sleeping.load(ordering: .sequentiallyConsistent) { w.wake.signal() }
            while let i = shared.claim() {
                escaping(i, 0)
                shared.done.add(1, ordering: .releasing)
            }
            var spins = 0
            while shared.done.load(ordering: .acquiring) < count {
                spins += 1
                if spins & 1023 == 0 { sched_yield() }
            }
            shared.job = nil
        }
    }

    /// Splits `0..<total` into at most `parts` contiguous chunks whose sizes are multiples of
    /// `granule` (except the last) and runs `body(range, member)` for each.
    public func forEachChunk(_ total: Int, parts: Int? = nil, granule: Int = 16, _ body: (_ range: Range<Int>, _ member: Int) -> Void) {
        let p = max(1, min(parts ?? size, (total + granule - 1) / granule))
        guard p > 1 else { body(0..<total, 0); return }
        let per = ((total + p - 1) / p + granule - 1) / granule * granule
        let chunks = (total + per - 1) / per
        forEach(chunks) { i, member in
            let lo = i * per
            body(lo..<min(total, lo + per), member)
        }
    }
}
