import Foundation
import ForesightWire
#if canImport(Glibc)
import Glibc
#endif

/// Asks the kernel to start reading the files of the next few samples while the current one is
/// parsed (`posix_fadvise(POSIX_FADV_WILLNEED)` on its own thread): on a scenario folder that is
/// not in the page cache the disk then reads ahead in large requests, overlapped with the
/// parsing and the writing, instead of one small synchronous read after another. Best effort:
/// a file that cannot be opened is left for the loader to report; when the prefetcher falls
/// behind, requests are dropped (never waited for).
final class FilePrefetcher: @unchecked Sendable {
    private let queue: BoundedQueue<[String]>
    private let thread: Thread
    private let done: DispatchSemaphore
    /// Files handed to the kernel so far.
    let requested: Locked<Int>

    init() {
        let queue = BoundedQueue<[String]>(capacity: 16), done = DispatchSemaphore(value: 0), requested = Locked(0)
        self.queue = queue
        self.done = done
        self.requested = requested
        thread = Thread {
            defer { done.signal() }
            while let paths = queue.pop() {
                for path in paths {
                    let fd = open(path, O_RDONLY | O_CLOEXEC)
                    guard fd >= 0 else { continue }
                    _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_WILLNEED))
                    close(fd)
                    requested.withLock { $0 += 1 }
                }
            }
        }
        thread.name = "foresight-prefetch"
        thread.start()
    }

    /// Queues `paths` for read-ahead; returns at once (dropped when the prefetcher is behind).
    func prefetch(_ paths: [String]) {
        guard !paths.isEmpty else { return }
        _ = queue.offer(paths)
    }

    /// Stops the thread (queued requests are still issued) and waits for it.
    func finish() {
        queue.close()
        done.wait()
    }
}
