import Foundation

/// Finds the process listening on a local TCP port (Linux: `/proc/net/tcp{,6}` for the
/// socket's inode, then `/proc/PID/fd` for the process holding it), so that "address already in
/// use" can name who holds the port.
public enum PortOwner {
    /// A process holding a port.
    public struct Holder: Sendable, Equatable, CustomStringConvertible {
        /// Process id.
        public var pid: Int32
        /// Its command line (arguments joined by spaces), or its name.
        public var command: String
        /// `pid 123 (foresight run launch/sim.yaml)`.
        public var description: String { "pid \(pid) (\(command))" }
    }

    /// The TCP port of an endpoint such as `tcp://*:5600` or `127.0.0.1:9464`, if it has one.
    public static func port(of endpoint: String) -> Int? {
        guard !endpoint.hasPrefix("ipc://"), !endpoint.hasPrefix("inproc://"),
              let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]),
              (1...65_535).contains(port) else { return nil }
        return port
    }

    /// The process listening on TCP `port`, when it can be found (it may belong to another user).
    public static func holder(ofTCPPort port: Int) -> Holder? {
        var inodes: Set<String> = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, fields[3] == "0A",
                      let hex = fields[1].split(separator: ":").last, Int(hex, radix: 16) == port else { continue }
                inodes.insert(String(fields[9]))
            }
        }
        guard !inodes.isEmpty else { return nil }
        let targets = Set(inodes.map { "socket:[\($0)]" })
        guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for name in pids {
            guard let pid = Int32(name) else { continue }
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for fd in fds {
                guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                      targets.contains(link) else { continue }
                return Holder(pid: pid, command: commandLine(pid))
            }
        }
        return nil
    }

    static func commandLine(_ pid: Int32) -> String {
        if let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty {
            let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            var words = parts
            if let first = words.first { words[0] = (first as NSString).lastPathComponent }
            let line = words.joined(separator: " ")
            return line.count > 120 ? String(line.prefix(117)) + "…" : line
        }
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) ?? "?"
        return comm.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// "; port 5600 is held by pid 123 (foresight sim)" or "; another process holds port 5600".
    public static func explain(endpoint: String) -> String {
        guard let port = port(of: endpoint) else { return "; another process is bound there" }
        if let holder = holder(ofTCPPort: port) { return "; port \(port) is held by \(holder)" }
        return "; another process holds port \(port) (not visible to this user)"
    }
}
