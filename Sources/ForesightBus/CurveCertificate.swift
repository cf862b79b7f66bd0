import CZeroMQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a CURVE certificate (or a folder of them) cannot be used; always names the file.
public struct CertificateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file or folder concerned.
    public var path: String
    /// What is wrong with it and what to do.
    public var problem: String

    /// Creates an error about `path`.
    public init(path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "CURVE certificate \(path): \(problem)" }
}

/// A CURVE key pair (or a public key alone) in the ZeroMQ certificate convention.
///
/// The files are the ones `zmq.auth.create_certificates` (pyzmq) and `zcert_save` (czmq) write:
/// `NAME.key` holds the public key only, `NAME.key_secret` the public and the secret key, both as
/// ZPL text (rfc.zeromq.org/spec:4) with a `curve` section:
///
/// ```
/// metadata
/// curve
///     public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
///     secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
/// ```
///
/// Keys are kept as their 40-character Z85 text, which is what libzmq's socket options accept.
public struct CurveCertificate: Sendable, Equatable {
    /// The public key, Z85 (40 characters).
    public var publicKey: String
    /// The secret key, Z85 (40 characters), when this is a key pair.
    public var secretKey: String?
    /// The file it was read from (empty for a generated pair).
    public var path: String = ""

    /// Creates a certificate from Z85 keys (checked: 40 valid Z85 characters each, and the
    /// public key must belong to the secret key).
    public init(publicKey: String, secretKey: String? = nil, path: String = "") throws(CertificateError) {
        guard Self.decode(publicKey) != nil else {
            throw CertificateError(path: path, "the public key is not 40 characters of Z85 text (got \(publicKey.count) characters)")
        }
        if let secretKey {
            guard Self.decode(secretKey) != nil else {
                throw CertificateError(path: path, "the secret key is not 40 characters of Z85 text (got \(secretKey.count) characters)")
            }
            guard let derived = Self.publicKey(ofSecret: secretKey), derived == publicKey else {
                throw CertificateError(path: path, "the public key does not belong to the secret key (the file was edited or mixed up); generate a new pair with `foresight keygen`")
            }
        }
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.path = path
    }

    /// Whether libzmq was built with CURVE (`zmq_has("curve")`).
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// A new key pair from `zmq_curve_keypair` (libsodium's random source inside libzmq).
    public static func generate() throws(CertificateError) -> CurveCertificate {
        guard isAvailable else { throw CertificateError(path: "", "this libzmq was built without CURVE (zmq_has(\"curve\") == 0)") }
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else {
            throw CertificateError(path: "", "zmq_curve_keypair failed: \(String(cString: zmq_strerror(zmq_errno())))")
        }
        return try CurveCertificate(publicKey: z85Text(pub), secretKey: z85Text(sec))
    }

    /// The 32 key bytes of a Z85 key, or nil when it is not 40 valid Z85 characters.
    public static func decode(_ z85: String) -> [UInt8]? {
        guard z85.utf8.count == 40 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        let ok = z85.withCString { zmq_z85_decode(&out, $0) } != nil
        return ok ? out : nil
    }

    /// The Z85 text of 32 key bytes.
    public static func encode(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard key.withUnsafeBufferPointer({ zmq_z85_encode(&text, $0.baseAddress, 32) }) != nil else { return nil }
        return z85Text(text)
    }

    /// The public key of a Z85 secret key (`zmq_curve_public`).
    public static func publicKey(ofSecret secret: String) -> String? {
        var pub = [CChar](repeating: 0, count: 41)
        guard secret.withCString({ zmq_curve_public(&pub, $0) }) == 0 else { return nil }
        return z85Text(pub)
    }

    /// The text of a NUL-terminated buffer filled by libzmq.
    private static func z85Text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    // MARK: Files

    /// Reads a certificate file. With `requireSecret`, the file must hold a secret key and be
    /// readable by its owner only (no group or world permission bits), as ssh insists.
    public static func load(path: String, requireSecret: Bool) throws(CertificateError) -> CurveCertificate {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw CertificateError(path: path, "\(reason); create it with `foresight keygen --out \(Self.stem(of: path))` or fix the path")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw CertificateError(path: path, "not a regular file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CertificateError(path: path, "cannot read it (\(String(cString: strerror(errno))))")
        }
        guard data.count <= 64 * 1024, let text = String(data: data, encoding: .utf8) else {
            throw CertificateError(path: path, "not a ZPL text certificate (binary or larger than 64 kB)")
        }
        let entries = try parseZPL(text, path: path)
        guard let publicKey = entries["curve/public-key"] else {
            throw CertificateError(path: path, "no `public-key` in its `curve` section; is it a ZeroMQ certificate (foresight keygen, zmq.auth.create_certificates)?")
        }
        let secretKey = entries["curve/secret-key"]
        if requireSecret, secretKey == nil {
            throw CertificateError(path: path, "holds no secret key; give this side's NAME.key_secret, not the public NAME.key")
        }
        if requireSecret, info.st_mode & 0o077 != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw CertificateError(path: path, "the secret key file is open to group or others (mode \(mode)); run `chmod 600 \(path)`")
        }
        return try CurveCertificate(publicKey: publicKey, secretKey: requireSecret ? secretKey : nil, path: path)
    }

    /// Reads every public certificate (`*.key`) in a folder, e.g. an `allowed_clients` folder.
    /// Other files are ignored (a `*.key_secret` there is refused: secrets do not belong in an
    /// allow-list). An empty folder gives an empty list (it admits nobody).
    public static func loadFolder(path: String) throws(CertificateError) -> [CurveCertificate] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CertificateError(path: path, "no such folder; create it and put the public certificates (NAME.key) of the allowed peers in it")
        }
        guard isDirectory.boolValue else { throw CertificateError(path: path, "not a folder (allowed_clients names a folder of NAME.key files)") }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw CertificateError(path: path, "cannot list the folder (\(error.localizedDescription))")
        }
        var out: [CurveCertificate] = []
        for name in names.sorted() {
            let file = (path as NSString).appendingPathComponent(name)
            if name.hasSuffix(".key_secret") {
                throw CertificateError(path: file, "a secret key file in an allow-list folder; move it out (only the public NAME.key belongs here)")
            }
            guard name.hasSuffix(".key") else { continue }
            out.append(try load(path: file, requireSecret: false))
        }
        return out
    }

    /// Writes `BASE.key` (public, mode 0644) and `BASE.key_secret` (public + secret, mode 0600)
    /// in the pyzmq/czmq layout. Refuses to replace either file unless `force`.
    public func write(base: String, force: Bool) throws(CertificateError) {
        guard let secretKey else { throw CertificateError(path: base, "no secret key to write") }
        let publicPath = base + ".key", secretPath = base + ".key_secret"
        if !force {
            for file in [publicPath, secretPath] where FileManager.default.fileExists(atPath: file) {
                throw CertificateError(path: file, "already exists; keygen never overwrites a key without --force")
            }
        }
        let stamp = ISO8601DateFormatter().string(from: Date())
        func text(secret: Bool) -> String {
            var lines = [
                "#   ****  Generated on \(stamp) by foresight keygen  ****",
                secret ? "#   ZeroMQ CURVE **Secret** Certificate" : "#   ZeroMQ CURVE Public Certificate",
                secret ? "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."
                       : "#   Exchange securely, or use a secure mechanism to verify the contents",
                secret ? "#" : "#   of this file after exchange.",
                "",
                "metadata",
                "curve",
                "    public-key = \"\(publicKey)\"",
            ]
            if secret { lines.append("    secret-key = \"\(secretKey)\"") }
            return lines.joined(separator: "\n") + "\n"
        }
        try Self.writeFile(secretPath, text(secret: true), mode: 0o600)
        try Self.writeFile(publicPath, text(secret: false), mode: 0o644)
    }

    private static func writeFile(_ path: String, _ text: String, mode: mode_t) throws(CertificateError) {
        // Created with its final mode (no window in which a secret is world-readable), replaced atomically.
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw CertificateError(path: path, "cannot create it (\(String(cString: strerror(errno))))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fchmod(fd, mode)  // the umask may have removed bits from `mode`
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CertificateError(path: path, "cannot write it (\(reason))")
        }
    }

    /// The `NAME` of `NAME.key` / `NAME.key_secret` (for advice).
    static func stem(of path: String) -> String {
        for suffix in [".key_secret", ".key"] where path.hasSuffix(suffix) { return String(path.dropLast(suffix.count)) }
        return path
    }

    /// A minimal ZPL reader: `section/name` → value for every `name = value` line, nesting by
    /// indentation (4 spaces per level, as czmq writes; any consistent indent is accepted).
    static func parseZPL(_ text: String, path: String) throws(CertificateError) -> [String: String] {
        var stack: [(indent: Int, name: String)] = []
        var out: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let indent = line.prefix { $0 == " " || $0 == "\t" }.count
            let body = line.dropFirst(indent)
            if body.isEmpty || body.hasPrefix("#") { continue }
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            if let equals = body.firstIndex(of: "=") {
                let name = body[..<equals].trimmingCharacters(in: .whitespaces)
                var value = body[body.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                if let hash = value.range(of: " #"), !value.hasPrefix("\"") { value = String(value[..<hash.lowerBound]).trimmingCharacters(in: .whitespaces) }
                if value.count >= 2, let first = value.first, first == "\"" || first == "'" {
                    guard value.last == first else {
                        throw CertificateError(path: path, "line \(number + 1): unterminated quoted value")
                    }
                    value = String(value.dropFirst().dropLast())
                }
                guard !name.isEmpty else { throw CertificateError(path: path, "line \(number + 1): a value without a name") }
                out[(stack.map(\.name) + [name]).joined(separator: "/")] = value
            } else {
                let name = body.trimmingCharacters(in: .whitespaces)
                guard name.allSatisfy({ $0.isLetter || $0.isNumber || "$-_@.&+/".contains($0) }) else {
                    throw CertificateError(path: path, "line \(number + 1) is not ZPL ('\(name.prefix(40))'); is this a ZeroMQ certificate?")
                }
                stack.append((indent, name))
            }
        }
        return out
    }
}
