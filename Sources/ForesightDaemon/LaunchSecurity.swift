import Foundation
import ForesightBus
import ForesightSite

extension LaunchFile {
    /// Reads a side's optional `security:` mapping (docs/security.md):
    ///
    /// ```yaml
    /// security:
    ///   curve:
    ///     certificate: keys/daemon.key_secret   # this side's own key pair
    ///     server_certificate: keys/sim.key      # when connecting (or a list, one per endpoint)
    ///     allowed_clients: keys/controllers/    # when binding: public certificates allowed in
    /// ```
    ///
    /// Paths are relative to the launch file's folder. Only the shape is checked here; the files
    /// themselves are read and checked by ``DaemonSecurity`` before any socket binds.
    static func readSecurity(_ side: ConfigMapping, resolve: (String) -> String) throws(ConfigError) -> CurveFiles? {
        guard let security = try side.optional("security")?.mapping() else { return nil }
        var files: CurveFiles?
        if let curve = try security.optional("curve")?.mapping() {
            let certificate = resolve(try curve.string("certificate"))
            var servers: [String] = []
            if let node = curve.optional("server_certificate") {
                if let list = try? node.list() {
                    for item in list { servers.append(resolve(try item.string())) }
                    guard !servers.isEmpty else { throw curve.invalid("server_certificate", "give one public certificate, or a list with one per endpoint") }
                } else {
                    servers = [resolve(try node.string())]
                }
            }
            let allowed = try curve.optional("allowed_clients").map { node throws(ConfigError) in resolve(try node.string()) }
            try curve.finish()
            files = CurveFiles(certificate: certificate, serverCertificates: servers, allowedClients: allowed)
        }
        try security.finish()
        return files
    }
}
