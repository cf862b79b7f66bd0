import Foundation
import Testing
import ForesightTestSupport
import ForesightBus
@testable import ForesightDaemon
import ForesightWire
import ForesightSite

/// Key pairs for a secured test rig, written by the real `foresight keygen`.
struct RigKeys {
    let folder: URL

    init(_ names: [String]) throws {
        folder = try TestSupport.temporaryDirectory("rig-keys")
        for name in names {
            let out = try runForesight(["keygen", "--out", path(name)])
            guard out.status == 0 else { throw CLIFailure(text: out.stderr) }
        }
    }

    struct CLIFailure: Error { var text: String }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// A folder `name/` holding the public certificates of `members`.
    func allowList(_ name: String, _ members: [String]) throws -> String {
        let dir = path(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for member in members { try allow(member, in: dir) }
        return dir
    }

    func allow(_ member: String, in folder: String) throws {
        try FileManager.default.copyItem(atPath: path(member + ".key"), toPath: folder + "/" + member + ".key")
    }

    func certificate(_ name: String, secret: Bool) throws -> CurveCertificate {
        try CurveCertificate.load(path: path(name + (secret ? ".key_secret" : ".key")), requireSecret: secret)
    }
}

/// The daemon as a child process with its own environment, standard error captured.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    private let errors = Locked(Data())
    private let pipe = Pipe()

    init(launch: String, environment extra: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: TestSupport.foresightBinary)
        process.arguments = ["run", launch]
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = pipe
        let errors = self.errors
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            errors.withLock { $0.append(chunk) }
        }
        try process.run()
    }

    var stderr: String { String(decoding: errors.current, as: UTF8.self) }

    func wait(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return process.isRunning ? nil : process.terminationStatus
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            if wait(timeout: 3) == nil { kill(process.processIdentifier, SIGKILL) }
        }
        _ = wait(timeout: 5)
        pipe.fileHandleForReading.readabilityHandler = nil
    }

    deinit { stop() }
}

/// A launch file with `security:` blocks on free ports.
struct SecuredLaunch {
    let input = TestSupport.freePort()
    let output = TestSupport.freePort()
    let metrics = TestSupport.freePort()
    let path: String

    var inputEndpoint: String { "tcp://127.0.0.1:\(input)" }
    var outputEndpoint: String { "tcp://127.0.0.1:\(output)" }

    init(inputMode: String = "connect", inputSecurity: String?, outputSecurity: String?) throws {
        let dir = try TestSupport.temporaryDirectory("secured")
        path = dir.appendingPathComponent("launch.yaml").path
        func block(_ text: String?) -> String {
            guard let text else { return "" }
            return "  security:\n    curve:\n" + text.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        }
        let yaml = """
        name: secured
        site: \(TestSupport.path("Calibration/sim-site.yaml"))
        inputs:
          endpoints: [tcp://127.0.0.1:\(input)]
          mode: \(inputMode)
        \(block(inputSecurity))
        sync:
          max_interval_ms: 100
          deadline_ms: 200
          inter_message_lower_bound_ms: 85
        output:
          endpoint: tcp://127.0.0.1:\(output)
          diagnostics_period_ms: 250
        \(block(outputSecurity))
        metrics:
          address: 127.0.0.1:\(metrics)
        log_level: info
        """
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The value of the first `/metrics` sample whose line starts with `prefix` (0 when absent;
    /// a scrape that fails under load is retried).
    func metric(_ prefix: String) throws -> Double {
        var answer = try httpGet("http://127.0.0.1:\(metrics)/metrics")
        for _ in 0..<5 where answer.status != 200 {
            Thread.sleep(forTimeInterval: 0.5)
            answer = try httpGet("http://127.0.0.1:\(metrics)/metrics")
        }
        let text = answer.body
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
              let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { return 0 }
        return value
    }

    /// Waits until `/healthz` answers (the daemon is up and its sockets are open).
    func waitUntilUp() async throws -> Bool {
        for _ in 0..<150 {
            if ((try? httpGet("http://127.0.0.1:\(metrics)/healthz").status) ?? -1) > 0 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}

/// A Python ZeroMQ subscriber that counts what it receives in `seconds` (CURVE when keys are given).
func pythonListener(endpoint: String, seconds: Double, secret: String? = nil, server: String? = nil) throws -> TestSupport.Child {
    let script = """
        import sys, time, zmq, zmq.auth
        endpoint, seconds, secret, server = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
        ctx = zmq.Context(); s = ctx.socket(zmq.SUB); s.setsockopt(zmq.SUBSCRIBE, b"")
        if secret != "-":
            pub, sec = zmq.auth.load_certificate(secret); srv, _ = zmq.auth.load_certificate(server)
            s.curve_publickey = pub; s.curve_secretkey = sec; s.curve_serverkey = srv
        s.connect(endpoint); print("ready", flush=True)
        n = 0; end = time.time() + seconds
        while time.time() < end:
            if s.poll(100): s.recv_multipart(); n += 1
        print("received", n, flush=True)
        s.close(linger=0); ctx.term()
        """
    return try TestSupport.Child(TestSupport.python, ["-u", "-c", script, endpoint, String(seconds), secret ?? "-", server ?? "-"])
}

@Suite struct LaunchSecurityTests {
    @Test func theSecuredExampleLoadsWithPathsRelativeToIt() throws {
        let launch = try LaunchFile.load(path: TestSupport.path("launch/secured.yaml"))
        #expect(launch.inputs.curve?.certificate == TestSupport.path("keys/daemon.key_secret"))
        #expect(launch.inputs.curve?.serverCertificates == [TestSupport.path("keys/sim.key")])
        #expect(launch.inputs.curve?.allowedClients == nil)
        #expect(launch.output.curve?.allowedClients == TestSupport.path("keys/controllers"))
    }

    @Test func securityKeysAreCheckedLikeEveryOtherKey() throws {
        let dir = try TestSupport.temporaryDirectory("launch-security")
        func load(_ inputs: String) throws(ConfigError) -> LaunchFile {
            let path = dir.appendingPathComponent("l.yaml").path
            try? """
            site: \(TestSupport.path("Calibration/sim-site.yaml"))
            inputs:
              endpoints: [tcp://a:1, tcp://b:2]
            \(inputs)
            output:
              endpoint: tcp://*:5601
            """.write(toFile: path, atomically: true, encoding: .utf8)
            return try LaunchFile.load(path: path)
        }
        let listed = try load("  security:\n    curve:\n      certificate: k/d.key_secret\n      server_certificate: [k/a.key, /abs/b.key]")
        #expect(listed.inputs.curve?.serverCertificates == [dir.appendingPathComponent("k/a.key").path, "/abs/b.key"])
        #expect(listed.output.curve == nil)
        let typo = #expect(throws: ConfigError.self) { try load("  security:\n    curve:\n      certificate: d.key_secret\n      allowd_clients: k/") }
        #expect("\(typo.map { "\($0)" } ?? "")".contains("inputs.security.curve.allowd_clients"))
        #expect(throws: ConfigError.self) { try load("  security:\n    curve:\n      allowed_clients: k/") }
    }

    @Test func certificatesAreCheckedAgainstTheSideMode() throws {
        let keys = try RigKeys(["d", "s"])
        let files = CurveFiles(certificate: keys.path("d.key_secret"), serverCertificates: [keys.path("s.key"), keys.path("s.key"), keys.path("s.key")])
        let count = #expect(throws: CertificateError.self) { try files.load(domain: "inputs", mode: .connect, endpointCount: 2) }
        #expect(count?.problem.contains("3 server certificates for 2 endpoints") == true)
        let noServer = CurveFiles(certificate: keys.path("d.key_secret"))
        #expect(throws: CertificateError.self) { try noServer.load(domain: "inputs", mode: .connect, endpointCount: 1) }
        let loaded = try CurveFiles(certificate: keys.path("d.key_secret"), serverCertificates: [keys.path("s.key")])
            .load(domain: "inputs", mode: .connect, endpointCount: 2)
        #expect(loaded.security.serverKeys.count == 1 && loaded.allowed == nil)
    }
}

@Suite(.serialized) struct SecurityTests {
    @Test func theDaemonRefusesBadCertificatesNamingTheFile() throws {
        let keys = try RigKeys(["daemon", "controller"])
        let allowed = try keys.allowList("controllers", ["controller"])
        func start(_ output: String) throws -> CommandOutput {
            let launch = try SecuredLaunch(inputSecurity: nil, outputSecurity: output)
            return try runForesight(["run", launch.path, "--duration", "3"])
        }
        // World-readable secret.
        chmod(keys.path("daemon.key_secret"), 0o644)
        var out = try start("certificate: \(keys.path("daemon.key_secret"))\nallowed_clients: \(allowed)")
        #expect(out.status != 0)
        #expect(out.stderr.contains(keys.path("daemon.key_secret")) && out.stderr.contains("chmod 600"), "\(out.stderr)")
        chmod(keys.path("daemon.key_secret"), 0o600)
        // Missing file.
        out = try start("certificate: \(keys.path("ghost.key_secret"))\nallowed_clients: \(allowed)")
        #expect(out.status != 0)
        #expect(out.stderr.contains(keys.path("ghost.key_secret")), "\(out.stderr)")
        // A malformed certificate in the allow-list.
        try "curve\n    public-key = \"not a key\"\n".write(toFile: allowed + "/broken.key", atomically: true, encoding: .utf8)
        out = try start("certificate: \(keys.path("daemon.key_secret"))\nallowed_clients: \(allowed)")
        #expect(out.status != 0)
        #expect(out.stderr.contains(allowed + "/broken.key"), "\(out.stderr)")
        try FileManager.default.removeItem(atPath: allowed + "/broken.key")
        // A binding side without an allow-list.
        out = try start("certificate: \(keys.path("daemon.key_secret"))")
        #expect(out.status != 0)
        #expect(out.stderr.contains("allowed_clients"), "\(out.stderr)")
    }

    @Test func securedSimToDaemonToPythonControllerPredictsEveryFrameAndRefusesTheRest() async throws {
        let keys = try RigKeys(["sim", "daemon", "controller", "stranger", "impostor"])
        let daemons = try keys.allowList("daemons", ["daemon"])
        let controllers = try keys.allowList("controllers", ["controller"])
        let launch = try SecuredLaunch(
            inputSecurity: "certificate: \(keys.path("daemon.key_secret"))\nserver_certificate: \(keys.path("sim.key"))",
            outputSecurity: "certificate: \(keys.path("daemon.key_secret"))\nallowed_clients: \(controllers)")
        let daemon = try DaemonProcess(launch: launch.path)
        defer { daemon.stop() }
        #expect(try await launch.waitUntilUp(), "\(daemon.stderr)")

        // An allowed Swift collector (fusion frames and diagnostics) and the Python controller.
        var options = Subscriber.Options()
        options.bufferCapacity = 100_000
        options.curve = try CurveSecurity(certificate: try keys.certificate("controller", secret: true),
                                          serverKeys: [try keys.certificate("daemon", secret: false).publicKey])
        let collector = try Subscriber(context: try BusContext(), endpoint: launch.outputEndpoint, options: options)
        let received = Locked<[(String, [UInt8])]>([])
        let collecting = Task { for await m in collector.messages { received.withLock { $0.append((m.topic ?? "", m.payload)) } } }
        let controller = try TestSupport.Child.python("examples/beam_controller.py", [
            launch.outputEndpoint, "--json",
            "--curve-secret-key", keys.path("controller.key_secret"), "--curve-server-key", keys.path("daemon.key"),
        ])
        defer { controller.stop() }
        // Refused: an unknown key, a plain client, a client that trusts the wrong server key.
        let stranger = try pythonListener(endpoint: launch.outputEndpoint, seconds: 9, secret: keys.path("stranger.key_secret"), server: keys.path("daemon.key"))
        let plain = try pythonListener(endpoint: launch.outputEndpoint, seconds: 9)
        let fooled = try pythonListener(endpoint: launch.outputEndpoint, seconds: 9, secret: keys.path("controller.key_secret"), server: keys.path("impostor.key"))
        defer { stranger.stop(); plain.stop(); fooled.stop() }
        #expect(controller.waitForLine { $0 == "ready" } != nil)
        try await Task.sleep(for: .milliseconds(700))

        let sim = try runForesight(["sim", "--endpoint", launch.inputEndpoint, "--duration", "4", "--quiet",
                                    "--curve-secret-key", keys.path("sim.key_secret"), "--curve-allowed-clients", daemons])
        #expect(sim.status == 0, "\(sim.stderr)")
        try await Task.sleep(for: .seconds(2))

        for listener in [stranger, plain, fooled] {
            #expect(listener.waitForLine(timeout: 20) { $0.hasPrefix("received") } == "received 0", "a refused client received data")
        }
        var (unknownKey, mismatch, crypto) = (0.0, 0.0, 0.0)
        for _ in 0..<100 {
            unknownKey = try launch.metric("foresight_auth_rejected_total{side=\"output\",reason=\"unknown_key\"}")
            // A plain client is seen as a mechanism mismatch, or as an incomplete handshake when it
            // noticed the mismatch first and hung up before the daemon read its greeting.
            mismatch = try launch.metric("foresight_auth_rejected_total{side=\"output\",reason=\"mechanism_mismatch\"}")
                + launch.metric("foresight_auth_rejected_total{side=\"output\",reason=\"handshake_incomplete\"}")
            crypto = try launch.metric("foresight_auth_rejected_total{side=\"output\",reason=\"cryptographic\"}")
            if unknownKey >= 1 && mismatch >= 1 && crypto >= 1 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(try launch.metric("foresight_peer_handshakes_total{side=\"output\"}") >= 2, "the collector and the controller were admitted")
        #expect(try launch.metric("foresight_peer_handshakes_total{side=\"inputs\"}") >= 1, "the link to the sim")
        #expect(unknownKey >= 1 && mismatch >= 1 && crypto >= 1, "unknown_key \(unknownKey), mechanism_mismatch + handshake_incomplete \(mismatch), cryptographic \(crypto)")
        daemon.process.terminate()
        #expect(daemon.wait(timeout: 15) == 0, "\(daemon.stderr)")
        collector.close()
        _ = await collecting.value

        let all = received.current
        let frameSeqs = Set(all.filter { $0.0 == "fusion/frame" }.compactMap { try? FusionFrame.decode($0.1).header.seq })
        #expect(frameSeqs.count >= 20, "only \(frameSeqs.count) frames from 4 s of secured simulation; daemon: \(daemon.stderr)")
        let predictedSeqs = Set(controller.output.compactMap { line -> UInt32? in
            guard line.hasPrefix("{"), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (object["seq"] as? NSNumber)?.uint32Value
        })
        #expect(predictedSeqs == frameSeqs, "the CURVE controller missed \(frameSeqs.subtracting(predictedSeqs).count) frames")
        // The refusals are in the diagnostics too.
        let diagnostics = all.filter { $0.0 == "foresight/diagnostics" }.compactMap { try? Diagnostics.decode($0.1) }
        #expect(diagnostics.contains { $0.rejections.contains { $0.topic == "auth/output" && $0.reason == "unknown_key" && $0.count >= 1 } },
                "\(diagnostics.last?.rejections ?? [])")
        #expect(daemon.stderr.contains("client refused"), "refusals are logged")
    }

    @Test func keygenRefusesToOverwriteAndSecuredToolsTalk() async throws {
        let keys = try RigKeys(["sim", "viewer", "stranger"])
        let again = try runForesight(["keygen", "--out", keys.path("sim")])
        #expect(again.status != 0 && again.stderr.contains("--force"), "\(again.stderr)")
        let before = try keys.certificate("sim", secret: false).publicKey
        #expect(try runForesight(["keygen", "--out", keys.path("sim"), "--force"]).status == 0)
        #expect(try keys.certificate("sim", secret: false).publicKey != before)
        // sim (CURVE server) → echo (CURVE client): the allowed viewer sees messages, a stranger none.
        let viewers = try keys.allowList("viewers", ["viewer"])
        let port = TestSupport.freePort()
        let sim = try TestSupport.Child(TestSupport.foresightBinary, [
            "sim", "--endpoint", "tcp://127.0.0.1:\(port)", "--duration", "30", "--quiet",
            "--curve-secret-key", keys.path("sim.key_secret"), "--curve-allowed-clients", viewers,
        ])
        defer { sim.stop() }
        let echo = try runForesight(["echo", "tcp://127.0.0.1:\(port)", "--topic", "sensor/gnss", "--count", "3", "--json",
                                     "--curve-secret-key", keys.path("viewer.key_secret"), "--curve-server-key", keys.path("sim.key")])
        #expect(echo.status == 0, "\(echo.stderr)")
        #expect(echo.stdout.split(separator: "\n").filter { $0.contains("sensor/gnss") }.count == 3, "\(echo.stdout)")
        let refused = try pythonListener(endpoint: "tcp://127.0.0.1:\(port)", seconds: 2, secret: keys.path("stranger.key_secret"), server: keys.path("sim.key"))
        #expect(refused.waitForLine(timeout: 20) { $0.hasPrefix("received") } == "received 0")
        // Options that need a key pair say so.
        let lonely = try runForesight(["echo", "tcp://127.0.0.1:\(port)", "--curve-server-key", keys.path("sim.key")])
        #expect(lonely.status != 0 && lonely.stderr.contains("--curve-secret-key"), "\(lonely.stderr)")
    }

    @Test func boundInputsAdmitOnlyAllowedPublishersAndReloadOnSighup() async throws {
        let keys = try RigKeys(["daemon", "sim"])
        let sims = try keys.allowList("sims", [])
        let launch = try SecuredLaunch(inputMode: "bind",
                                       inputSecurity: "certificate: \(keys.path("daemon.key_secret"))\nallowed_clients: \(sims)",
                                       outputSecurity: nil)
        let daemon = try DaemonProcess(launch: launch.path)
        defer { daemon.stop() }
        #expect(try await launch.waitUntilUp(), "\(daemon.stderr)")
        #expect(daemon.stderr.contains("allow-list is empty"), "\(daemon.stderr)")
        let gnss = "foresight_messages_received_total{topic=\"sensor/gnss\"}"
        func publish() throws {
            let sim = try runForesight(["sim", "--endpoint", launch.inputEndpoint, "--connect", "--duration", "2", "--quiet",
                                        "--curve-secret-key", keys.path("sim.key_secret"), "--curve-server-key", keys.path("daemon.key")])
            #expect(sim.status == 0, "\(sim.stderr)")
        }
        // Empty allow-list: the publisher's messages reach nothing, the refusals are counted.
        try publish()
        #expect(try launch.metric(gnss) == 0)
        #expect(try launch.metric("foresight_auth_rejected_total{side=\"inputs\",reason=\"unknown_key\"}") >= 1)
        // Added and SIGHUP: a new connection is admitted.
        try keys.allow("sim", in: sims)
        kill(daemon.process.processIdentifier, SIGHUP)
        for _ in 0..<50 where !daemon.stderr.contains("allow-list reloaded") { try await Task.sleep(for: .milliseconds(100)) }
        #expect(daemon.stderr.contains("allow-list reloaded"), "\(daemon.stderr)")
        try publish()
        try await Task.sleep(for: .milliseconds(500))
        let admitted = try launch.metric(gnss)
        #expect(admitted > 0)
        // Removed and SIGHUP: new connections are refused again.
        try FileManager.default.removeItem(atPath: sims + "/sim.key")
        kill(daemon.process.processIdentifier, SIGHUP)
        for _ in 0..<50 where daemon.stderr.components(separatedBy: "allow-list reloaded").count < 3 { try await Task.sleep(for: .milliseconds(100)) }
        try publish()
        try await Task.sleep(for: .milliseconds(500))
        #expect(try launch.metric(gnss) == admitted)
        // A folder that no longer loads keeps the previous (empty) list: still refused.
        try keys.allow("sim", in: sims)
        try "curve\n    public-key = \"broken\"\n".write(toFile: sims + "/broken.key", atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        for _ in 0..<50 where !daemon.stderr.contains("allow-list not reloaded") { try await Task.sleep(for: .milliseconds(100)) }
        #expect(daemon.stderr.contains("allow-list not reloaded") && daemon.stderr.contains(sims + "/broken.key"), "\(daemon.stderr)")
        try publish()
        try await Task.sleep(for: .milliseconds(500))
        #expect(try launch.metric(gnss) == admitted)
        daemon.process.terminate()
        #expect(daemon.wait(timeout: 15) == 0, "\(daemon.stderr)")
    }

    @Test func aFailingZapHandlerAdmitsNobodyAndStopsTheDaemonNonZero() async throws {
        let keys = try RigKeys(["daemon", "sim"])
        let sims = try keys.allowList("sims", ["sim"])
        let launch = try SecuredLaunch(inputMode: "bind",
                                       inputSecurity: "certificate: \(keys.path("daemon.key_secret"))\nallowed_clients: \(sims)",
                                       outputSecurity: nil)
        let daemon = try DaemonProcess(launch: launch.path, environment: [DaemonSecurity.faultVariable: "0"])
        defer { daemon.stop() }
        #expect(try await launch.waitUntilUp(), "\(daemon.stderr)")
        let sim = try TestSupport.Child(TestSupport.foresightBinary, [
            "sim", "--endpoint", launch.inputEndpoint, "--connect", "--duration", "20", "--quiet",
            "--curve-secret-key", keys.path("sim.key_secret"), "--curve-server-key", keys.path("daemon.key"),
        ])
        defer { sim.stop() }
        let status = daemon.wait(timeout: 20)
        #expect(status != nil && status != 0, "the daemon kept running after its ZAP handler failed")
        #expect(daemon.stderr.contains("ZAP authentication handler failed"), "\(daemon.stderr)")
    }
}
