/// Why a configuration file (site calibration or simulator scenario) was rejected.
///
/// Every case names the key path (for example `radar.samples`) so that the user can find and fix
/// the offending line.
public enum ConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The text is not valid YAML.
    case syntax(source: String, reason: String)
    /// A required key is absent.
    case missing(key: String)
    /// A value has the wrong YAML type (for example a list where a number was expected).
    case wrongType(key: String, expected: String)
    /// A value is out of its allowed range or otherwise invalid.
    case invalid(key: String, reason: String)
    /// A key that the schema does not know (often a typo).
    case unknownKey(key: String, allowed: [String])

    /// A message saying what is wrong and what to do about it.
    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason); check the path and permissions"
        case let .syntax(source, reason):
            return "\(source): not valid YAML: \(reason); fix the syntax"
        case let .missing(key):
            return "\(key): required key is missing; add it (see docs/calibration.md)"
        case let .wrongType(key, expected):
            return "\(key): expected \(expected)"
        case let .invalid(key, reason):
            return "\(key): \(reason)"
        case let .unknownKey(key, allowed):
            return "\(key): unknown key; allowed here: \(allowed.sorted().joined(separator: ", "))"
        }
    }
}
