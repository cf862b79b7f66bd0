import ArgumentParser
import ForesightBag
import ForesightBus
import ForesightSim
import ForesightSite
import Foundation

/// `foresight sim`: runs the simulator and publishes every sensor and truth topic live.
struct SimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Simulate the street testbed and publish all sensors and ground truth (docs/simulator.md).",
        discussion: """
        Publishes sensor/camera, sensor/radar, sensor/lidar, sensor/gnss, sensor/beam_power and \
        truth/ue, truth/beam, truth/blockage (and truth/channel when the scenario sets \
        link.channel_truth), paced by the simulated clock. The same site, scenario \
        and seed always produce byte-identical messages (stamps start at the scenario's start_time_ns).

        Example: foresight sim --endpoint tcp://*:5600 --duration 60
                 foresight sim --scenario boulevard --duration 60 --bag boulevard.mcap
        """
    )

    @Option(help: "Scenario: a name from launch/scenarios (street, boulevard, crossing, avenue) or a YAML file (default: the built-in street scenario).")
    var scenario: String?

    @Option(help: "Site calibration file (default: the built-in Calibration/sim-site.yaml).")
    var site: String?

    @Option(help: "Endpoint to publish on (bound by default).")
    var endpoint = "tcp://*:5600"

    @Option(help: "Speed relative to real time (1 = real time, 2 = twice as fast).")
    var rate: Double = 1

    @Flag(help: "Do not pace: publish as fast as the simulator runs (the PUB socket drops beyond its high-water mark).")
    var asFastAsPossible = false

    @Option(name: .customLong("duration"), parsing: .unconditional,
            help: "Simulated time to run (seconds, or 1m30s, 2h; default: until Ctrl-C).")
    var durationArgument: DurationArgument?
    /// `--duration` in seconds.
    var duration: Double? { durationArgument?.seconds }

    @Option(name: .customLong("seed"), parsing: .unconditional,
            help: "Random seed, any 64-bit integer; negative ones are taken as their two's complement (default: the scenario's seed).")
    var seedArgument: SeedArgument?
    /// `--seed`.
    var seed: UInt64? { seedArgument?.value }

    @Flag(help: "Stamp simulated time 0 with the current wall-clock time instead of the scenario's start_time_ns (output is then identical except for the stamps).")
    var wallClockStamps = false

    @Option(name: .customLong("delay"), parsing: .unconditional,
            help: "Wait this long after binding/connecting before the first message (seconds, or 500ms; subscribers need time to join).")
    var delayArgument = DurationArgument(seconds: 0.5)
    /// `--delay` in seconds.
    var delay: Double { delayArgument.seconds }

    @Option(help: "Write an MCAP bag instead of publishing (as fast as possible, nothing dropped; needs --duration). Large: about 14 MB per simulated second with zstd.")
    var bag: String?

    @Option(help: "Compression of the bag written by --bag: zstd, lz4 or none.")
    var compression: BagCompression = .zstd

    @Flag(help: "Do not print the status line.")
    var quiet = false

    @OptionGroup var socket: SocketModeOptions

    @OptionGroup(title: "CURVE security") var curve: CurveOptions

    func validate() throws {
        if !(rate > 0) || !rate.isFinite { throw ValidationError("--rate must be a positive number") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive, got \(duration) s") }
        if delay < 0 { throw ValidationError("--delay must not be negative") }
        if bag != nil, duration == nil { throw ValidationError("--bag needs --duration (seconds of simulated time to write)") }
    }

    func run() async throws {
        var simulator: Simulator
        do {
            let start: Int64? = wallClockStamps ? Int64(Date().timeIntervalSince1970 * 1e9) + Int64(delay * 1e9) : nil
            let loaded = try loadScenario()
            simulator = try Simulator(site: try loadSite(), scenario: loaded, seed: seed ?? loaded.seed, startTimeNs: start)
        } catch let error as ConfigError {
            throw CLIError("\(error)")
        }
        if let bag {
            try writeBag(bag, simulator: &simulator)
            return
        }
        let opened = try curve.openPublisher(endpoint: endpoint, mode: socket.mode(default: .bind), command: "sim",
                                             advice: "stop it, or publish on another port (--endpoint tcp://*:5610) and point the daemon's inputs.endpoints there")
        defer { opened.close() }
        let publisher = opened.publisher
        let trap = SignalTrap { _ in }
        if !quiet {
            printError("sim: scenario '\(simulator.scenario.name)', site '\(simulator.site.name)', seed \(simulator.seed), "
                + "publishing on \(publisher.endpoints.joined(separator: ", ")) "
                + (asFastAsPossible ? "as fast as possible" : "at \(rate)× real time") + " (Ctrl-C to stop)")
        }
        if delay > 0 { try await Task.sleep(for: .seconds(delay)) }

        let clock = ContinuousClock()
        let start = clock.now
        var counts: [String: Int] = [:]
        var lastStatus = start
        var lastTime = 0.0
        while !trap.triggered {
            if let duration, simulator.nextTime >= duration { break }
            let (event, messages) = try simulator.nextMessages()
            if !asFastAsPossible {
                let due = start.advanced(by: .seconds(event.time / rate))
                if due > clock.now { try await Task.sleep(until: due, clock: clock) }
            }
            for message in messages {
                publisher.send(topic: message.topic, payload: message.payload)
                counts[message.topic, default: 0] += 1
            }
            lastTime = event.time
            if !quiet, clock.now - lastStatus >= .seconds(1) {
                lastStatus = clock.now
                printStatus(time: lastTime, elapsed: clock.now - start, counts: counts, publisher: publisher, final: false)
            }
        }
        if !quiet { printStatus(time: lastTime, elapsed: clock.now - start, counts: counts, publisher: publisher, final: true) }
    }

    /// `--site`, or the built-in site calibration (embedded: works from any folder).
    private func loadSite() throws -> Site {
        if let site {
            do { return try Site.load(path: site) } catch { throw CLIError("site calibration \(site): \(error.description(doc: "docs/calibration.md"))") }
        }
        if !quiet { printError("sim: using the built-in site calibration \(BuiltinDefaults.simSite.path) (pass --site FILE for another)") }
        return try Site.parse(yaml: BuiltinDefaults.simSite.text, source: "built-in \(BuiltinDefaults.simSite.path)")
    }

    /// `--scenario` (a file, or a name looked up in `launch/scenarios/`), or the built-in street scenario.
    private func loadScenario() throws -> Scenario {
        if let scenario {
            let path = try scenarioFile(scenario)
            do { return try Scenario.load(path: path) } catch { throw CLIError("scenario \(path): \(error.description(doc: "docs/simulator.md"))") }
        }
        if !quiet { printError("sim: using the built-in scenario \(BuiltinDefaults.streetScenario.path) (pass --scenario FILE for another)") }
        return try Scenario.parse(yaml: BuiltinDefaults.streetScenario.text, source: "built-in \(BuiltinDefaults.streetScenario.path)")
    }

    /// Bag bytes per simulated second of the built-in street scenario (measured; see docs/simulator.md).
    static let bagBytesPerSecond: [BagCompression: Double] = [.zstd: 14e6, .lz4: 15e6, .none: 16e6]

    /// `--bag`: every message of `--duration` simulated seconds into an MCAP file, with
    /// `log_time` = `publish_time` = the acquisition stamp (a simulation has no transport delay).
    private func writeBag(_ path: String, simulator: inout Simulator) throws {
        let writer = try BagWriter(path: path, options: BagWriterOptions(compression: compression))
        var channels: [String: UInt16] = [:]
        var counts: [String: Int] = [:]
        let limit = duration ?? 0
        let trap = SignalTrap { _ in }
        let tty = isatty(STDERR_FILENO) == 1
        var lastShown = -1
        if !quiet {
            let estimate = limit * (Self.bagBytesPerSecond[compression] ?? 15e6)
            printError("sim: writing \(path): \(String(format: "%.0f", limit)) simulated seconds, about \(ByteSize.text(estimate)) (\(compression.rawValue))")
        }
        while !trap.triggered, simulator.nextTime < limit {
            let (event, messages) = try simulator.nextMessages()
            for message in messages {
                let channel: UInt16
                if let known = channels[message.topic] {
                    channel = known
                } else {
                    guard let schema = schema(for: message.topic) else { throw CLIError("no schema for topic \(message.topic)") }
                    let schemaID = try writer.addSchema(name: schema.name, encoding: schema.encoding, data: schema.data)
                    channel = try writer.addChannel(topic: message.topic, messageEncoding: "msgpack", schemaID: schemaID)
                    channels[message.topic] = channel
                }
                let stamp = UInt64(max(0, event.stamp))
                try writer.write(channelID: channel, sequence: event.seq, logTime: stamp, publishTime: stamp, data: message.payload)
                counts[message.topic, default: 0] += 1
            }
            if !quiet, tty, Int(event.time) != lastShown {
                lastShown = Int(event.time)
                let size = ByteSize.text(Double(writer.bytesWritten + UInt64(writer.bufferedBytes)))
                FileHandle.standardError.write(Data(String(format: "\rsim → %@: %.0f / %.0f s simulated, %@   ", path, event.time, limit, size).utf8))
            }
        }
        let summary = try writer.finish()
        if !quiet {
            printError((tty ? "\r" : "") + "sim: wrote \(summary.messageCount) messages, \(ByteSize.text(Double(summary.fileSize))), to \(path) ("
                + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
        }
    }

    private func printStatus(time: Double, elapsed: Duration, counts: [String: Int], publisher: Publisher, final: Bool) {
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let stats = publisher.statistics
        let total = counts.values.reduce(0, +)
        let line = String(format: "sim t=%.1f s  %.2f× real time  %d messages  (dropped by the publisher: %lld)",
                          time, wall > 0 ? time / wall : 0, total, stats.dropped)
        if final {
            printError("\r" + line)
            printError("sim: " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        } else {
            FileHandle.standardError.write(Data(("\r" + line).utf8))
        }
    }
}

/// The scenario file for a `--scenario` option (`foresight sim`, `foresight dataset`, `foresight eval`):
/// a path, or a name (`boulevard`) looked up in
/// `launch/scenarios/` of the working directory, then of the package the executable was built in.
func scenarioFile(_ scenario: String) throws -> String {
    // the working directory first, then the package the executable was built in
    // (.build/<triple>/release/foresight → walk up to the directory holding launch/scenarios)
    var directories = ["launch/scenarios"]
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<5 {
        let candidate = url.appendingPathComponent("launch/scenarios").path
        if FileManager.default.fileExists(atPath: candidate) {
            directories.append(candidate)
            // a relative path such as the default launch/scenarios/street.yaml, from the package
            let inPackage = url.appendingPathComponent(scenario).path
            if !scenario.hasPrefix("/"), !FileManager.default.fileExists(atPath: scenario),
               FileManager.default.fileExists(atPath: inPackage) { return inPackage }
            break
        }
        url.deleteLastPathComponent()
    }
    guard let path = Scenario.resolve(scenario, directories: directories) else {
        let known = Set(directories.flatMap { Scenario.names(in: $0) }).sorted()
        throw CLIError("--scenario '\(scenario)': no such file or scenario name"
            + (known.isEmpty ? "" : "; known scenarios: \(known.joined(separator: ", "))"))
    }
    return path
}
