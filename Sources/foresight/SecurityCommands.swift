import ArgumentParser
import ForesightBus
import Foundation

/// `foresight keygen`: writes a CURVE key pair as ZeroMQ certificate files.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: NAME.key (public) and NAME.key_secret (secret, mode 0600) (docs/security.md).",
        discussion: """
        The files follow the ZeroMQ certificate convention of pyzmq (zmq.auth.create_certificates, \
        load_certificate) and czmq (zcert): ZPL text with a `curve` section holding `public-key` \
        and, in NAME.key_secret only, `secret-key`, as Z85 text. Hand out NAME.key; keep \
        NAME.key_secret on the machine that uses it. Existing files are never replaced without --force.

        Example: foresight keygen --out keys/daemon
                 cp keys/controller.key keys/controllers/     # allow a controller in
        """
    )

    @Option(help: "Base name of the files: writes NAME.key and NAME.key_secret (the folder must exist).")
    var out: String

    @Flag(help: "Replace existing NAME.key / NAME.key_secret (the old key stops working everywhere it was trusted).")
    var force = false

    func run() throws {
        let folder = (out as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIError("--out \(out): the folder \(folder) does not exist; create it first (mkdir -p \(folder) && chmod 700 \(folder))")
            }
        }
        do {
            let pair = try CurveCertificate.generate()
            try pair.write(base: out, force: force)
            print("wrote \(out).key (public) and \(out).key_secret (secret, mode 0600)")
            print("public key: \(pair.publicKey)")
        } catch {
            throw CLIError("\(error)")
        }
    }
}

/// `--curve-secret-key`, `--curve-server-key`, `--curve-allowed-clients`: CURVE for a command's socket.
struct CurveOptions: ParsableArguments {
    @Option(help: ArgumentHelp("This command's own CURVE key pair (NAME.key_secret, mode 0600); turns CURVE on.", valueName: "file"))
    var curveSecretKey: String?

    @Option(help: ArgumentHelp("When connecting: the server's public certificate (NAME.key); repeat once per endpoint, or give one for all.", valueName: "file"))
    var curveServerKey: [String] = []

    @Option(help: ArgumentHelp("When binding: a folder of the public certificates (*.key) of the clients allowed in (empty: nobody).", valueName: "folder"))
    var curveAllowedClients: String?

    func validate() throws {
        if curveSecretKey == nil, !curveServerKey.isEmpty || curveAllowedClients != nil {
            throw ValidationError("--curve-server-key and --curve-allowed-clients need --curve-secret-key (this command's own key pair)")
        }
    }

    /// The CURVE settings of a socket in `mode` on `endpointCount` endpoints, with the ZAP handler
    /// started on `context` when it binds (nil when CURVE is off). Fail closed: if the handler
    /// dies, the command exits (status 70) and its sockets close with it.
    func setUp(context: BusContext, mode: EndpointMode, endpointCount: Int, command: String) throws -> (CurveSecurity, ZapHandler?)? {
        guard let curveSecretKey else { return nil }
        guard CurveCertificate.isAvailable else { throw CLIError("this libzmq was built without CURVE (zmq_has(\"curve\") == 0)") }
        let files = CurveFiles(certificate: curveSecretKey, serverCertificates: curveServerKey, allowedClients: curveAllowedClients)
        let loaded: CurveFiles.Loaded
        do {
            loaded = try files.load(domain: command, mode: mode, endpointCount: endpointCount)
        } catch {
            throw CLIError("\(error)".replacingOccurrences(of: "allowed_clients", with: "--curve-allowed-clients")
                .replacingOccurrences(of: "server_certificate", with: "--curve-server-key"))
        }
        guard let allowed = loaded.allowed else { return (loaded.security, nil) }
        if allowed.isEmpty { printError("\(command): warning: --curve-allowed-clients \(curveAllowedClients ?? "") holds no NAME.key: no client will be admitted") }
        let zap: ZapHandler
        do {
            zap = try ZapHandler(context: context, allowed: [command: allowed]) { rejection in
                guard !rejection.repeated else { return }
                printError("\(command): refused a client (\(rejection.reason.rawValue)) from \(rejection.address), key \(rejection.key ?? "none") (logged once per key)")
            }
        } catch {
            throw CLIError("cannot start the ZAP authentication handler (\(error)); refusing to run a CURVE server without it")
        }
        Task.detached {
            guard let reason = await zap.failure() else { return }
            printError("\(command): the ZAP authentication handler failed (\(reason)); exiting")
            Foundation.exit(70)
        }
        return (loaded.security, zap)
    }
}

/// A command's PUB socket with the ZAP handler that authenticates its clients when it binds as a
/// CURVE server (and the context both live in). Close it once, when the command is done.
struct SecuredPublisher {
    /// The ZeroMQ context of the socket and the handler.
    let context: BusContext
    /// The socket.
    let publisher: Publisher
    /// The ZAP handler (nil without CURVE, or when connecting).
    let zap: ZapHandler?

    /// Closes the socket, then the ZAP handler.
    func close() {
        publisher.close()
        zap?.close()
    }
}

extension CurveOptions {
    /// Opens `command`'s PUB socket on `endpoint` in `mode` with these CURVE settings (and its ZAP
    /// handler when it binds as a server). A port already in use is reported with `advice`.
    func openPublisher(endpoint: String, mode: EndpointMode, command: String, advice: String) throws -> SecuredPublisher {
        var options = Publisher.Options()
        options.mode = mode
        let context = try BusContext()
        let secured = try setUp(context: context, mode: mode, endpointCount: 1, command: command)
        options.curve = secured?.0
        do {
            return SecuredPublisher(context: context, publisher: try Publisher(context: context, endpoint: endpoint, options: options),
                                    zap: secured?.1)
        } catch {
            secured?.1?.close()
            throw advise(error, advice)
        }
    }
}
