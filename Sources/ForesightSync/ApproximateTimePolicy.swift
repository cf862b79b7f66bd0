import ForesightWire
/// The ApproximateTime policy and Foresight's extensions on payload-free entries
/// (stamp, seq, payload slot). Non-generic so the optimizer specializes every hot loop; the
/// public generic ``ApproximateTimeSynchronizer`` keeps the payloads in a slab indexed by slot.
///
/// The ApproximateTime part is a faithful port of ROS 2 message_filters `approximate_time.hpp`
/// (see `docs/sync.md`); comments name the upstream functions.
@usableFromInline
struct ApproximateTimePolicy: Sendable {
    /// A queued message without its payload.
    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline var stamp: Int64
        @usableFromInline var seq: UInt32
        @usableFromInline var slot: Int32

        @usableFromInline
        init(stamp: Int64, seq: UInt32, slot: Int32) {
            self.stamp = stamp
            self.seq = seq
            self.slot = slot
        }
    }

    /// Largest accepted stamp.
    static var maxStamp: Int64 { Int64.max / 2 }

    @usableFromInline let config: SyncConfig
    private(set) var counters: SyncCounters
    private(set) var streamTime: Int64?
    /// Emitted frames since the last ``drain``: `topicCount` entries each, `nil` = missing.
    @usableFromInline private(set) var emittedMembers: [Entry?] = []
    /// Reason of each emitted frame since the last ``drain``.
    @usableFromInline private(set) var emittedReasons: [FrameReason] = []
    /// Slots of messages discarded (dropped, unmatched, late) since the last ``drain``.
    @usableFromInline private(set) var releasedSlots: [Int32] = []

    private let topicCount: Int
    private let ageFactor: Double
    private let lowerBounds: [Int64]
    private var firstStamp: Int64?
    /// Messages not yet examined by the policy, per topic (ROS `deques_`).
    private var deques: [RingBuffer<Entry>]
    /// Messages tentatively passed over while searching for the best candidate (ROS `past_`).
    private var past: [[Entry]]
    private var nonEmptyDeques = 0
    /// The pivot topic of the current candidate; `nil` when there is no candidate.
    private var pivot: Int?
    private var pivotTime: Int64 = 0
    private var candidateStart: Int64 = 0
    private var candidateEnd: Int64 = 0
    private var hasDroppedMessages: [Bool]
    /// Pivot stamp of the last deadline frame: anything at or before it arrives too late.
    private var deadlineHorizon: Int64?
    /// Oldest stamp among messages discarded without being emitted (queue drops, policy
    /// discards) since the last frame: the deadline counts from it too, so evictions cannot hide
    /// a stall (e.g. a small queue, or a topic whose stamps never fall within `maxInterval`).
    private var discardWatermark: Int64?
    private var reportedSilent: [Bool]
    private var virtualMoves: [Int]
    private var chosen: [Int]
    /// Consecutive deadline frames that went out without the topic (reset when the topic's next
    /// message is queued). A topic missing from ``deadTopicMisses`` frames in a row is treated
    /// as dead: frames of the live topics no longer wait for its deadline.
    private var missStreak: [Int]
    /// Deadline frames missing a topic in a row before frames stop waiting for it.
    static let deadTopicMisses = 2

    init(config: SyncConfig) throws(SyncConfigError) {
        try config.validate()
        self.config = config
        topicCount = config.topics.count
        ageFactor = 1 + config.agePenalty
        lowerBounds = config.topics.map(\.interMessageLowerBound)
        counters = SyncCounters(topicCount: topicCount)
        deques = Array(repeating: RingBuffer(capacity: config.queueSize + 1), count: topicCount)
        past = Array(repeating: [], count: topicCount)
        for i in 0..<topicCount { past[i].reserveCapacity(config.queueSize + 1) }
        hasDroppedMessages = Array(repeating: false, count: topicCount)
        virtualMoves = Array(repeating: 0, count: topicCount)
        reportedSilent = Array(repeating: false, count: topicCount)
        chosen = Array(repeating: -1, count: topicCount)
        missStreak = Array(repeating: 0, count: topicCount)
    }

    // MARK: - Input

    /// Empties the output buffers (emitted frames and released slots), keeping capacity.
    @usableFromInline
    mutating func drain() {
        emittedMembers.removeAll(keepingCapacity: true)
        emittedReasons.removeAll(keepingCapacity: true)
        releasedSlots.removeAll(keepingCapacity: true)
    }

    /// Checks the stamp (throwing and counting a rejection) without changing anything else.
    @usableFromInline
    mutating func check(topic: Int, stamp: Int64) throws(SyncInputError) {
        guard topic >= 0 && topic < topicCount else {
            throw .unknownTopic(index: topic, topicCount: topicCount)
        }
        counters.topics[topic].received += 1
        if stamp < 0 || stamp > Self.maxStamp {
            counters.topics[topic].rejectedOutOfRange += 1
            throw .stampOutOfRange(topic: config.topics[topic].name, stamp: stamp)
        }
        var violatesLowerBound = false
        if let previous = counters.topics[topic].lastStamp {
            if stamp <= previous {
                counters.topics[topic].rejectedBackwards += 1
                throw .stampNotIncreasing(topic: config.topics[topic].name, stamp: stamp, previous: previous)
            }
            violatesLowerBound = stamp - previous < lowerBounds[topic]
        }
        if let bound = config.futureBound, let newest = streamTime, stamp - newest > bound {
            counters.topics[topic].rejectedFuture += 1
            throw .stampTooFarAhead(topic: config.topics[topic].name, stamp: stamp, newest: newest, bound: bound)
        }
        if violatesLowerBound { counters.topics[topic].lowerBoundViolations += 1 }
    }

    /// Accepts a message that passed ``check(topic:stamp:)``; emitted frames and released slots
    /// go to the output buffers.
    @usableFromInline
    mutating func accept(topic: Int, _ entry: Entry) {
        let stamp = entry.stamp
        counters.topics[topic].accepted += 1
        counters.topics[topic].lastStamp = stamp
        if firstStamp == nil { firstStamp = stamp }
        // Already past its deadline when it arrives (older than the newest stamp by more than the
        // deadline), or behind a frame that already left: late. It must not force frames out of
        // messages that are not late themselves.
        let pastDeadline = config.deadline.map { deadline in streamTime.map { stamp < $0 - deadline } ?? false } ?? false
        streamTime = Swift.max(streamTime ?? stamp, stamp)

        if pastDeadline || deadlineHorizon.map({ stamp <= $0 }) == true {
            counters.topics[topic].unmatched += 1
            counters.topics[topic].late += 1
            releasedSlots.append(entry.slot)
        } else {
            missStreak[topic] = 0
            enqueue(topic: topic, entry)
            emitWithoutDeadTopics()
        }
        if let now = streamTime { enforceDeadline(now: now) }
        emitWithoutDeadTopics()  // a deadline frame may just have shown a topic dead
    }

    /// When some topics are dead (see ``missStreak``) and every live topic has a message, the
    /// frame of the live topics goes out now instead of at the deadline: partial frames then
    /// come at the live sensors' rate, each from their messages nearest the newest front.
    private mutating func emitWithoutDeadTopics() {
        guard config.deadline != nil else { return }
        while true {
            var dead = 0
            var waiting = false
            for i in 0..<topicCount {
                if deques[i].isEmpty && past[i].isEmpty {
                    if missStreak[i] >= Self.deadTopicMisses { dead += 1 } else { waiting = true }
                }
            }
            guard dead > 0, dead < topicCount, !waiting else { return }
            forceFrame()
            process()
        }
    }

    /// Enforces the deadline as of `now` (clamped to the valid stamp range; a `now` behind the
    /// newest stamp counts as the newest stamp). Stream time itself stays the newest accepted
    /// stamp: a clock reading never accumulates into it, so the next call measures from the
    /// stamps again and a pause cannot push stream time ahead of the sensors.
    @usableFromInline
    mutating func advance(to now: Int64) {
        guard let newest = streamTime else { return }
        let clamped = Swift.min(Swift.max(now, 0), Self.maxStamp)
        enforceDeadline(now: Swift.max(newest, clamped))
        emitWithoutDeadTopics()
    }

    /// Forces out every pending message as deadline frames (end of a stream or shutdown).
    @usableFromInline
    mutating func flush() {
        while oldestPendingStamp() != nil {
            forceFrame()
            process()
        }
    }

    /// Flushes, then forgets every stamp (per-topic last stamps, stream time, deadline horizon)
    /// while keeping the cumulative counters: for a clock jump or a publisher restart.
    @usableFromInline
    mutating func restart() {
        flush()
        for i in 0..<topicCount {
            counters.topics[i].lastStamp = nil
            hasDroppedMessages[i] = false
            missStreak[i] = 0
        }
        streamTime = nil
        firstStamp = nil
        deadlineHorizon = nil
        discardWatermark = nil
        pivot = nil
    }

    /// Forgets one topic's last stamp (its publisher restarted), so that its next stamp is
    /// accepted even if it is older; everything else — queues, stream time, the deadline
    /// horizon — is kept, so an older stamp is then simply `late`.
    @usableFromInline
    mutating func forget(topic: Int) {
        guard topic >= 0 && topic < topicCount else { return }
        counters.topics[topic].lastStamp = nil
    }

    // MARK: - Queries

    /// Topics whose last accepted stamp is older than `now − silenceThreshold` (or that never
    /// sent anything although the stream started more than `silenceThreshold` ago), ascending.
    /// `now` defaults to the stream time.
    func silentTopics(now: Int64? = nil) -> [Int] {
        guard let now = now ?? streamTime, let first = firstStamp else { return [] }
        let threshold = config.silenceThreshold
        return (0..<topicCount).filter { topic in
            let last = counters.topics[topic].lastStamp ?? first
            let silentFor = now.subtractingReportingOverflow(last)
            return silentFor.overflow ? now > last : silentFor.partialValue > threshold
        }
    }

    /// Topics whose silence state changed since the previous call (see ``SilenceChange``).
    mutating func silenceChanges(now: Int64?) -> [SilenceChange] {
        let silent = silentTopics(now: now)
        var changes: [SilenceChange] = []
        for topic in 0..<topicCount {
            let isSilent = silent.contains(topic)
            if isSilent != reportedSilent[topic] {
                reportedSilent[topic] = isSilent
                changes.append(SilenceChange(topic: topic, name: config.topics[topic].name, isSilent: isSilent,
                                             lastStamp: counters.topics[topic].lastStamp))
            }
        }
        return changes
    }

    /// Number of accepted messages per topic still held (not yet emitted or discarded).
    var pendingCounts: [Int] {
        (0..<topicCount).map { deques[$0].count + past[$0].count }
    }

    /// The oldest stamp still held, if any.
    func oldestPendingStamp() -> Int64? {
        var oldest: Int64?
        for i in 0..<topicCount {
            guard let stamp = past[i].first?.stamp ?? deques[i].first?.stamp else { continue }
            if oldest.map({ stamp < $0 }) ?? true { oldest = stamp }
        }
        return oldest
    }

    // MARK: - ApproximateTime (port of message_filters approximate_time.hpp)

    /// ROS `add<i>`: queue the message, run the policy, enforce the queue size.
    private mutating func enqueue(topic: Int, _ entry: Entry) {
        deques[topic].append(entry)
        if deques[topic].count == 1 {
            nonEmptyDeques += 1
            if nonEmptyDeques == topicCount { process() }
        }
        if deques[topic].count + past[topic].count > config.queueSize {
            nonEmptyDeques = 0
            recoverAll()
            let evicted = deques[topic].removeFirst()
            noteDiscard(evicted)
            counters.topics[topic].dropped += 1
            hasDroppedMessages[topic] = true
            if pivot != nil {
                pivot = nil
                process()
            }
        }
    }

    /// Time penalized by the age factor, as ROS `Duration * (1 + age_penalty)` (truncating).
    private func penalized(_ duration: Int64) -> Int64 {
        let value = Double(duration) * ageFactor
        if value >= 9.2e18 { return Int64.max }
        if value <= -9.2e18 { return Int64.min }
        return Int64(value)
    }

    private func frontStamp(_ topic: Int) -> Int64 { deques[topic][0].stamp }

    /// ROS `getCandidateBoundary`: earliest (`end == false`) or latest front stamp; ties go to the
    /// lowest index for the start and the highest index for the end, as upstream.
    private func candidateBoundary(end: Bool) -> (index: Int, time: Int64) {
        var index = 0
        var time = frontStamp(0)
        for i in 1..<topicCount {
            let stamp = frontStamp(i)
            if (stamp < time) != end {
                time = stamp
                index = i
            }
        }
        return (index, time)
    }

    /// ROS `getVirtualTime`: the front stamp, or for an exhausted topic the earliest stamp its
    /// next message could have (last stamp plus the lower bound, at least the pivot time).
    private func virtualTime(_ topic: Int) -> Int64 {
        if deques[topic].isEmpty {
            guard let last = past[topic].last else { return pivotTime }
            return Swift.max(last.stamp + lowerBounds[topic], pivotTime)
        }
        return frontStamp(topic)
    }

    private func virtualBoundary(end: Bool) -> (index: Int, time: Int64) {
        var index = 0
        var time = virtualTime(0)
        for i in 0..<topicCount {
            let stamp = virtualTime(i)
            if (stamp < time) != end {
                time = stamp
                index = i
            }
        }
        return (index, time)
    }

    private mutating func deleteFront(_ topic: Int) {
        noteDiscard(deques[topic].removeFirst())
        counters.topics[topic].unmatched += 1
        if deques[topic].isEmpty { nonEmptyDeques -= 1 }
    }

    /// Releases a discarded message's slot and lowers the discard watermark.
    private mutating func noteDiscard(_ entry: Entry) {
        releasedSlots.append(entry.slot)
        discardWatermark = Swift.min(discardWatermark ?? entry.stamp, entry.stamp)
    }

    private mutating func moveFrontToPast(_ topic: Int) {
        past[topic].append(deques[topic].removeFirst())
        if deques[topic].isEmpty { nonEmptyDeques -= 1 }
    }

    /// ROS `makeCandidate`: the fronts become the candidate; what was passed over is discarded.
    private mutating func makeCandidate() {
        for i in 0..<topicCount where !past[i].isEmpty {
            counters.topics[i].unmatched += past[i].count
            for entry in past[i] { noteDiscard(entry) }
            past[i].removeAll(keepingCapacity: true)
        }
    }

    private mutating func recover(_ topic: Int, count: Int) {
        for _ in 0..<Swift.min(count, past[topic].count) {
            deques[topic].prepend(past[topic].removeLast())
        }
        if !deques[topic].isEmpty { nonEmptyDeques += 1 }
    }

    /// ROS `recoverAll()`: every passed-over message goes back to its queue.
    /// The caller zeroes `nonEmptyDeques` first, as upstream does.
    private mutating func recoverAll() {
        for i in 0..<topicCount { recover(i, count: past[i].count) }
    }

    /// ROS `publishCandidate`: after recovery, the front of every queue is the candidate member.
    private mutating func publishCandidate() {
        pivot = nil
        nonEmptyDeques = 0
        for i in 0..<topicCount {
            recover(i, count: past[i].count)
            if deques[i].isEmpty {  // unreachable while a candidate exists
                emittedMembers.append(nil)
                continue
            }
            emittedMembers.append(deques[i].removeFirst())
            counters.topics[i].matched += 1
            if deques[i].isEmpty { nonEmptyDeques -= 1 }
        }
        finishFrame(reason: .optimal)
    }

    /// ROS `process`: while every topic has a message, refine the candidate and publish it once
    /// no future message can beat it.
    private mutating func process() {
        while nonEmptyDeques == topicCount {
            let (endIndex, endTime) = candidateBoundary(end: true)
            let (startIndex, startTime) = candidateBoundary(end: false)
            for i in 0..<topicCount where i != endIndex { hasDroppedMessages[i] = false }
            if pivot == nil {
                if let maxInterval = config.maxInterval, endTime - startTime > maxInterval {
                    deleteFront(startIndex)
                    continue
                }
                if hasDroppedMessages[endIndex] {
                    deleteFront(startIndex)
                    continue
                }
                makeCandidate()
                candidateStart = startTime
                candidateEnd = endTime
                pivot = endIndex
                pivotTime = endTime
                moveFrontToPast(startIndex)
            } else {
                if penalized(endTime - candidateEnd) >= startTime - candidateStart {
                    moveFrontToPast(startIndex)
                } else {
                    makeCandidate()
                    candidateStart = startTime
                    candidateEnd = endTime
                    moveFrontToPast(startIndex)
                }
            }
            let ageCheck = penalized(endTime - candidateEnd)
            if startIndex == pivot {
                publishCandidate()
            } else if ageCheck >= pivotTime - candidateStart {
                publishCandidate()
            } else if nonEmptyDeques < topicCount {
                virtualSearch()
            }
        }
    }

    /// ROS virtual search: assume each exhausted topic's next message arrives as early as its
    /// lower bound allows and check whether the candidate can already be proven optimal.
    private mutating func virtualSearch() {
        for i in 0..<topicCount { virtualMoves[i] = 0 }
        while true {
            let (_, endTime) = virtualBoundary(end: true)
            let (startIndex, startTime) = virtualBoundary(end: false)
            if penalized(endTime - candidateEnd) >= pivotTime - candidateStart {
                publishCandidate()
                return
            }
            if penalized(endTime - candidateEnd) < startTime - candidateStart || deques[startIndex].isEmpty {
                nonEmptyDeques = 0
                for i in 0..<topicCount { recover(i, count: virtualMoves[i]) }
                return
            }
            moveFrontToPast(startIndex)
            virtualMoves[startIndex] += 1
        }
    }

    // MARK: - Deadline (Foresight extension)

    private mutating func enforceDeadline(now: Int64) {
        guard let deadline = config.deadline else { return }
        while let oldestPending = oldestPendingStamp() {
            let oldest = Swift.min(oldestPending, discardWatermark ?? oldestPending)
            if now - oldest <= deadline { break }
            forceFrame()
            process()
        }
    }

    /// Emits the best set that the held messages allow, without waiting for absent topics.
    ///
    /// The pivot is the latest queue front (the earliest time by which every present topic has a
    /// message). The set is chosen like an ApproximateTime set around the pivot: among the
    /// windows `[low, low + bound]` that contain the pivot (`bound` = `maxInterval`, or the
    /// deadline when that is unbounded; `low` ranges over the held stamps), each present topic
    /// contributes its earliest message at or after `low` when it lies inside the window; the
    /// window with the most members wins, then the smallest span, then the oldest. So members
    /// are the messages of one set — never the nearest message of the next period because it
    /// happens to lie closer to a late pivot. Messages at or before the pivot that were not
    /// chosen are discarded, so every forced frame consumes the oldest pending message and
    /// output never stalls.
    private mutating func forceFrame() {
        nonEmptyDeques = 0
        recoverAll()
        pivot = nil
        var pivotTopic = -1
        var pivotStamp = Int64.min
        for i in 0..<topicCount where !deques[i].isEmpty {
            let stamp = frontStamp(i)
            if stamp >= pivotStamp {
                pivotStamp = stamp
                pivotTopic = i
            }
        }
        guard pivotTopic >= 0 else { return }

        let bound = config.maxInterval ?? config.deadline
        var bestCount = -1
        var bestSpan = Int64.max
        var bestLow = Int64.max
        for t in 0..<topicCount where !deques[t].isEmpty {
            for k in 0..<deques[t].count {
                let low = deques[t][k].stamp
                if low > pivotStamp { break }
                if let bound, pivotStamp - low > bound { continue }
                // Earliest message at or after `low` of every present topic, inside the window.
                var count = 0
                var high = pivotStamp
                for i in 0..<topicCount {
                    virtualMoves[i] = -1
                    var j = 0
                    let n = deques[i].count
                    while j < n && deques[i][j].stamp < low { j += 1 }
                    guard j < n else { continue }
                    let stamp = deques[i][j].stamp
                    if let bound, stamp - low > bound { continue }
                    virtualMoves[i] = j
                    count += 1
                    high = Swift.max(high, stamp)
                }
                let span = high - low
                if count > bestCount || (count == bestCount && (span < bestSpan || (span == bestSpan && low < bestLow))) {
                    bestCount = count
                    bestSpan = span
                    bestLow = low
                    for i in 0..<topicCount { chosen[i] = virtualMoves[i] }
                }
            }
        }
        if bestCount < 0 {  // unreachable: the pivot's own stamp is always a window start
            for i in 0..<topicCount { chosen[i] = i == pivotTopic ? 0 : -1 }
        }

        let first = emittedMembers.count
        for _ in 0..<topicCount { emittedMembers.append(nil) }
        for i in 0..<topicCount where !deques[i].isEmpty {
            if chosen[i] >= 0 {
                for _ in 0..<chosen[i] {
                    releasedSlots.append(deques[i].removeFirst().slot)
                    counters.topics[i].unmatched += 1
                }
                emittedMembers[first + i] = deques[i].removeFirst()
                counters.topics[i].matched += 1
            } else {
                while let front = deques[i].first, front.stamp <= pivotStamp {
                    releasedSlots.append(deques[i].removeFirst().slot)
                    counters.topics[i].unmatched += 1
                }
            }
        }
        deadlineHorizon = pivotStamp
        nonEmptyDeques = deques.reduce(0) { $0 + ($1.isEmpty ? 0 : 1) }
        finishFrame(reason: .deadline)
    }

    /// Counts the frame whose `topicCount` members were just appended to `emittedMembers`.
    private mutating func finishFrame(reason: FrameReason) {
        let first = emittedMembers.count - topicCount
        var missing = 0
        for i in 0..<topicCount {
            if emittedMembers[first + i] == nil {
                counters.topics[i].missing += 1
                missing += 1
                if reason == .deadline { missStreak[i] += 1 }
            } else {
                missStreak[i] = 0
            }
        }
        counters.frames += 1
        if reason == .deadline {
            counters.deadlineFrames += 1
            if missing > 0 { counters.partialFrames += 1 }
        }
        emittedReasons.append(reason)
        discardWatermark = nil
    }
}
