import Foundation
import ForesightBag
import ForesightSim
import ForesightSite

/// One drive to evaluate or turn into training data: a recorded bag, or a simulation generated
/// in memory (no bag written) — the simulator's messages go through exactly the same ingest,
/// synchronizer and preprocessing as a bag's.
public enum Drive: Sendable, Equatable {
    /// A recorded MCAP bag.
    case bag(path: String)
    /// `foresight sim` in process: the scenario file, seed and simulated seconds, at the launch file's site.
    case simulation(scenario: String, seed: UInt64, duration: Double)

    /// A short name: the bag's file name without extension, or `<scenario>-<seed>`.
    public func name(scenarioName: String? = nil) -> String {
        switch self {
        case .bag(let path): return URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        case let .simulation(scenario, seed, _):
            return "\(scenarioName ?? URL(fileURLWithPath: scenario).deletingPathExtension().lastPathComponent)-\(seed)"
        }
    }

    /// The drives `--sim --seeds A..B` names.
    public static func simulations(scenario: String, seeds: ClosedRange<UInt64>, duration: Double) -> [Drive] {
        seeds.map { .simulation(scenario: scenario, seed: $0, duration: duration) }
    }

    /// Parses `A..B` (inclusive) or a single seed `A`.
    public static func seedRange(_ text: String) -> ClosedRange<UInt64>? {
        let parts = text.components(separatedBy: "..")
        if parts.count == 1, let a = UInt64(parts[0]) { return a...a }
        guard parts.count == 2, let a = UInt64(parts[0]), let b = UInt64(parts[1]), a <= b else { return nil }
        return a...b
    }

    /// Opens the drive's messages in stamp order: topic + payload frames and the receive time.
    /// The simulation uses `site` (the launch file's), so positions, beams and topics match it.
    func open(topics: Set<String>, site: Site) throws -> DriveMessages {
        switch self {
        case .bag(let path):
            let reader: BagRecording
            do { reader = try BagRecording(path: path) } catch { throw LaunchError("bag \(path): \(error)") }
            do {
                return DriveMessages(bag: BagSource(cursor: try reader.messages { topics.contains($0.topic) }, progress: nil))
            } catch {
                throw LaunchError("bag \(path): \(error)")
            }
        case let .simulation(scenarioPath, seed, duration):
            let scenario: Scenario
            do { scenario = try Scenario.load(path: scenarioPath) } catch { throw LaunchError("scenario \(scenarioPath): \(error)") }
            let simulator: Simulator
            do { simulator = try Simulator(site: site, scenario: scenario, seed: seed) } catch { throw LaunchError("scenario \(scenarioPath): \(error)") }
            return DriveMessages(simulator: simulator, duration: duration)
        }
    }

    /// The topic table of a bag (split sets and folders read as one), nil for simulations.
    public func bagInfo() throws -> BagInfo? {
        guard case .bag(let path) = self else { return nil }
        do { return try BagRecording(path: path).info() } catch { throw LaunchError("bag \(path): \(error)") }
    }

    /// The scenario's own name for a simulation (`scenario:` in its file), nil for bags.
    public func scenarioName() throws -> String? {
        guard case let .simulation(path, _, _) = self else { return nil }
        do { return try Scenario.load(path: path).name } catch { throw LaunchError("scenario \(path): \(error)") }
    }
}

/// A drive's messages as the offline pipeline consumes them.
final class DriveMessages: Sequence, IteratorProtocol, @unchecked Sendable {
    private let bag: BagSource?
    private var simulator: Simulator?
    private let duration: Double
    private var pending: [(frames: [[UInt8]], receiveTime: Int64)] = []
    private(set) var simError: (any Error)?
    /// Messages handed out so far.
    private(set) var count = 0

    init(bag: BagSource) {
        self.bag = bag
        duration = 0
    }

    init(simulator: Simulator, duration: Double) {
        bag = nil
        self.simulator = simulator
        self.duration = duration
    }

    /// The error that ended the sequence early, if any.
    var error: (any Error)? { bag?.error ?? simError }

    func next() -> (frames: [[UInt8]], receiveTime: Int64)? {
        if let bag {
            let item = bag.next()
            if item != nil { count += 1 }
            return item
        }
        while pending.isEmpty {
            // Mutated in place (a copy would duplicate the simulator's buffers on every message).
            guard simulator != nil, simulator?.nextTime ?? .infinity < duration else { return nil }
            do {
                guard let (event, messages) = try simulator?.nextMessages() else { return nil }
                // As `foresight sim --bag` records them: receive time = acquisition stamp.
                pending = messages.map { ([Array($0.topic.utf8), $0.payload], event.stamp) }
            } catch {
                simError = error
                simulator = nil
                return nil
            }
        }
        count += 1
        return pending.removeFirst()
    }

    /// Simulated seconds reached (0 for bags).
    var simulatedTime: Double { simulator?.nextTime ?? duration }
}
