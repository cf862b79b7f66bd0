import ForesightBag

/// Checks, before an evaluation runs, that a recording holds something to score: the launch
/// file's input topics and its truth topics (both with the launch file's prefix). When they are
/// missing the error lists the bag's topics beside the expected ones — a wrong `prefix:` or a bag
/// recorded without truth is then plain to see, instead of a table of dashes and exit code 0.
public enum EvaluationInput {
    /// Throws `LaunchError` unless `info` has at least one input topic and one truth topic of `launch`.
    public static func check(_ info: BagInfo, launch: LaunchFile, bagPath: String) throws {
        let inputs = launch.inputTopics
        let truth = launch.inputs.truthTopics.map { launch.prefix + $0 }
        let present = Set(info.topics.filter { $0.messageCount > 0 }.map(\.topic))
        let missingInputs = !inputs.contains(where: present.contains)
        let missingTruth = !truth.contains(where: present.contains)
        guard missingInputs || missingTruth else { return }
        throw LaunchError(report(info, expectedInputs: inputs, expectedTruth: truth, launch: launch, bagPath: bagPath,
                                 what: missingInputs && missingTruth ? "none of the input or truth topics"
                                     : missingInputs ? "none of the input topics" : "none of the truth topics"))
    }

    /// The error for a run that read the bag but assembled no frame.
    public static func noFrames(_ info: BagInfo, launch: LaunchFile, bagPath: String) -> LaunchError {
        LaunchError(report(info, expectedInputs: launch.inputTopics,
                           expectedTruth: launch.inputs.truthTopics.map { launch.prefix + $0 }, launch: launch,
                           bagPath: bagPath, what: "no frame could be assembled from"))
    }

    private static func report(_ info: BagInfo, expectedInputs: [String], expectedTruth: [String], launch: LaunchFile,
                               bagPath: String, what: String) -> String {
        var lines = ["nothing to score: \(bagPath) has \(what) the launch file \(launch.path) expects"]
        lines.append("  expected inputs: " + expectedInputs.joined(separator: ", "))
        lines.append("  expected truth:  " + (expectedTruth.isEmpty ? "(none configured)" : expectedTruth.joined(separator: ", ")))
        let listed = info.topics.map { "\($0.topic) (\($0.messageCount))" }
        lines.append("  the bag has:     " + (listed.isEmpty ? "no topics" : listed.joined(separator: ", ")))
        let bare = Set(info.topics.map(\.topic))
        let unprefixed = (expectedInputs + expectedTruth).map { String($0.dropFirst(launch.prefix.count)) }
        if !launch.prefix.isEmpty, unprefixed.contains(where: bare.contains) {
            lines.append("  the bag's topics lack the prefix '\(launch.prefix)': set `prefix: \"\"` in the launch file, or pass a launch file without it")
        } else if let (topic, name) = info.topics.lazy.compactMap({ t in
            unprefixed.first { t.topic.hasSuffix("/" + $0) }.map { (t.topic, $0) }
        }).first {
            let prefix = String(topic.dropLast(name.count))
            lines.append("  the bag's topics carry the prefix '\(prefix)': set `prefix: \"\(prefix)\"` in the launch file")
        } else if !expectedTruth.contains(where: bare.contains) {
            lines.append("  scoring needs ground truth (truth/ue, truth/beam, truth/blockage); `foresight sim --bag` records it")
        }
        return lines.joined(separator: "\n")
    }
}
