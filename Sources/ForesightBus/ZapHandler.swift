import CZeroMQ
import Dispatch
import Foundation
import ForesightWire

/// The ZeroMQ authentication handler (ZAP, RFC 27) of one context: a REP socket on
/// `inproc://zeromq.zap.01` on its own thread that answers every CURVE server socket of the
/// context, admitting a client only when its mechanism is CURVE, its ZAP domain is configured and
/// its public key is on that domain's allow-list.
///
/// Fail closed: libzmq 4.3 admits every client when no handler is bound, so CURVE server sockets
/// refuse to open unless a handler runs (``BusContext/zapRunning``). If the handler fails, it
/// keeps its socket bound and stops answering — handshakes then stall and time out, nobody is
/// admitted — and reports the failure (``failure()``) so its owner closes the CURVE sockets and exits.
public final class ZapHandler: Sendable {
    /// Why a request was refused (the `reason` label of `auth_rejected_total`).
    public enum Refusal: String, Sendable, CaseIterable {
        /// The client's key is not in the domain's allow-list.
        case unknownKey = "unknown_key"
        /// A mechanism other than CURVE (NULL, PLAIN) asked for the domain.
        case mechanism = "mechanism"
        /// A ZAP domain that no allow-list was configured for.
        case domain = "domain"
        /// A request that does not follow ZAP 1.0.
        case malformed = "malformed"
    }

    /// One refusal, reported to the `onRefusal` callback.
    public struct Rejection: Sendable, Equatable {
        /// ZAP domain (the side: `inputs`, `output`, a command name).
        public var domain: String
        /// Why.
        public var reason: Refusal
        /// The client's public key (Z85), when it sent one.
        public var key: String?
        /// The client's IP address.
        public var address: String
        /// Whether this (domain, reason, key) was seen before: log only the first.
        public var repeated: Bool
    }

    /// Test hook: the handler fails (stops answering) when it receives request number `failAfter + 1`.
    public struct FaultInjection: Sendable {
        /// Requests answered normally before the failure.
        public var failAfter: Int
        /// Creates the hook.
        public init(failAfter: Int) { self.failAfter = failAfter }
    }

    private struct State {
        var allowed: [String: Set<String>] = [:]
        var answered: Int64 = 0
        var admitted: Int64 = 0
        var refused: [String: Int64] = [:]
        var seen: Set<String> = []
        var failure: String?
        var waiters: [UInt64: CheckedContinuation<String?, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// The endpoint libzmq sends ZAP requests to.
    public static let endpoint = "inproc://zeromq.zap.01"

    private let state = Locked(State())
    private let context: BusContext
    private let stopping = Locked(false)
    private let release = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds the handler on `context` (before any CURVE server socket of that context opens)
    /// with the allow-list of each domain; `onRefusal` hears every refusal (on the handler's thread).
    /// Throws when the endpoint cannot be bound (e.g. another handler already runs in the context).
    public init(context: BusContext, allowed: [String: Set<String>],
                fault: FaultInjection? = nil,
                onRefusal: (@Sendable (Rejection) -> Void)? = nil) throws(BusError) {
        self.context = context
        state.withLock { $0.allowed = allowed }
        let ready = DispatchSemaphore(value: 0)
        let outcome = Locked<BusError?>(nil)
        let state = self.state, stopping = self.stopping, release = self.release, finished = self.finished
        let thread = Thread {
            let socket: ZMQSocket
            do throws(BusError) {
                socket = try ZMQSocket(.rep, context: context)
                try socket.set(ZMQ_RCVTIMEO, 100, name: "ZMQ_RCVTIMEO")
                try socket.set(ZMQ_LINGER, 0, name: "ZMQ_LINGER")
                try socket.attach(ZapHandler.endpoint, mode: .bind)
            } catch {
                outcome.withLock { $0 = error }
                ready.signal()
                finished.signal()
                return
            }
            context.zap.withLock { $0 = true }
            ready.signal()
            var requests = 0
            var failure: String?
            while !stopping.current {
                switch socket.receive(maxFrames: 16) {
                case .timeout:
                    continue
                case .terminated:
                    // The context is shutting down: its sockets are closing, nothing is admitted any more.
                    break
                case .message(let frames):
                    requests += 1
                    if let fault, requests > fault.failAfter {
                        failure = "injected failure (test hook) at request \(requests)"
                        break
                    }
                    let (reply, rejection) = ZapHandler.answer(frames, state: state)
                    if let rejection { onRefusal?(rejection) }
                    if !socket.send(frames: reply, dontWait: false) {
                        failure = "cannot send a ZAP reply: \(String(cString: zmq_strerror(zmq_errno())))"
                    }
                    if failure == nil { continue }
                }
                if failure == nil, !stopping.current { failure = "the ZAP socket was terminated" }
                break
            }
            context.zap.withLock { $0 = false }
            if let failure {
                // Keep the endpoint bound and unanswered (no handler bound would admit everyone)
                // until the owner has closed its CURVE sockets and calls close().
                let waiters = state.withLock { s -> [CheckedContinuation<String?, Never>] in
                    s.failure = failure
                    defer { s.waiters.removeAll() }
                    return Array(s.waiters.values)
                }
                for waiter in waiters { waiter.resume(returning: failure) }
                release.wait()
            }
            socket.close(lingerMs: 0)
            finished.signal()
        }
        thread.name = "foresight-zap"
        thread.start()
        ready.wait()
        if let error = outcome.current { throw error }
    }

    /// Builds the ZAP reply to `frames` (RFC 27: version, request id, domain, address, identity,
    /// mechanism, credentials…) and the refusal, if any.
    private static func answer(_ frames: [[UInt8]], state: Locked<State>) -> (reply: [[UInt8]], rejection: Rejection?) {
        func text(_ i: Int) -> String { i < frames.count ? String(decoding: frames[i], as: UTF8.self) : "" }
        let requestID = frames.count > 1 ? frames[1] : []
        func reply(_ code: String, _ status: String, user: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(code.utf8), Array(status.utf8), Array(user.utf8), []]
        }
        let domain = text(2), address = text(3), mechanism = text(5)
        let key = mechanism == "CURVE" && frames.count > 6 && frames[6].count == 32 ? CurveCertificate.encode(frames[6]) : nil
        var refusal: Refusal?
        let admitted = state.withLock { s -> Bool in
            if frames.count < 6 || text(0) != "1.0" {
                refusal = .malformed
            } else if mechanism != "CURVE" {
                refusal = .mechanism
            } else if s.allowed[domain] == nil {
                refusal = .domain
            } else if let key, s.allowed[domain]?.contains(key) == true {
                refusal = nil
            } else {
                refusal = key == nil ? .malformed : .unknownKey
            }
            s.answered += 1
            if let refusal { s.refused["\(domain)|\(refusal.rawValue)", default: 0] += 1 } else { s.admitted += 1 }
            return refusal == nil
        }
        if admitted, let key { return (reply("200", "OK", user: key), nil) }
        let reason = refusal ?? .malformed
        let repeated = state.withLock { s -> Bool in
            let signature = "\(domain)|\(reason.rawValue)|\(key ?? address)"
            return !s.seen.insert(signature).inserted
        }
        let status: String
        switch reason {
        case .unknownKey: status = "client key not allowed"
        case .mechanism: status = "CURVE required"
        case .domain: status = "unknown domain"
        case .malformed: status = "malformed request"
        }
        return (reply("400", status), Rejection(domain: domain, reason: reason, key: key, address: address, repeated: repeated))
    }

    /// Replaces the allow-list of `domain` (e.g. after SIGHUP). New connections are checked
    /// against it; connections already admitted stay (ZAP runs once per connection).
    public func setAllowed(_ keys: Set<String>, domain: String) {
        state.withLock { $0.allowed[domain] = keys }
    }

    /// The allow-list of `domain`.
    public func allowed(domain: String) -> Set<String> {
        state.withLock { $0.allowed[domain] ?? [] }
    }

    /// Refusals so far by domain and reason.
    public var refusals: [(domain: String, reason: String, count: Int64)] {
        state.withLock { s in
            s.refused.sorted { $0.key < $1.key }.map { entry in
                let parts = entry.key.split(separator: "|", maxSplits: 1).map(String.init)
                return (parts[0], parts.count > 1 ? parts[1] : "", entry.value)
            }
        }
    }

    /// Requests admitted so far.
    public var admittedCount: Int64 { state.withLock { $0.admitted } }

    /// Why the handler failed, or nil while it answers.
    public var failureReason: String? { state.withLock { $0.failure } }

    /// Waits until the handler fails and returns why; nil when the waiting task is cancelled
    /// first (the handler keeps running).
    public func failure() async -> String? {
        let id = state.withLock { s -> UInt64 in s.nextWaiter += 1; return s.nextWaiter }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
                let now = state.withLock { s -> String?? in
                    if let failure = s.failure { return .some(failure) }
                    if Task.isCancelled { return .some(nil) }
                    s.waiters[id] = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: nil)
        }
    }

    /// Stops answering, unbinds and joins the thread. Call after the CURVE sockets of the
    /// context are closed. Idempotent.
    public func close() {
        let first = stopping.withLock { s -> Bool in defer { s = true }; return !s }
        guard first else { return }
        release.signal()
        finished.wait()
    }

    deinit {
        close()
    }
}
