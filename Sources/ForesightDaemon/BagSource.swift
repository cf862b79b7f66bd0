import ForesightBag

/// Bag messages as the pipeline's input sequence (topic and payload frames, log time as receive time).
final class BagSource: Sequence, IteratorProtocol, @unchecked Sendable {
    private let cursor: BagMessageCursor
    private let progress: (@Sendable (Int) -> Void)?
    private(set) var count = 0
    private(set) var error: BagError?

    init(cursor: BagMessageCursor, progress: (@Sendable (Int) -> Void)?) {
        self.cursor = cursor
        self.progress = progress
    }

    func next() -> (frames: [[UInt8]], receiveTime: Int64)? {
        guard error == nil else { return nil }
        do {
            guard let entry = try cursor.next() else { return nil }
            count += 1
            if count % 500 == 0 { progress?(count) }
            return ([Array(entry.channel.topic.utf8), entry.message.data], Int64(clamping: entry.message.logTime))
        } catch {
            self.error = error
            return nil
        }
    }
}
