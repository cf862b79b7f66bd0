import ForesightBag
import ForesightBus
import Foundation

/// A recording as a message source for `echo`: each message as the two frames a subscriber
/// receives (topic, payload) with its log time as the receive time, in log-time order, so the
/// echo formatter prints a bag exactly as it prints a socket.
struct BagEchoSource: Sequence, IteratorProtocol {
    private let cursor: BagMessageCursor
    /// The first error met while reading (the sequence ends there).
    private(set) var error: BagError?

    /// True if `argument` names a recording rather than an endpoint (no `transport://`).
    static func isRecording(_ argument: String) -> Bool {
        !argument.contains("://")
    }

    /// Opens `path` (a file, split set or folder), keeping topics that start with one of
    /// `prefixes` (all when empty) — the same selection a subscription makes.
    init(path: String, prefixes: [String]) throws {
        if !FileManager.default.fileExists(atPath: path), !path.hasSuffix(".mcap") {
            throw CLIError("'\(path)' is neither a bag nor an endpoint: give an .mcap file (or a folder of them), "
                           + "or an endpoint with its transport, e.g. tcp://127.0.0.1:5600")
        }
        let recording = try openRecording(path)
        do {
            cursor = try recording.messages { channel in prefixes.isEmpty || prefixes.contains { channel.topic.hasPrefix($0) } }
        } catch {
            throw CLIError("\(error)")
        }
    }

    mutating func next() -> BusMessage? {
        guard error == nil else { return nil }
        do {
            guard let entry = try cursor.next() else { return nil }
            return BusMessage(frames: [Array(entry.channel.topic.utf8), entry.message.data],
                              receiveTime: Int64(clamping: entry.message.logTime))
        } catch {
            self.error = error
            return nil
        }
    }
}
