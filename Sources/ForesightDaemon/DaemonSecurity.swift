import Foundation
import ForesightBus
import ForesightWire
import Logging
import UnixSignals

/// Why the daemon stops for security reasons (its exit is non-zero).
public struct SecurityFailure: Error, CustomStringConvertible, Sendable {
    /// What failed and what to do.
    public var description: String
}

/// The daemon's socket security, in one place: the CURVE certificates of each side (read and
/// checked before any socket binds), the ZAP handler that admits clients of the sides that bind
/// (started before any CURVE socket, fail closed), the connection monitors, the refusal counters
/// (`foresight_auth_rejected_total{side, reason}` on `/metrics`, `auth/<side>` rejections in
/// diagnostics), the SIGHUP reload of the allow-lists, and the hardening of every socket.
public final class DaemonSecurity: Sendable {
    /// The two sides of the daemon, which are also their ZAP domains.
    public static let sides = ["inputs", "output"]

    /// Loaded CURVE settings per side (absent: that side is plain).
    public let curve: [String: CurveFiles.Loaded]
    private let files: [String: CurveFiles]
    private let zap: ZapHandler?
    private let counts = Locked<[String: Int64]>([:])
    private let disconnects = Locked<[String: Int64]>([:])
    private let handshakes = Locked<[String: Int64]>([:])
    private let logged = Locked<Set<String>>([])
    private let exporter = PrometheusExporter()
    private let logger: Logger
    private let maxInputMessage: Int64

    /// Test hook: `FORESIGHT_TEST_ZAP_FAIL_AFTER=N` makes the ZAP handler fail at request N + 1.
    public static let faultVariable = "FORESIGHT_TEST_ZAP_FAIL_AFTER"

    /// The CURVE files of each side of `launch` (read and checked: every problem names its file).
    public static func load(_ launch: LaunchFile) throws(SecurityFailure) -> [String: CurveFiles.Loaded] {
        var out: [String: CurveFiles.Loaded] = [:]
        let sides: [(String, CurveFiles?, EndpointMode, Int)] = [
            ("inputs", launch.inputs.curve, launch.inputs.bind ? .bind : .connect, launch.inputs.endpoints.count),
            ("output", launch.output.curve, launch.output.bind ? .bind : .connect, 1),
        ]
        for (side, files, mode, count) in sides {
            guard let files else { continue }
            do {
                out[side] = try files.load(domain: side, mode: mode, endpointCount: count)
            } catch {
                throw SecurityFailure(description: "\(side).security.curve: \(error) (docs/security.md)")
            }
        }
        return out
    }

    /// Reads every certificate of `launch`, then — when a side binds with CURVE — starts the ZAP
    /// handler on `context`. Throws before any socket exists when a file or the handler fails.
    public init(launch: LaunchFile, context: BusContext, logger: Logger,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard launch.inputs.curve == nil && launch.output.curve == nil || CurveCertificate.isAvailable else {
            throw SecurityFailure(description: "the launch file asks for CURVE but this libzmq has no CURVE support (zmq_has(\"curve\") == 0); install Debian's libzmq3-dev")
        }
        let curve = try Self.load(launch)
        self.curve = curve
        var files: [String: CurveFiles] = [:]
        if let f = launch.inputs.curve { files["inputs"] = f }
        if let f = launch.output.curve { files["output"] = f }
        self.files = files
        self.logger = logger
        self.maxInputMessage = Int64(launch.inputs.limits.maxPayloadBytes)
        let allowed = curve.compactMapValues(\.allowed)
        if allowed.isEmpty {
            zap = nil
        } else {
            let fault = environment[Self.faultVariable].flatMap(Int.init).map { ZapHandler.FaultInjection(failAfter: $0) }
            let counts = self.counts
            let allowedFiles = curve.mapValues(\.allowedFiles)
            do {
                zap = try ZapHandler(context: context, allowed: allowed, fault: fault) { rejection in
                    counts.withLock { $0["\(rejection.domain)|\(rejection.reason.rawValue)", default: 0] += 1 }
                    guard !rejection.repeated else { return }
                    let known = rejection.key.flatMap { allowedFiles[rejection.domain]?[$0] }
                    logger.warning("client refused", metadata: [
                        "side": "\(rejection.domain)", "reason": "\(rejection.reason.rawValue)",
                        "key": "\(rejection.key ?? "none")", "address": "\(rejection.address)",
                        "note": "\(known.map { "was allowed by \($0) before a reload" } ?? "logged once per key; counted in foresight_auth_rejected_total")",
                    ])
                }
            } catch {
                throw SecurityFailure(description: "cannot start the ZAP authentication handler (\(error)); refusing to run CURVE servers without it")
            }
            for (side, keys) in allowed.sorted(by: { $0.key < $1.key }) {
                if keys.isEmpty {
                    logger.warning("the allow-list is empty: no client will be admitted", metadata: [
                        "side": "\(side)", "folder": "\(self.files[side]?.allowedClients ?? "")",
                    ])
                } else {
                    logger.info("CURVE server", metadata: ["side": "\(side)", "allowed_clients": "\(keys.count)"])
                }
            }
        }
    }

    /// Sets CURVE, hardening and the connection monitor of the output publisher.
    public func configure(_ options: inout Publisher.Options) {
        options.curve = curve["output"]?.security
        options.hardening = .publisher
        options.events = monitor(side: "output", server: options.mode == .bind)
    }

    /// Sets CURVE, hardening (`ZMQ_MAXMSGSIZE` = the largest legal input payload) and the
    /// connection monitor of the input subscriber.
    public func configure(_ options: inout Subscriber.Options) {
        options.curve = curve["inputs"]?.security
        options.hardening = SocketHardening(maxMessageSize: maxInputMessage)
        options.events = monitor(side: "inputs", server: options.mode == .bind)
    }

    private func monitor(side: String, server: Bool) -> @Sendable (SocketEvent) -> Void {
        let counts = self.counts, disconnects = self.disconnects, handshakes = self.handshakes, logged = self.logged, logger = self.logger
        let secured = curve[side] != nil
        return { event in
            func once(_ key: String) -> Bool { logged.withLock { $0.insert(side + "|" + key).inserted } }
            switch event {
            case .handshakeSucceeded:
                handshakes.withLock { $0[side, default: 0] += 1 }
            case .disconnected:
                disconnects.withLock { $0[side, default: 0] += 1 }
            case .handshakeFailed(let reason, let endpoint):
                if server, !secured {
                    // A plain side: not an authentication refusal (e.g. a CURVE client on a plain port).
                    if once("plain-" + reason) {
                        logger.notice("a peer failed the handshake on a plain side", metadata: ["side": "\(side)", "reason": "\(reason)", "endpoint": "\(endpoint)"])
                    }
                } else if server {
                    counts.withLock { $0["\(side)|\(reason)", default: 0] += 1 }
                    if once(reason) {
                        let hint = reason == SocketEvent.mechanismMismatch ? (secured ? "a client without CURVE (plain)" : "a CURVE client on a plain socket")
                            : reason == SocketEvent.cryptographic ? "a client using the wrong server key" : "a peer that did not finish its handshake"
                        logger.warning("connection refused during the handshake", metadata: [
                            "side": "\(side)", "reason": "\(reason)", "endpoint": "\(endpoint)", "likely": "\(hint)",
                            "note": "logged once per reason; counted in foresight_auth_rejected_total",
                        ])
                    }
                } else if once("client-" + reason) {
                    let hint = reason == SocketEvent.cryptographic ? "server_certificate does not match the server's key"
                        : reason == SocketEvent.mechanismMismatch ? "one end uses CURVE and the other does not" : "the server dropped the handshake"
                    logger.error("handshake with the server failed", metadata: ["side": "\(side)", "reason": "\(reason)", "endpoint": "\(endpoint)", "likely": "\(hint)"])
                }
            case .authenticationFailed(let status, let endpoint):
                // On a server the ZAP handler counted it with its key; on a client the server refused us.
                if !server, once("refused-\(status)") {
                    logger.error("the server refused this daemon's key", metadata: [
                        "side": "\(side)", "status": "\(status)", "endpoint": "\(endpoint)",
                        "fix": "add this side's public NAME.key to the server's allowed clients",
                    ])
                }
            }
        }
    }

    /// Waits until the ZAP handler fails (nil when the task is cancelled first or there is none).
    public func failure() async -> String? {
        guard let zap else {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return nil
        }
        return await zap.failure()
    }

    /// Why the ZAP handler failed, if it did.
    public var failureReason: String? { zap?.failureReason }

    /// Re-reads the allow-list folder of every side that binds with CURVE; a folder that no longer
    /// loads keeps the previous list (and says why).
    public func reloadAllowLists() {
        guard let zap else { return }
        for (side, files) in self.files.sorted(by: { $0.key < $1.key }) {
            guard let folder = files.allowedClients, curve[side]?.allowed != nil else { continue }
            do {
                let (keys, _) = try CurveFiles.allowList(folder: folder)
                let before = zap.allowed(domain: side)
                zap.setAllowed(keys, domain: side)
                logger.notice("allow-list reloaded", metadata: [
                    "side": "\(side)", "folder": "\(folder)", "keys": "\(keys.count)",
                    "added": "\(keys.subtracting(before).count)", "removed": "\(before.subtracting(keys).count)",
                ])
                if keys.isEmpty { logger.warning("the allow-list is empty: no new client will be admitted", metadata: ["side": "\(side)"]) }
            } catch {
                logger.error("allow-list not reloaded, the previous one stays", metadata: ["side": "\(side)", "error": "\(error)"])
            }
        }
    }

    /// Reloads the allow-lists on every SIGHUP until the task is cancelled.
    public func reloadOnHangup() async {
        guard zap != nil else { return }
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals {
            if Task.isCancelled { break }
            reloadAllowLists()
        }
    }

    /// Refusals per side and reason (ZAP and handshake), zero for the sides that bind with CURVE.
    public var rejections: [(side: String, reason: String, count: Int64)] {
        var table = counts.current
        for side in Self.sides where curve[side]?.allowed != nil {
            for reason in ZapHandler.Refusal.allCases.map(\.rawValue) + [SocketEvent.mechanismMismatch, SocketEvent.cryptographic] {
                table["\(side)|\(reason)", default: 0] += 0
            }
        }
        return table.sorted { $0.key < $1.key }.map { entry in
            let parts = entry.key.split(separator: "|", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "", entry.value)
        }
    }

    /// Connections that ended per side (peers leaving, heartbeat timeouts, oversize messages).
    public var disconnectCounts: [String: Int64] { disconnects.current }

    private static let rejectedFamily = PrometheusExporter.Family.counter(
        "foresight_auth_rejected_total", "Connections refused by CURVE/ZAP, by side (inputs, output) and reason (unknown_key, mechanism, domain, mechanism_mismatch, cryptographic, handshake_incomplete, ...)")
    private static let disconnectFamily = PrometheusExporter.Family.counter(
        "foresight_peer_disconnects_total", "Connections that ended, by side: peers leaving, heartbeat timeouts, and peers cut off for a message above ZMQ_MAXMSGSIZE")
    private static let handshakeFamily = PrometheusExporter.Family.counter(
        "foresight_peer_handshakes_total", "Connections that completed their handshake (CURVE: authenticated and admitted), by side")
    private static let curveFamily = PrometheusExporter.Family.gauge(
        "foresight_curve_enabled", "1 when the side uses CURVE, else 0")

    /// The Prometheus families of this object (appended to the pipeline's `/metrics` text).
    public func prometheusText() -> String {
        typealias S = PrometheusExporter.Sample
        var samples: [S] = rejections.map { S(Self.rejectedFamily, [("side", $0.side), ("reason", $0.reason)], Double($0.count)) }
        let ended = disconnectCounts, admitted = handshakes.current
        for side in Self.sides {
            samples.append(S(Self.disconnectFamily, [("side", side)], Double(ended[side] ?? 0)))
            samples.append(S(Self.handshakeFamily, [("side", side)], Double(admitted[side] ?? 0)))
            samples.append(S(Self.curveFamily, [("side", side)], curve[side] == nil ? 0 : 1))
        }
        return exporter.render(samples)
    }

    /// The refusals as diagnostics rejections (topic `auth/<side>`), nonzero ones only.
    public func diagnosticRejections() -> [Diagnostics.Rejection] {
        rejections.filter { $0.count > 0 }.map { Diagnostics.Rejection(topic: "auth/\($0.side)", reason: $0.reason, count: $0.count) }
    }

    /// Stops the ZAP handler; call after every CURVE socket is closed.
    public func close() {
        zap?.close()
    }
}
