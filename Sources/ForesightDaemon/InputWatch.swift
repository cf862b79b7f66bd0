import Foundation
import Logging

/// Warns once when configured input topics have not delivered a single message some seconds
/// after the daemon started — a publisher that is not running, a wrong endpoint, port or topic
/// prefix. (Topics that went silent after being heard are reported by the pipeline itself.)
public enum InputWatch {
    /// The topics of `expected` that `received` (messages per topic) has never counted.
    public static func neverHeard(_ expected: [String], received: [String: Int64]) -> [String] {
        expected.filter { (received[$0] ?? 0) == 0 }
    }

    /// Sleeps `delay`, then logs one warning naming every topic of `expected` never heard, with
    /// the endpoints and what to check. Returns the topics it warned about (empty when all were heard
    /// or the task was cancelled).
    @discardableResult
    public static func warnNeverHeard(after delay: Duration, expected: [String], endpoints: [String], connect: Bool,
                                      logger: Logger, received: @Sendable () -> [String: Int64]) async -> [String] {
        do {
            try await Task.sleep(for: delay)
        } catch {
            return []
        }
        let silent = neverHeard(expected, received: received())
        guard !silent.isEmpty else { return [] }
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        let everything = silent.count == expected.count
        let hint = everything
            ? (connect ? "is a publisher running and bound at \(endpoints.joined(separator: ", "))? (e.g. `foresight sim` or `foresight replay`)"
                       : "is a publisher connecting to \(endpoints.joined(separator: ", "))?")
                + " Check inputs.endpoints and the topic prefix in the launch file"
            : "check that sensor's publisher and its topic name (inputs.topics, prefix) in the launch file"
        logger.warning("no message received after \(String(format: "%.0f", seconds)) s on \(everything ? "any input topic" : "some input topics"): \(silent.joined(separator: ", ")); \(hint)")
        return silent
    }
}
