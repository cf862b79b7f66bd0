import ArgumentParser
import Foundation
import ForesightSite

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
            TopicCommand.self,
            ImportCommand.self,
            KeygenCommand.self,
        ]
    )

    /// Entry point: catches an unknown subcommand before ArgumentParser (which would report it as
    /// "unexpected arguments") and says which one was meant.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let message = SubcommandCheck.problem(in: arguments, root: Foresight.self) {
            FileHandle.standardError.write(Data(("Error: " + message + "\n").utf8))
            Foundation.exit(64)
        }
        await Self.main(arguments)
    }
}

/// Finds an unknown subcommand name in a command line and suggests the nearest known one.
enum SubcommandCheck {
    static func name(_ command: any ParsableCommand.Type) -> String {
        command.configuration.commandName ?? String(describing: command).lowercased()
    }

    /// A message when `arguments` name a subcommand that does not exist, else nil.
    static func problem(in arguments: [String], root: any ParsableCommand.Type) -> String? {
        var command = root
        var path = [name(root)]
        for argument in arguments {
            let subcommands = command.configuration.subcommands
            guard !subcommands.isEmpty, !argument.hasPrefix("-") else { return nil }
            if argument == "help" { return nil }
            if let next = subcommands.first(where: { name($0) == argument || $0.configuration.aliases.contains(argument) }) {
                command = next
                path.append(argument)
                continue
            }
            let names = subcommands.map(name)
            // One level down too: `foresight hz` → `topic hz`.
            var nested: [String] = []
            for sub in subcommands { nested += sub.configuration.subcommands.map { "\(name(sub)) \(name($0))" } }
            let guess = ConfigError.nearest(argument, in: names)
                ?? nested.first { $0.hasSuffix(" " + argument) }
                ?? ConfigError.nearest(argument, in: nested.map { String($0.split(separator: " ").last ?? "") })
                    .flatMap { leaf in nested.first { $0.hasSuffix(" " + leaf) } }
            let hint = guess.map { ", did you mean `\(path.joined(separator: " ")) \($0)`?" } ?? "."
            return "unknown subcommand `\(argument)`\(hint)\nSubcommands of `\(path.joined(separator: " "))`: \(names.joined(separator: ", ")) (see `\(path.joined(separator: " ")) --help`)"
        }
        return nil
    }
}

/// The version printed by `foresight --version`.
enum ForesightVersion {
    static let string = "0.1.0 (wire protocol v1)"
}
