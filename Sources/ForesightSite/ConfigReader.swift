import Foundation
import Synchronization
import Yams

/// Yams' parser crashed when several documents were parsed concurrently (seen in parallel tests);
/// configuration is parsed rarely, so parsing is simply serialized.
private let yamlParseLock = Mutex<Void>(())

/// One node of a parsed YAML configuration document, with the key path that led to it.
///
/// `ConfigNode` is the small, strict reader that both the site calibration and the simulator's
/// scenario files use: every accessor validates type and range and reports the full key path.
public struct ConfigNode {
    let node: Node
    /// Dotted key path of this node from the document root (empty for the root).
    public let path: String

    init(node: Node, path: String) {
        self.node = node
        self.path = path
    }

    /// Parses YAML text into its root node. `source` names the text in error messages.
    public static func parse(yaml: String, source: String) throws(ConfigError) -> ConfigNode {
        let parsed: Result<Node?, any Error> = yamlParseLock.withLock { _ in
            Result { try Yams.compose(yaml: yaml) }
        }
        let root: Node?
        switch parsed {
        case .success(let node): root = node
        case .failure(let error): throw .syntax(source: source, reason: shortReason(String(describing: error)))
        }
        guard let root else { throw .syntax(source: source, reason: "the document is empty") }
        return ConfigNode(node: root, path: "")
    }

    /// A YAML parser message without the document excerpt it quotes: its first line and the
    /// position (`… (line 3, column 1)`).
    static func shortReason(_ text: String) -> String {
        let first = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? text
        if let range = text.range(of: #"in line [0-9]+, column [0-9]+"#, options: .regularExpression) {
            return first + " (" + text[range].replacingOccurrences(of: "in line", with: "line") + ")"
        }
        return first
    }

    /// Reads and parses a YAML file.
    public static func load(path: String) throws(ConfigError) -> ConfigNode {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        return try parse(yaml: text, source: path)
    }

    /// The path used in messages ("document root" for the root).
    var shownPath: String { path.isEmpty ? "document root" : path }

    /// This node as a mapping whose keys are checked with `ConfigMapping.finish()`.
    public func mapping() throws(ConfigError) -> ConfigMapping {
        guard case let .mapping(map) = node else { throw .wrongType(key: shownPath, expected: "a mapping (key: value)") }
        var entries: [(String, Node)] = []
        for (key, value) in map {
            guard let name = key.scalar?.string else { throw .wrongType(key: shownPath, expected: "string keys") }
            if entries.contains(where: { $0.0 == name }) { throw .invalid(key: child(name), reason: "duplicate key") }
            entries.append((name, value))
        }
        return ConfigMapping(path: path, entries: entries)
    }

    /// This node as a list of nodes.
    public func list() throws(ConfigError) -> [ConfigNode] {
        guard case let .sequence(seq) = node else { throw .wrongType(key: shownPath, expected: "a list") }
        return seq.enumerated().map { ConfigNode(node: $1, path: "\(path)[\($0)]") }
    }

    /// This node as a finite number.
    public func double() throws(ConfigError) -> Double {
        guard let text = node.scalar?.string, let value = Double(text.trimmingCharacters(in: .whitespaces)) else {
            throw .wrongType(key: shownPath, expected: "a number")
        }
        guard value.isFinite else { throw .invalid(key: shownPath, reason: "must be a finite number") }
        return value
    }

    /// This node as an integer.
    public func int() throws(ConfigError) -> Int {
        guard let text = node.scalar?.string, let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw .wrongType(key: shownPath, expected: "an integer")
        }
        return value
    }

    /// This node as a string scalar.
    public func string() throws(ConfigError) -> String {
        guard let scalar = node.scalar else { throw .wrongType(key: shownPath, expected: "a string") }
        return scalar.string
    }

    /// This node as a boolean (`true`/`false`).
    public func bool() throws(ConfigError) -> Bool {
        switch node.scalar?.string.lowercased() {
        case "true": return true
        case "false": return false
        default: throw .wrongType(key: shownPath, expected: "true or false")
        }
    }

    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

/// A YAML mapping being read: remembers which keys were consumed so that `finish()` can reject
/// unknown keys (typos) with the list of allowed ones.
public final class ConfigMapping {
    /// Dotted key path of this mapping.
    public let path: String
    private let entries: [(String, Node)]
    private var known: Set<String> = []

    init(path: String, entries: [(String, Node)]) {
        self.path = path
        self.entries = entries
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The node at `key`, or nil when absent. Marks the key as known.
    public func optional(_ key: String) -> ConfigNode? {
        known.insert(key)
        guard let entry = entries.first(where: { $0.0 == key }) else { return nil }
        if case .scalar(let scalar) = entry.1, scalar.string == "~" || scalar.string == "null" { return nil }
        return ConfigNode(node: entry.1, path: childPath(key))
    }

    /// The node at `key`; throws `missing` when absent.
    public func required(_ key: String) throws(ConfigError) -> ConfigNode {
        guard let node = optional(key) else { throw missing(key) }
        return node
    }

    /// A nested mapping.
    public func mapping(_ key: String) throws(ConfigError) -> ConfigMapping {
        try required(key).mapping()
    }

    /// A number, optionally defaulted, checked against `range` (inclusive bounds).
    public func double(_ key: String, default value: Double? = nil,
                       in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude,
                       positive: Bool = false) throws(ConfigError) -> Double {
        let result: Double
        if let node = optional(key) { result = try node.double() } else if let value { result = value } else {
            throw missing(key)
        }
        if positive && !(result > 0) { throw .invalid(key: childPath(key), reason: "must be > 0 (got \(result))") }
        guard range.contains(result) else {
            throw .invalid(key: childPath(key), reason: "must be within \(range.lowerBound)...\(range.upperBound) (got \(result))")
        }
        return result
    }

    /// An integer, optionally defaulted, checked against `range`.
    public func int(_ key: String, default value: Int? = nil, in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigError) -> Int {
        let result: Int
        if let node = optional(key) { result = try node.int() } else if let value { result = value } else {
            throw missing(key)
        }
        guard range.contains(result) else {
            if range.upperBound == Int.max {
                throw .invalid(key: childPath(key), reason: "must be >= \(range.lowerBound) (got \(result))")
            }
            throw .invalid(key: childPath(key), reason: "must be within \(range.lowerBound)...\(range.upperBound) (got \(result))")
        }
        return result
    }

    /// A string, optionally defaulted; when `oneOf` is given the value must be one of them.
    public func string(_ key: String, default value: String? = nil, oneOf choices: [String]? = nil) throws(ConfigError) -> String {
        let result: String
        if let node = optional(key) { result = try node.string() } else if let value { result = value } else {
            throw missing(key)
        }
        if let choices, !choices.contains(result) {
            throw .invalid(key: childPath(key), reason: "must be one of \(choices.joined(separator: ", ")) (got \"\(result)\")")
        }
        if result.isEmpty { throw .invalid(key: childPath(key), reason: "must not be empty") }
        return result
    }

    /// A boolean, optionally defaulted.
    public func bool(_ key: String, default value: Bool? = nil) throws(ConfigError) -> Bool {
        if let node = optional(key) { return try node.bool() }
        if let value { return value }
        throw missing(key)
    }

    /// A list of exactly `count` numbers (any count when nil).
    public func doubles(_ key: String, count: Int?, default value: [Double]? = nil) throws(ConfigError) -> [Double] {
        guard let node = optional(key) else {
            if let value { return value }
            throw missing(key)
        }
        let items = try node.list()
        if let count, items.count != count {
            throw .invalid(key: childPath(key), reason: "must be a list of \(count) numbers (got \(items.count))")
        }
        var result: [Double] = []
        for item in items { result.append(try item.double()) }
        return result
    }

    /// A `[min, max]` pair with min <= max, each within `range`.
    public func interval(_ key: String, default value: ClosedRange<Double>? = nil,
                         in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
        throws(ConfigError) -> ClosedRange<Double> {
        let pair = try doubles(key, count: 2, default: value.map { [$0.lowerBound, $0.upperBound] })
        guard pair[0] <= pair[1] else { throw .invalid(key: childPath(key), reason: "must be [min, max] with min <= max (got \(pair))") }
        guard range.contains(pair[0]), range.contains(pair[1]) else {
            throw .invalid(key: childPath(key), reason: "values must be within \(range.lowerBound)...\(range.upperBound) (got \(pair))")
        }
        return pair[0]...pair[1]
    }

    /// A list of nodes (empty when absent and `optional` is true).
    public func list(_ key: String, optional isOptional: Bool = false) throws(ConfigError) -> [ConfigNode] {
        guard let node = optional(key) else {
            if isOptional { return [] }
            throw missing(key)
        }
        return try node.list()
    }

    /// Rejects any key that no accessor asked for.
    public func finish() throws(ConfigError) {
        for (key, _) in entries where !known.contains(key) {
            throw .unknownKey(key: childPath(key), allowed: Array(known))
        }
    }

    /// The error for a required `key` that is absent: when a key of this mapping looks like a
    /// misspelling of it (`input` for `inputs`), says so instead.
    func missing(_ key: String) -> ConfigError {
        // A near miss that differs in length (`input`/`inputs`) or is long enough not to be a
        // sibling key read later (`fy` is not a typo of `fx`).
        let looksLikeTypo = { (name: String) -> Bool in
            name != key && !self.known.contains(name) && ConfigError.nearest(name, in: [key]) == key
                && (name.count != key.count || key.count >= 5)
        }
        if let typo = entries.map(\.0).first(where: looksLikeTypo) {
            return .invalid(key: childPath(typo), reason: "unknown key — did you mean `\(key)`? (`\(key)` is required and missing)")
        }
        return .missing(key: childPath(key))
    }

    /// Builds an `invalid` error for `key` in this mapping (for cross-field checks).
    public func invalid(_ key: String, _ reason: String) -> ConfigError {
        .invalid(key: childPath(key), reason: reason)
    }
}
