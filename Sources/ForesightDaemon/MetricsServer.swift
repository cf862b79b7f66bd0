import Foundation
import ForesightWire
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 server for `/metrics` (Prometheus text format) and `/healthz`, on its own
/// thread. It answers GET requests only and closes each connection after one response.
public final class MetricsServer: Sendable {
    /// One HTTP response.
    public struct Response: Sendable {
        /// Status code.
        public var status: Int
        /// Content-Type header.
        public var contentType: String
        /// Body.
        public var body: String

        /// Creates a response.
        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    /// Why the server could not start.
    public struct StartError: Error, CustomStringConvertible, Sendable {
        /// The address.
        public var address: String
        /// What failed.
        public var reason: String
        public var description: String { "metrics server on \(address): \(reason); change metrics.address in the launch file or free the port" }
    }

    /// The port actually bound (useful with port 0).
    public let port: Int
    private let listener: Int32
    private let stopped = Locked(false)
    private let finished = DispatchSemaphore(value: 0)

    /// Binds `address` (`host:port`) and starts serving `handler(path)`.
    public init(address: String, handler: @escaping @Sendable (String) -> Response) throws(StartError) {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { throw StartError(address: address, reason: "not host:port") }
        let host = String(parts[0])
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError(address: address, reason: String(cString: strerror(errno))) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            close(fd)
            throw StartError(address: address, reason: "'\(host)' is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw StartError(address: address, reason: reason)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.listener = fd
        let stopped = self.stopped, finished = self.finished
        let thread = Thread {
            MetricsServer.serve(listener: fd, stopped: stopped, handler: handler)
            finished.signal()
        }
        thread.name = "foresight-metrics"
        thread.start()
    }

    private static func serve(listener: Int32, stopped: Locked<Bool>, handler: @Sendable (String) -> Response) {
        while !stopped.current {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while request.count < 16_384 {
                let n = read(client, &buffer, buffer.count)
                if n <= 0 { break }
                request.append(contentsOf: buffer[0..<n])
                if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] { break }
            }
            let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
            let response: Response
            if line.count >= 2, line[0] == "GET" {
                let path = String(line[1].split(separator: "?").first ?? "/")
                response = handler(path)
            } else {
                response = Response(status: 405, body: "only GET is supported\n")
            }
            let reason = [200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][response.status] ?? "Status"
            let body = Array(response.body.utf8)
            let head = "HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: \(response.contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            let bytes = Array(head.utf8) + body
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                sent += n
            }
            close(client)
        }
        close(listener)
    }

    /// Stops serving and joins the thread. Idempotent.
    public func stop() {
        let first = stopped.withLock { s -> Bool in defer { s = true }; return !s }
        if first { finished.wait() }
    }

    deinit { stop() }
}

/// Renders counters and gauges in the Prometheus text exposition format.
public struct PrometheusText {
    private var lines: [String] = []
    private var declared: Set<String> = []

    /// An empty document.
    public init() {}

    private static func escape(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    /// Adds one sample, declaring the metric's HELP and TYPE the first time.
    public mutating func add(_ name: String, type: String, help: String, labels: [(String, String)] = [], value: Double) {
        if declared.insert(name).inserted {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) \(type)")
        }
        let labelText = labels.isEmpty ? "" : "{" + labels.map { "\($0.0)=\"\(PrometheusText.escape($0.1))\"" }.joined(separator: ",") + "}"
        let number = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        lines.append("\(name)\(labelText) \(number)")
    }

    /// The document.
    public var text: String { lines.joined(separator: "\n") + "\n" }
}
