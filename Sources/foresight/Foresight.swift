import ArgumentParser

/// The `foresight` command: every tool of the daemon behind one executable.
@main
struct Foresight: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foresight",
        abstract: "Streaming sensor fusion for sensing-assisted mmWave communications.",
        discussion: """
        Foresight subscribes to camera, radar, LiDAR, GNSS and beam-power topics over ZeroMQ, \
        synchronizes them into frames, predicts future beams, positions, power and blockage, and \
        publishes the predictions as MessagePack topics. See docs/protocol.md for the wire format.

        As is ZeroMQ custom, publishers bind and subscribers connect by default; every command \
        accepts --bind or --connect to override.
        """,
        version: ForesightVersion.string,
        subcommands: [
            EchoCommand.self,
            PubCommand.self,
            SchemaCommand.self,
            RunCommand.self,
            EvalCommand.self,
            DatasetCommand.self,
            PreprocessCommand.self,
            SimCommand.self,
            RecordCommand.self,
            ReplayCommand.self,
            BagCommand.self,
        ]
    )
}

/// The version printed by `foresight --version`.
enum ForesightVersion {
    static let string = "0.1.0 (wire protocol v1)"
}
