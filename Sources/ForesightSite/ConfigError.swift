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
    public var description: String { description(doc: nil) }

    /// The message, naming `doc` (e.g. `docs/launch.md`) as the reference for the file's keys.
    public func description(doc: String?) -> String {
        let see = doc.map { " (see \($0))" } ?? ""
        switch self {
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason); check the path and permissions"
        case let .syntax(source, reason):
            return "\(source): not valid YAML: \(reason); fix the syntax"
        case let .missing(key):
            return "\(key): required key is missing; add it\(see)"
        case let .wrongType(key, expected):
            return "\(key): expected \(expected)"
        case let .invalid(key, reason):
            return "\(key): \(reason)"
        case let .unknownKey(key, allowed):
            let name = String(key.split(separator: ".").last ?? Substring(key))
            let guess = ConfigError.nearest(name, in: allowed).map { " — did you mean `\($0)`?" } ?? ""
            return "\(key): unknown key\(guess); allowed here: \(allowed.sorted().joined(separator: ", "))\(see)"
        }
    }

    /// The candidate closest to `word` (edit distance at most 2, or one a prefix of the other).
    public static func nearest(_ word: String, in candidates: [String]) -> String? {
        let w = Array(word.lowercased())
        func distance(_ other: String) -> Int {
            let o = Array(other.lowercased())
            var row = Array(0...o.count)
            for i in 1...max(1, w.count) where !w.isEmpty {
                var previous = row[0]
                row[0] = i
                for j in 1...max(1, o.count) where !o.isEmpty {
                    let old = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (w[i - 1] == o[j - 1] ? 0 : 1))
                    previous = old
                }
            }
            return w.isEmpty ? o.count : o.isEmpty ? w.count : row[o.count]
        }
        let scored = candidates.filter { $0 != word }.map { ($0, distance($0)) }
        if let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= min(2, max(1, word.count / 3)) { return best.0 }
        return candidates.first { $0 != word && w.count >= 3 && ($0.lowercased().hasPrefix(word.lowercased()) || word.lowercased().hasPrefix($0.lowercased())) }
    }
}
