import ArgumentParser

/// The `foresight` command: every tool of the daemon behind one executable.
@main
struct Foresight: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foresight",
        abstract: "Streaming sensor fusion for sensing-assisted mmWave communications.",
        version: ForesightVersion.string,
        subcommands: []
    )
}

/// The version printed by `foresight --version`.
enum ForesightVersion {
    static let string = "0.1.0"
}
