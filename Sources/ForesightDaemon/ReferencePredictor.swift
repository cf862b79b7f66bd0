import ForesightPredict

/// A launch-time problem with `foresight run --compare KIND`.
public struct ReferenceError: Error, CustomStringConvertible {
    /// What is wrong and how to fix it.
    public let description: String
    /// Creates the error.
    public init(_ description: String) { self.description = description }
}

extension PredictorFactory {
    /// The kinds `foresight run --compare` can run beside the published predictor: the window
    /// predictors, which need nothing but the launch file's site.
    public static let referenceKinds = ["classical-ctrv", "persistence"]

    /// The reference predictor of `kind`, built like ``make(_:)`` builds that kind from the same
    /// launch file's site and `topk` (and its classical options, `radar_detections` and
    /// `member_stamps`, which the shared predictor stage applies to every predictor). It is run
    /// beside the launch file's own predictor for the live view and the final scores only and is
    /// never published.
    ///
    /// - Throws: ``ReferenceError`` when `kind` is not one of ``referenceKinds`` or is the launch
    ///   file's own predictor kind (nothing to compare).
    public static func makeReference(kind: String, launch: LaunchFile) throws -> any Predictor {
        guard referenceKinds.contains(kind) else {
            throw ReferenceError("--compare \(kind): not a reference kind; use one of \(referenceKinds.joined(separator: ", "))")
        }
        guard kind != launch.predictor.kind else {
            let other = referenceKinds.first { $0 != kind } ?? kind
            throw ReferenceError("--compare \(kind): the launch file's predictor is already \(kind); compare against another kind (e.g. --compare \(other))")
        }
        var reference = launch
        reference.predictor.kind = kind
        reference.predictor.modelDirectory = nil
        return try make(reference)
    }
}
