import CZeroMQ
import Dispatch
import Foundation
import ForesightWire

/// An XSUB→XPUB forwarder on its own thread: many publishers connect to `frontend`, many
/// subscribers to `backend`, and subscriptions travel upstream. Useful as a site's message hub.
public final class BusProxy: Sendable {
    /// The bound frontend (publishers connect here) and backend (subscribers connect here).
    public let frontend: String
    /// See `frontend`.
    public let backend: String
    private let control: String
    private let context: BusContext
    private let finished = DispatchSemaphore(value: 0)
    private let stopped = Locked(false)

    /// Binds both endpoints and starts forwarding.
    public init(context: BusContext, frontend: String, backend: String) throws(BusError) {
        self.context = context
        let control = "inproc://foresight-proxy-control-\(UInt64.random(in: 0 ... .max))"
        self.control = control
        let ready = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<(String, String), BusError>?>(nil)
        let finished = self.finished
        let thread = Thread {
            let xsub: ZMQSocket, xpub: ZMQSocket, ctl: ZMQSocket
            do throws(BusError) {
                xsub = try ZMQSocket(.xsub, context: context)
                xpub = try ZMQSocket(.xpub, context: context)
                ctl = try ZMQSocket(.sub, context: context)
                try ctl.subscribe("")
                try ctl.attach(control, mode: .bind)
                try xsub.attach(frontend, mode: .bind)
                try xpub.attach(backend, mode: .bind)
            } catch {
                outcome.withLock { $0 = .failure(error) }
                ready.signal()
                finished.signal()
                return
            }
            outcome.withLock { $0 = .success((xsub.lastEndpoint, xpub.lastEndpoint)) }
            ready.signal()
            zmq_proxy_steerable(xsub.handle, xpub.handle, nil, ctl.handle)
            xsub.close(lingerMs: 0)
            xpub.close(lingerMs: 0)
            ctl.close(lingerMs: 0)
            finished.signal()
        }
        thread.name = "foresight-proxy"
        thread.start()
        ready.wait()
        switch outcome.withLock({ $0 }) {
        case .success(let (f, b))?: (self.frontend, self.backend) = (f, b)
        case .failure(let error)?: throw error
        case nil: throw BusError("start proxy thread", errno: EINVAL)
        }
    }

    /// Stops forwarding and joins the thread. Idempotent.
    public func close() {
        let first = stopped.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { return }
        if let socket = try? ZMQSocket(.pub, context: context), (try? socket.attach(control, mode: .connect)) != nil {
            // A PUB→SUB control link may lose the first message while connecting: repeat until the proxy exits.
            while finished.wait(timeout: .now() + .milliseconds(20)) == .timedOut {
                _ = socket.send(frames: [Array("TERMINATE".utf8)], dontWait: true)
            }
            socket.close(lingerMs: 0)
        } else {
            context.shutdown()
            finished.wait()
        }
    }

    deinit {
        close()
    }
}
