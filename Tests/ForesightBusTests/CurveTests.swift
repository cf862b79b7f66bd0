import Foundation
import Testing
import ForesightTestSupport
@testable import ForesightBus
import ForesightWire

/// A folder of fresh key pairs for a test: `keys.pair("daemon")` writes daemon.key / daemon.key_secret.
struct TestKeys {
    let folder: URL

    init() throws {
        folder = try TestSupport.temporaryDirectory("curve")
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    @discardableResult
    func pair(_ name: String) throws -> CurveCertificate {
        let certificate = try CurveCertificate.generate()
        try certificate.write(base: path(name), force: false)
        return certificate
    }

    /// A folder `name/` holding the public certificates of `members`.
    func allowList(_ name: String, _ members: [String]) throws -> String {
        let dir = path(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for member in members { try FileManager.default.copyItem(atPath: path(member + ".key"), toPath: dir + "/" + member + ".key") }
        return dir
    }
}

/// Counts what a monitored socket reports.
final class EventLog: Sendable {
    private let events = Locked<[SocketEvent]>([])
    var sink: @Sendable (SocketEvent) -> Void { { [events] e in events.withLock { $0.append(e) } } }
    var all: [SocketEvent] { events.current }
    func failures(_ reason: String) -> Int {
        all.filter { if case .handshakeFailed(let r, _) = $0 { return r == reason }; return false }.count
    }
    var disconnects: Int { all.filter { if case .disconnected = $0 { return true }; return false }.count }
}

/// A subscriber that counts what it receives on a topic, for a bounded time.
func receiveCount(_ subscriber: Subscriber, topic: String, atLeast wanted: Int, within seconds: Double) async -> Int {
    var iterator = subscriber.messages.makeAsyncIterator()
    let deadline = Date().addingTimeInterval(seconds)
    var count = 0
    let stop = Task { try? await Task.sleep(for: .seconds(seconds)); subscriber.close() }
    defer { stop.cancel() }
    while count < wanted, Date() < deadline, let message = await iterator.next() {
        if message.topic == topic { count += 1 }
    }
    return count
}

@Suite(.serialized) struct CurveCertificateTests {
    @Test func libzmqHasCurve() {
        #expect(CurveCertificate.isAvailable, "libzmq \(BusContext.libraryVersion) was built without CURVE")
    }

    @Test func keygenFilesRoundTripWithModesAndRefuseOverwrite() throws {
        let keys = try TestKeys()
        let written = try keys.pair("daemon")
        var info = stat()
        #expect(stat(keys.path("daemon.key_secret"), &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(stat(keys.path("daemon.key"), &info) == 0)
        #expect(info.st_mode & 0o077 != 0o077)
        let secret = try CurveCertificate.load(path: keys.path("daemon.key_secret"), requireSecret: true)
        #expect(secret.publicKey == written.publicKey && secret.secretKey == written.secretKey)
        let pub = try CurveCertificate.load(path: keys.path("daemon.key"), requireSecret: false)
        #expect(pub.publicKey == written.publicKey && pub.secretKey == nil)
        let text = try String(contentsOfFile: keys.path("daemon.key"), encoding: .utf8)
        #expect(!text.contains("secret-key"))
        #expect(text.contains("curve\n    public-key = \"\(written.publicKey)\""))
        #expect(throws: CertificateError.self) { try CurveCertificate.generate().write(base: keys.path("daemon"), force: false) }
        let replaced = try CurveCertificate.generate()
        try replaced.write(base: keys.path("daemon"), force: true)
        #expect(try CurveCertificate.load(path: keys.path("daemon.key"), requireSecret: false).publicKey == replaced.publicKey)
    }

    @Test func badCertificatesAreRefusedNamingTheFile() throws {
        let keys = try TestKeys()
        try keys.pair("a")
        // World-readable secret.
        chmod(keys.path("a.key_secret"), 0o644)
        let open = #expect(throws: CertificateError.self) { try CurveCertificate.load(path: keys.path("a.key_secret"), requireSecret: true) }
        #expect(open?.description.contains(keys.path("a.key_secret")) == true && open?.description.contains("chmod 600") == true)
        chmod(keys.path("a.key_secret"), 0o600)
        // Missing.
        let missing = #expect(throws: CertificateError.self) { try CurveCertificate.load(path: keys.path("nope.key_secret"), requireSecret: true) }
        #expect(missing?.description.contains(keys.path("nope.key_secret")) == true)
        // A public certificate where a key pair is needed.
        let publicOnly = #expect(throws: CertificateError.self) { try CurveCertificate.load(path: keys.path("a.key"), requireSecret: true) }
        #expect(publicOnly?.description.contains("no secret key") == true)
        // A malformed certificate in an allow-list folder.
        let folder = try keys.allowList("allowed", ["a"])
        try "curve\n    public-key = \"tooshort\"\n".write(toFile: folder + "/bad.key", atomically: true, encoding: .utf8)
        let malformed = #expect(throws: CertificateError.self) { try CurveCertificate.loadFolder(path: folder) }
        #expect(malformed?.path == folder + "/bad.key")
        try "this is { not zpl\n".write(toFile: folder + "/bad.key", atomically: true, encoding: .utf8)
        #expect(throws: CertificateError.self) { try CurveCertificate.loadFolder(path: folder) }
        // A secret key pasted into the allow-list.
        try FileManager.default.removeItem(atPath: folder + "/bad.key")
        try FileManager.default.copyItem(atPath: keys.path("a.key_secret"), toPath: folder + "/a.key_secret")
        let secretInList = #expect(throws: CertificateError.self) { try CurveCertificate.loadFolder(path: folder) }
        #expect(secretInList?.path == folder + "/a.key_secret")
        // A secret whose public key was edited.
        let other = try CurveCertificate.generate()
        let mixed = keys.path("mixed.key_secret")
        let good = try String(contentsOfFile: keys.path("a.key_secret"), encoding: .utf8)
        let original = try CurveCertificate.load(path: keys.path("a.key_secret"), requireSecret: true)
        try good.replacingOccurrences(of: original.publicKey, with: other.publicKey).write(toFile: mixed, atomically: true, encoding: .utf8)
        chmod(mixed, 0o600)
        let mismatch = #expect(throws: CertificateError.self) { try CurveCertificate.load(path: mixed, requireSecret: true) }
        #expect(mismatch?.description.contains("does not belong") == true)
    }

    @Test func certificatesInteroperateWithPyzmq() throws {
        let keys = try TestKeys()
        let ours = try keys.pair("swift")
        // pyzmq reads ours and writes its own.
        let script = """
            import sys, os, zmq.auth
            pub, sec = zmq.auth.load_certificate(sys.argv[1] + ".key_secret")
            pub2, none = zmq.auth.load_certificate(sys.argv[1] + ".key")
            print(pub.decode(), sec.decode(), pub2.decode(), none)
            p, s = zmq.auth.create_certificates(sys.argv[2], "py")
            os.chmod(s, 0o600)
            """
        let out = try TestSupport.run(TestSupport.python, ["-c", script, keys.path("swift"), keys.folder.path])
        #expect(out.status == 0, "\(out.stderr)")
        let words = out.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(words == [ours.publicKey, ours.secretKey ?? "", ours.publicKey, "None"])
        let theirs = try CurveCertificate.load(path: keys.path("py.key_secret"), requireSecret: true)
        #expect(try CurveCertificate.load(path: keys.path("py.key"), requireSecret: false).publicKey == theirs.publicKey)
        #expect(CurveCertificate.publicKey(ofSecret: theirs.secretKey ?? "") == theirs.publicKey)
    }
}

@Suite(.serialized) struct CurveSocketTests {
    /// A CURVE server PUB (domain "test") with `allowed` keys and a monitor, publishing `data` continuously.
    struct Server {
        let context: BusContext
        let zap: ZapHandler
        let publisher: Publisher
        let events: EventLog
        let feeding: Locked<Bool>

        init(keys: TestKeys, allowed: [String], fault: ZapHandler.FaultInjection? = nil) throws {
            context = try BusContext()
            let known = try allowed.map { try CurveCertificate.load(path: keys.path($0 + ".key"), requireSecret: false).publicKey }
            zap = try ZapHandler(context: context, allowed: ["test": Set(known)], fault: fault)
            events = EventLog()
            var options = Publisher.Options()
            options.curve = try CurveSecurity(certificate: try CurveCertificate.load(path: keys.path("server.key_secret"), requireSecret: true), domain: "test")
            options.events = events.sink
            options.lingerMs = 0
            let publisher = try Publisher(context: context, endpoint: "tcp://127.0.0.1:*", options: options)
            self.publisher = publisher
            // Its own thread: a loaded test run can starve the cooperative pool.
            let feeding = Locked(true)
            self.feeding = feeding
            Thread {
                while feeding.current {
                    publisher.send(topic: "data", payload: [1, 2, 3])
                    usleep(20_000)
                }
            }.start()
        }

        func stop() {
            feeding.withLock { $0 = false }
            publisher.close()
            zap.close()
        }
    }

    func client(_ endpoint: String, keys: TestKeys, own: String?, server: String = "server") throws -> Subscriber {
        var options = Subscriber.Options()
        options.topics = ["data"]
        if let own {
            options.curve = try CurveSecurity(certificate: try CurveCertificate.load(path: keys.path(own + ".key_secret"), requireSecret: true),
                                              serverKeys: [try CurveCertificate.load(path: keys.path(server + ".key"), requireSecret: false).publicKey])
        }
        return try Subscriber(context: try BusContext(), endpoint: endpoint, options: options)
    }

    @Test func onlyAllowedClientsReceiveAndEveryRefusalIsCounted() async throws {
        let keys = try TestKeys()
        for name in ["server", "good", "stranger", "impostor"] { try keys.pair(name) }
        let server = try Server(keys: keys, allowed: ["good"])
        defer { server.stop() }
        let endpoint = server.publisher.endpoints[0]
        let good = try client(endpoint, keys: keys, own: "good")
        let stranger = try client(endpoint, keys: keys, own: "stranger")
        let plain = try client(endpoint, keys: keys, own: nil)
        let wrongServer = try client(endpoint, keys: keys, own: "good", server: "impostor")
        async let g = receiveCount(good, topic: "data", atLeast: 5, within: 60)
        async let s = receiveCount(stranger, topic: "data", atLeast: 1, within: 3)
        async let p = receiveCount(plain, topic: "data", atLeast: 1, within: 3)
        async let w = receiveCount(wrongServer, topic: "data", atLeast: 1, within: 3)
        let (goodCount, strangerCount, plainCount, wrongCount) = await (g, s, p, w)
        #expect(goodCount >= 5)
        #expect(strangerCount == 0)
        #expect(plainCount == 0)
        #expect(wrongCount == 0)
        // A plain client is seen as a mechanism mismatch, or as an incomplete handshake when it
        // noticed the mismatch first and hung up before the server read its greeting.
        func plainRefusals() -> Int {
            server.events.failures(SocketEvent.mechanismMismatch) + server.events.failures(SocketEvent.handshakeIncomplete)
        }
        // Under a loaded run the refused handshakes may still be on their way: wait for them (bounded).
        for _ in 0..<300 {
            let zapRefused = server.zap.refusals.contains { $0.reason == "unknown_key" }
            if zapRefused, plainRefusals() >= 1, server.events.failures(SocketEvent.cryptographic) >= 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let refusals = Dictionary(uniqueKeysWithValues: server.zap.refusals.map { ("\($0.domain)|\($0.reason)", $0.count) })
        #expect((refusals["test|unknown_key"] ?? 0) >= 1, "\(refusals)")
        #expect(plainRefusals() >= 1, "\(server.events.all)")
        #expect(server.events.failures(SocketEvent.cryptographic) >= 1, "\(server.events.all)")
        #expect(server.zap.admittedCount >= 1)
    }

    @Test func aCurveServerWithoutAZapHandlerRefusesToOpen() throws {
        let keys = try TestKeys()
        try keys.pair("server")
        var options = Publisher.Options()
        options.curve = try CurveSecurity(certificate: try CurveCertificate.load(path: keys.path("server.key_secret"), requireSecret: true))
        let error = #expect(throws: BusError.self) { try Publisher(context: try BusContext(), endpoint: "tcp://127.0.0.1:*", options: options) }
        #expect(error?.description.contains("ZAP") == true)
        // A second handler on the same context cannot start.
        let context = try BusContext()
        let first = try ZapHandler(context: context, allowed: [:])
        defer { first.close() }
        #expect(throws: BusError.self) { try ZapHandler(context: context, allowed: [:]) }
    }

    @Test func aFailedZapHandlerAdmitsNobodyAndSaysSo() async throws {
        let keys = try TestKeys()
        for name in ["server", "good"] { try keys.pair(name) }
        let server = try Server(keys: keys, allowed: ["good"], fault: .init(failAfter: 0))
        defer { server.stop() }
        let good = try client(server.publisher.endpoints[0], keys: keys, own: "good")
        let failure = await server.zap.failure()
        #expect(failure?.contains("injected") == true)
        #expect(!server.context.zapRunning)
        #expect(await receiveCount(good, topic: "data", atLeast: 1, within: 2) == 0)
        // No new CURVE server can open on this context any more.
        var options = Publisher.Options()
        options.curve = try CurveSecurity(certificate: try CurveCertificate.load(path: keys.path("server.key_secret"), requireSecret: true))
        #expect(throws: BusError.self) { try Publisher(context: server.context, endpoint: "tcp://127.0.0.1:*", options: options) }
    }

    @Test func anEmptyAllowListAdmitsNobodyUntilReloaded() async throws {
        let keys = try TestKeys()
        for name in ["server", "good"] { try keys.pair(name) }
        let server = try Server(keys: keys, allowed: [])
        defer { server.stop() }
        let endpoint = server.publisher.endpoints[0]
        #expect(await receiveCount(try client(endpoint, keys: keys, own: "good"), topic: "data", atLeast: 1, within: 2) == 0)
        // Added: a new connection is admitted.
        let goodKey = try CurveCertificate.load(path: keys.path("good.key"), requireSecret: false).publicKey
        server.zap.setAllowed([goodKey], domain: "test")
        let admitted = try client(endpoint, keys: keys, own: "good")
        #expect(await receiveCount(admitted, topic: "data", atLeast: 5, within: 60) >= 5)
        // Removed: new connections are refused again.
        server.zap.setAllowed([], domain: "test")
        #expect(await receiveCount(try client(endpoint, keys: keys, own: "good"), topic: "data", atLeast: 1, within: 2) == 0)
    }

    @Test func anOversizeMessageDisconnectsOnlyItsSender() async throws {
        let context = try BusContext()
        let events = EventLog()
        var options = Subscriber.Options()
        options.mode = .bind
        options.topics = ["ok", "big"]
        options.hardening = SocketHardening(maxMessageSize: 1_000)
        options.events = events.sink
        let subscriber = try Subscriber(context: context, endpoint: "tcp://127.0.0.1:*", options: options)
        defer { subscriber.close() }
        var pubOptions = Publisher.Options()
        pubOptions.mode = .connect
        pubOptions.lingerMs = 0
        let honest = try Publisher(context: context, endpoint: subscriber.endpoints[0], options: pubOptions)
        let bully = try Publisher(context: context, endpoint: subscriber.endpoints[0], options: pubOptions)
        defer { honest.close(); bully.close() }
        var iterator = subscriber.messages.makeAsyncIterator()
        // Wait until both are connected and subscribed.
        var heard: Set<String> = []
        let warm = Task {
            while !Task.isCancelled {
                honest.send(topic: "ok", payload: [0])
                bully.send(topic: "big", payload: [0])
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        while heard.count < 2, let m = await iterator.next() { heard.insert(m.topic ?? "") }
        warm.cancel()
        _ = await warm.value
        // The bully sends one message above the limit, then small ones; the honest sender keeps going.
        bully.send(topic: "big", payload: [UInt8](repeating: 7, count: 5_000))
        var honestAfter = 0
        var oversizeDelivered = false
        let feed = Task {
            for i in 0..<100 where !Task.isCancelled {
                honest.send(topic: "ok", payload: [UInt8(i % 250) + 1])
                try? await Task.sleep(for: .milliseconds(10))
            }
            honest.send(topic: "ok", payload: [255])
        }
        while let m = await iterator.next() {
            if m.topic == "big", m.payload.count > 1_000 { oversizeDelivered = true }
            if m.topic == "ok", m.payload != [0] { honestAfter += 1 }
            if m.topic == "ok", m.payload == [255] { break }
        }
        _ = await feed.value
        #expect(!oversizeDelivered)
        #expect(honestAfter == 101, "the honest publisher lost messages while the bully was cut off")
        #expect(events.disconnects >= 1, "\(events.all)")
    }
}
