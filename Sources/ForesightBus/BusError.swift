import CZeroMQ

/// A ZeroMQ failure: the operation, the endpoint involved, zmq's errno and its message.
public struct BusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being done (`bind`, `connect`, `socket`, `setsockopt ZMQ_SNDHWM`, …).
    public var operation: String
    /// The endpoint, when the operation had one.
    public var endpoint: String
    /// zmq's errno.
    public var errno: Int32
    /// `zmq_strerror(errno)`.
    public var message: String
    /// What to do, when the command knows better than the generic advice (set by the CLI).
    public var advice: String?

    /// Creates an error from the current `zmq_errno()`.
    public init(_ operation: String, endpoint: String = "", errno: Int32 = zmq_errno()) {
        self.operation = operation
        self.endpoint = endpoint
        self.errno = errno
        self.message = String(cString: zmq_strerror(errno))
        self.advice = nil
    }

    /// Whether this is a bind that failed because the address is taken.
    public var isAddressInUse: Bool { operation == "bind" && errno == EADDRINUSE }

    /// The same error with command-specific advice.
    public func advising(_ advice: String) -> BusError {
        var copy = self
        copy.advice = advice
        return copy
    }

    public var description: String {
        var text = "zmq \(operation)"
        if !endpoint.isEmpty { text += " '\(endpoint)'" }
        text += " failed: \(message) (errno \(errno))"
        if operation == "bind", errno == EADDRINUSE {
            text += PortOwner.explain(endpoint: endpoint)
            text += "; " + (advice ?? "stop it or choose another port")
        }
        if errno == EPROTONOSUPPORT || errno == EINVAL, !endpoint.isEmpty {
            text += "; endpoints look like tcp://127.0.0.1:5555, tcp://*:5555, ipc:///tmp/foresight.sock or inproc://name"
        }
        return text
    }
}
