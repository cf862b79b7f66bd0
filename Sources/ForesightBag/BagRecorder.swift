import Foundation

/// How a recording is split into several files.
public struct BagSplitPolicy: Sendable, Equatable {
    /// Start a new file once the current one reaches this many bytes (nil: no size limit).
    public var maxBytes: UInt64?
    /// Start a new file once the current one spans this many nanoseconds of log time (nil: no limit).
    public var maxDuration: UInt64?

    /// A policy with the given limits (both nil: one file).
    public init(maxBytes: UInt64? = nil, maxDuration: UInt64? = nil) {
        self.maxBytes = maxBytes
        self.maxDuration = maxDuration
    }

    /// True if either limit is set.
    public var splits: Bool { maxBytes != nil || maxDuration != nil }

    /// The path of split file `index` for a base path `name.mcap`: `name_0000.mcap`, `name_0001.mcap`, …
    public static func path(base: String, index: Int) -> String {
        let url = URL(fileURLWithPath: base)
        let ext = url.pathExtension.isEmpty ? "mcap" : url.pathExtension
        let stem = url.deletingPathExtension().path
        return stem + "_" + String(format: "%04d", index) + "." + ext
    }
}

/// The schema a topic is recorded with (name, encoding and text), or none.
public struct BagTopicSchema: Sendable, Equatable {
    /// Schema name, e.g. `foresight.Image`.
    public var name: String
    /// Schema encoding, e.g. `jsonschema`.
    public var encoding: String
    /// Schema text.
    public var data: [UInt8]

    /// A schema with the given fields.
    public init(name: String, encoding: String, data: [UInt8]) {
        self.name = name
        self.encoding = encoding
        self.data = data
    }
}

/// Live counters of a recording.
public struct BagRecorderStats: Sendable, Equatable {
    /// Messages handed to `submit`.
    public var received: UInt64 = 0
    /// Messages written to disk (or to the open chunk).
    public var written: UInt64 = 0
    /// Messages dropped because the hand-off buffer was full (disk too slow) or writing failed.
    public var dropped: UInt64 = 0
    /// Payload bytes of dropped messages.
    public var droppedBytes: UInt64 = 0
    /// Payload bytes written.
    public var writtenBytes: UInt64 = 0
    /// Bytes waiting in the hand-off buffer now.
    public var bufferedBytes: UInt64 = 0
    /// Largest hand-off buffer fill seen.
    public var peakBufferedBytes: UInt64 = 0
    /// Files written (finished or open).
    public var files: [String] = []
    /// The first write error, if writing failed (later messages are dropped).
    public var error: BagError?
}

/// Records a live stream to MCAP without ever blocking the receive path.
///
/// `submit` (any thread, never blocks) appends to a bounded hand-off buffer; a dedicated writer
/// thread drains it into `BagWriter`s (splitting files by size or duration). When the buffer
/// would exceed `bufferLimit` bytes, messages are dropped and counted. Chunks are written as
/// they fill, and an open chunk older than `maxChunkAge` is written too, so a crash loses at
/// most that much. `finish()` drains the buffer and completes the file(s).
///
/// Each payload is stored byte for byte; `publish_time` and `sequence` come from the payload's
/// `stamp`/`seq` (see `PayloadHeader`), or fall back to the receive time and 0.
public final class BagRecorder: @unchecked Sendable {
    // Invariant for @unchecked Sendable: every mutable field below is guarded by `condition`,
    // except the writer state (`writer`, `channelIDs`, …) which only the writer thread touches.
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var stats = BagRecorderStats()
    private var closing = false
    private let done = DispatchSemaphore(value: 0)

    /// Base output path.
    public let path: String
    /// Writer options of every file.
    public let options: BagWriterOptions
    /// File splitting.
    public let split: BagSplitPolicy
    /// Hand-off buffer bound in payload bytes.
    public let bufferLimit: UInt64
    /// An open chunk older than this (ns, by wall clock) is written out.
    public let maxChunkAge: UInt64
    private let schemaFor: @Sendable (String) -> BagTopicSchema?
    private let metadata: [String: String]

    private struct Pending {
        var topic: String
        var payload: [UInt8]
        var receiveTime: UInt64
    }

    // Writer-thread state.
    private var writer: BagWriter?
    private var fileIndex = 0
    private var fileStartLogTime: UInt64 = 0
    private var channelIDs: [String: UInt16] = [:]
    private var lastFlush = DispatchTime.now().uptimeNanoseconds

    /// Creates the first output file and starts the writer thread.
    /// - Parameters:
    ///   - schemaFor: the schema to record a topic with (nil: schemaless channel).
    ///   - metadata: written as an MCAP metadata record named `foresight.recording` in every file.
    public init(path: String, options: BagWriterOptions = BagWriterOptions(), split: BagSplitPolicy = BagSplitPolicy(),
                bufferLimit: UInt64 = 512 << 20, maxChunkAge: UInt64 = 1_000_000_000,
                metadata: [String: String] = [:],
                schemaFor: @escaping @Sendable (String) -> BagTopicSchema?) throws(BagError) {
        self.path = path
        self.options = options
        self.split = split
        self.bufferLimit = bufferLimit
        self.maxChunkAge = maxChunkAge
        self.schemaFor = schemaFor
        self.metadata = metadata
        try openNextFile()
        let thread = Thread { [self] in writerLoop() }
        thread.name = "foresight-bag-writer"
        thread.start()
    }

    /// Hands one received message to the writer thread. Never blocks on disk: returns false
    /// (and counts a drop) if the buffer is full, the recorder is finishing, or writing failed.
    @discardableResult
    public func submit(topic: String, payload: [UInt8], receiveTime: UInt64) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        stats.received += 1
        let size = UInt64(payload.count)
        if closing || stats.error != nil || stats.bufferedBytes + size > bufferLimit {
            stats.dropped += 1
            stats.droppedBytes += size
            return false
        }
        queue.append(Pending(topic: topic, payload: payload, receiveTime: receiveTime))
        stats.bufferedBytes += size
        stats.peakBufferedBytes = max(stats.peakBufferedBytes, stats.bufferedBytes)
        if queue.count == 1 { condition.signal() }
        return true
    }

    /// A snapshot of the counters.
    public var currentStats: BagRecorderStats {
        condition.lock()
        defer { condition.unlock() }
        return stats
    }

    /// Stops accepting messages, writes everything buffered, finishes the file(s) and returns the
    /// final counters. Safe to call from any thread, once or more.
    @discardableResult
    public func finish() -> BagRecorderStats {
        condition.lock()
        closing = true
        condition.signal()
        condition.unlock()
        done.wait()
        done.signal()  // leave the semaphore open for other and later callers
        return currentStats
    }

    private func writerLoop() {
        var batch: [Pending] = []
        while true {
            condition.lock()
            while queue.isEmpty && !closing {
                if !condition.wait(until: Date(timeIntervalSinceNow: 0.25)) { break }
            }
            swap(&batch, &queue)
            let stop = closing && batch.isEmpty
            condition.unlock()
            if stop { break }
            var failure: BagError?
            for index in batch.indices {
                let size = UInt64(batch[index].payload.count)
                var ok = false
                if failure == nil {
                    do throws(BagError) {
                        try write(batch[index])
                        ok = true
                    } catch {
                        failure = error
                    }
                }
                batch[index].payload = []  // release the memory now: the bound covers what is held
                // Free the item's share of the bound right away, so the receive side can refill
                // while the rest of the batch is written.
                condition.lock()
                stats.bufferedBytes -= size
                if ok {
                    stats.written += 1
                    stats.writtenBytes += size
                } else {
                    stats.dropped += 1
                    stats.droppedBytes += size
                    if stats.error == nil { stats.error = failure }
                }
                condition.unlock()
            }
            if failure == nil, let error = flushIfOld() {
                condition.lock()
                if stats.error == nil { stats.error = error }
                condition.unlock()
            }
            batch.removeAll(keepingCapacity: true)
        }
        do throws(BagError) {
            try writer?.finish()
        } catch {
            condition.lock()
            if stats.error == nil { stats.error = error }
            condition.unlock()
        }
        writer = nil
        done.signal()
    }

    private func flushIfOld() -> BagError? {
        let now = DispatchTime.now().uptimeNanoseconds
        guard let writer, writer.bufferedBytes > 0, now - lastFlush >= maxChunkAge else { return nil }
        lastFlush = now
        do throws(BagError) { try writer.flushChunk() } catch { return error }
        return nil
    }

    private func write(_ item: Pending) throws(BagError) {
        if writer == nil { try openNextFile() }
        guard var current = writer else { return }
        if split.splits, current.messageCount > 0 {
            let bytes = current.bytesWritten + UInt64(current.bufferedBytes)
            let tooBig = split.maxBytes.map { bytes + UInt64(item.payload.count) > $0 } ?? false
            let tooLong = split.maxDuration.map { item.receiveTime >= fileStartLogTime && item.receiveTime - fileStartLogTime >= $0 } ?? false
            if tooBig || tooLong {
                try current.finish()
                try openNextFile()
                guard let next = writer else { return }
                current = next
            }
        }
        let channel: UInt16
        if let id = channelIDs[item.topic] {
            channel = id
        } else {
            var schemaID: UInt16 = 0
            if let schema = schemaFor(item.topic) {
                schemaID = try current.addSchema(name: schema.name, encoding: schema.encoding, data: schema.data)
            }
            channel = try current.addChannel(topic: item.topic, messageEncoding: "msgpack", schemaID: schemaID)
            channelIDs[item.topic] = channel
        }
        if current.messageCount == 0 { fileStartLogTime = item.receiveTime }
        let header = PayloadHeader.peek(item.payload)
        let publish = header.map { $0.stamp >= 0 ? UInt64($0.stamp) : 0 } ?? item.receiveTime
        let before = current.bytesWritten
        try current.write(channelID: channel, sequence: header?.seq ?? 0, logTime: item.receiveTime,
                          publishTime: publish, data: item.payload)
        if current.bytesWritten != before { lastFlush = DispatchTime.now().uptimeNanoseconds }
    }

    private func openNextFile() throws(BagError) {
        let filePath = split.splits ? BagSplitPolicy.path(base: path, index: fileIndex) : path
        fileIndex += 1
        let next = try BagWriter(path: filePath, options: options)
        if !metadata.isEmpty { try next.writeMetadata(name: "foresight.recording", values: metadata) }
        writer = next
        channelIDs.removeAll()
        condition.lock()
        stats.files.append(filePath)
        condition.unlock()
    }
}
