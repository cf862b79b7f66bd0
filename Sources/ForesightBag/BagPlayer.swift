import Foundation

/// Settings of a replay.
public struct BagReplayOptions: Sendable {
    /// Playback speed (1 = original timing, 2 = twice as fast). Must be positive.
    public var rate: Double
    /// Start again from the beginning after the end, shifting stamps so time keeps increasing.
    public var loop: Bool
    /// Skip this many seconds from the bag's start.
    public var startOffset: Double
    /// Play at most this many seconds of the bag (nil: to the end).
    public var duration: Double?
    /// Publish as fast as possible, ignoring the recorded timing.
    public var asFastAsPossible: Bool
    /// Shift message stamps so the bag's start maps to the moment replay starts.
    public var restamp: Bool
    /// Run the replaying thread with real-time priority (SCHED_FIFO) when the system allows it,
    /// so other load on the machine delays publication less. Ignored when not permitted.
    public var realtimePriority: Bool

    /// Options with the given values (defaults: 1×, once, whole bag, original stamps).
    public init(rate: Double = 1, loop: Bool = false, startOffset: Double = 0, duration: Double? = nil,
                asFastAsPossible: Bool = false, restamp: Bool = false, realtimePriority: Bool = false) {
        self.rate = rate
        self.loop = loop
        self.startOffset = startOffset
        self.duration = duration
        self.asFastAsPossible = asFastAsPossible
        self.restamp = restamp
        self.realtimePriority = realtimePriority
    }
}

/// Progress of a replay, reported a few times per second.
public struct BagReplayProgress: Sendable {
    /// Pass number (0-based; > 0 only with `loop`).
    public var pass: Int
    /// Bag time played in this pass, seconds.
    public var position: Double
    /// Bag time to play per pass, seconds.
    public var total: Double
    /// Messages published so far.
    public var published: UInt64
}

/// What a replay did.
public struct BagReplayStats: Sendable {
    /// Messages published.
    public var published: UInt64 = 0
    /// Passes completed or started.
    public var passes: Int = 0
    /// Publication lateness against the schedule in ns, one entry per message (timed replay only).
    public var lateness: [Int64] = []
    /// Whether real-time priority was requested and granted.
    public var realtimePriority = false
}

/// Republishes a bag's messages with their original inter-message timing (by log time, scaled
/// by `rate`), or as fast as possible. With `restamp`, stamps are moved to "now"; with `loop`,
/// each pass shifts stamps by the bag's span plus one mean gap so consumers see time increase.
/// Stamps are rewritten inside the payload (`PayloadHeader`); other bytes are unchanged.
public final class BagPlayer {
    /// The recording being replayed (one file, a split set or a folder).
    public let recording: BagRecording
    /// The replay settings.
    public let options: BagReplayOptions
    private let include: (BagChannel) -> Bool

    /// Opens a bag for replay — one file, a split set (`NAME.mcap` for `NAME_0000.mcap`, …) or a
    /// folder, see `BagRecording`; `include` selects the channels to publish.
    public init(path: String, options: BagReplayOptions,
                include: @escaping (BagChannel) -> Bool = { _ in true }) throws(BagError) {
        guard options.rate > 0, options.rate.isFinite else { throw .usage("--rate must be a positive number, got \(options.rate)") }
        guard options.startOffset >= 0, options.duration.map({ $0 > 0 }) ?? true else {
            throw .usage("--start-offset must be ≥ 0 and --duration > 0")
        }
        recording = try BagRecording(path: path)
        self.options = options
        self.include = include
    }

    /// Plays the bag, calling `publish(topic, payload)` at each message's time, until the end
    /// (or forever with `loop`) or until `shouldStop()` returns true. `progress` is called about
    /// four times a second. Keeps one lateness sample per message when `recordLateness`.
    public func run(recordLateness: Bool = false, shouldStop: () -> Bool = { false },
                    progress: (BagReplayProgress) -> Void = { _ in },
                    publish: (String, [UInt8]) -> Void) throws(BagError) -> BagReplayStats {
        let summary = try recording.summary()
        var stats = BagReplayStats()
        guard summary.messageCount > 0 else { return stats }
        let length = Double(summary.endTime - summary.startTime) / 1e9
        guard options.startOffset <= length else {
            throw .usage(String(format: "--start-offset %g s is past the end of the bag (it spans %.3f s); give an offset below that",
                                options.startOffset, length))
        }
        if options.realtimePriority && !options.asFastAsPossible {
            stats.realtimePriority = RealtimePriority.enter()
        }
        defer { if stats.realtimePriority { RealtimePriority.leave() } }
        let bagStart = summary.startTime
        let windowStart = bagStart &+ UInt64(options.startOffset * 1e9)
        // `--duration` is a half-open window [start, start + duration).
        let windowEnd = options.duration.map { windowStart &+ max(UInt64($0 * 1e9), 1) &- 1 } ?? summary.endTime
        let span = windowEnd >= windowStart ? min(windowEnd, summary.endTime) &- windowStart : 0
        let meanGap = summary.messageCount > 1 ? (summary.endTime - summary.startTime) / (summary.messageCount - 1) : 0
        let passSpan = span + max(meanGap, 1)
        let total = Double(span) / 1e9
        let wallStart = realtimeNow()
        var pass = 0
        var lastProgress: UInt64 = 0
        while true {
            let cursor = try recording.messages(startTime: windowStart, endTime: windowEnd, include: include)
            let passStart = monotonicNow()
            let passShift = Int64(truncatingIfNeeded: UInt64(pass) &* passSpan)
            var sentThisPass = 0
            while let entry = try cursor.next() {
                if shouldStop() { return stats }
                let offset = entry.message.logTime &- windowStart
                if !options.asFastAsPossible {
                    let due = passStart &+ UInt64(Double(offset) / options.rate)
                    sleepUntil(due)
                    if recordLateness { stats.lateness.append(Int64(bitPattern: monotonicNow() &- due)) }
                }
                var payload = entry.message.data
                if options.restamp || passShift != 0, let header = PayloadHeader.peek(payload) {
                    var stamp = header.stamp &+ passShift
                    if options.restamp {
                        let sinceStart = Double(stamp &- Int64(bitPattern: windowStart)) / options.rate
                        stamp = Int64(bitPattern: wallStart) &+ Int64(sinceStart)
                    }
                    payload = PayloadHeader.restamped(payload, stamp: stamp) ?? payload
                }
                publish(entry.channel.topic, payload)
                stats.published += 1
                sentThisPass += 1
                let now = monotonicNow()
                if now &- lastProgress >= 250_000_000 {
                    lastProgress = now
                    progress(BagReplayProgress(pass: pass, position: Double(offset) / 1e9, total: total, published: stats.published))
                }
            }
            stats.passes = pass + 1
            guard options.loop, sentThisPass > 0, !shouldStop() else { break }
            if !options.asFastAsPossible { sleepUntil(passStart &+ UInt64(Double(passSpan) / options.rate)) }
            pass += 1
        }
        progress(BagReplayProgress(pass: pass, position: total, total: total, published: stats.published))
        return stats
    }
}

/// CLOCK_MONOTONIC in ns.
func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CLOCK_REALTIME in ns since the Unix epoch.
func realtimeNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Sleeps until the monotonic clock reaches `deadline` (absolute, immune to early wake-ups).
func sleepUntil(_ deadline: UInt64) {
    var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while monotonicNow() < deadline {
        if clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == 0 { break }
    }
}

/// Switches the calling thread to SCHED_FIFO and back.
enum RealtimePriority {
    /// Tries SCHED_FIFO priority 10 for the calling thread; false if not permitted.
    static func enter() -> Bool {
        var param = sched_param()
        param.sched_priority = 10
        return pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0
    }

    /// Returns the calling thread to the normal scheduler.
    static func leave() {
        var param = sched_param()
        param.sched_priority = 0
        _ = pthread_setschedparam(pthread_self(), SCHED_OTHER, &param)
    }
}
